import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.lib import japanese as ja
from madoguchi.lib.japanese import (
    InputError,
    fiscal_year,
    format_date_both,
    format_fiscal_year,
    format_wareki,
    nfc_keeping_ideographs,
    normalize_dashes,
    normalize_email,
    normalize_kana,
    normalize_name,
    normalize_number,
    normalize_phone,
    normalize_postal_code,
    normalize_text,
    parse_date,
    to_halfwidth_ascii,
    trim_invisible,
)

# --------------------------------------------------------------------------------------------
# Character helpers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("ａｂｃ！～", "abc!~"),
        ("山田\u3000太郎", "山田 太郎"),
        ("ｶﾀｶﾅ　カタカナ髙﨑", "ｶﾀｶﾅ カタカナ髙﨑"),
        ("＠＃（）－", "@#()-"),
    ],
)
def test_to_halfwidth_ascii(raw: str, expected: str) -> None:
    assert to_halfwidth_ascii(raw) == expected


@pytest.mark.parametrize("dash", list("ー ｰ − ‐ ‑ ‒ – — ― － ⁃ ﹣ ﹘ ─ -".split()))
def test_normalize_dashes(dash: str) -> None:
    assert normalize_dashes(f"090{dash}1234") == "090-1234"


def test_normalize_dashes_leaves_other_text() -> None:
    assert normalize_dashes("山田太郎 ABC 123") == "山田太郎 ABC 123"


# --------------------------------------------------------------------------------------------
# Postal codes and phone numbers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "6808570",
        "680-8570",
        "〒680-8570",
        "〒 ６８０－８５７０",
        "〒６８０ー８５７０",
        "680 8570",
        "  680-8570　",
        "６８０８５７０",
        "680−8570",
    ],
)
def test_postal_code_accepted(raw: str) -> None:
    assert normalize_postal_code(raw) == "680-8570"


@pytest.mark.parametrize(
    "raw", ["", "680-857", "68085700", "680-85700", "6808-570", "abc-defg", "680--8570", "〒", "٦٨٠٨٥٧٠"]
)
def test_postal_code_rejected(raw: str) -> None:
    with pytest.raises(InputError, match="郵便番号は7桁の数字で入力してください"):
        normalize_postal_code(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0857-26-7111", "0857-26-7111"),
        ("0857267111", "0857-26-7111"),
        ("０８５７－２６－７１１１", "0857-26-7111"),
        ("0857ー26ー7111", "0857-26-7111"),
        ("0857−26−7111", "0857-26-7111"),
        ("(0857)26-7111", "0857-26-7111"),
        ("0857（26）7111", "0857-26-7111"),
        ("（０８５７）２６－７１１１", "0857-26-7111"),
        ("0857 26 7111", "0857-26-7111"),
        (" 090-1234-5678 ", "090-1234-5678"),
        ("09012345678", "090-1234-5678"),
        ("+81 90-1234-5678", "090-1234-5678"),
        ("＋８１ ９０－１２３４－５６７８", "090-1234-5678"),
        ("+81-857-26-7111", "0857-26-7111"),
        ("+81 (0)90 1234 5678", "090-1234-5678"),
        ("+819012345678", "090-1234-5678"),
        ("0120-123-456", "0120-123-456"),
        ("0800-123-4567", "0800-123-4567"),
        ("050-1234-5678", "050-1234-5678"),
        ("070-1234-5678", "070-1234-5678"),
        ("080-1234-5678", "080-1234-5678"),
        ("03-1234-5678", "03-1234-5678"),
    ],
)
def test_phone_accepted(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "123-4567",
        "0857-26-711",
        "090-1234-56789",
        "9012345678",
        "00-1234-5678",
        "03-1234-5678 内線12",
        "abc",
        "+1 415 555 0100",
        "+81",
        "090.1234.5678",
        "٠٩٠١٢٣٤٥٦٧٨",
    ],
)
def test_phone_rejected(raw: str) -> None:
    with pytest.raises(InputError, match="電話番号は"):
        normalize_phone(raw)


# --------------------------------------------------------------------------------------------
# Kana
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "script", "expected"),
    [
        ("やまだ たろう", "hiragana", "やまだ\u3000たろう"),
        ("ヤマダ　タロウ", "hiragana", "やまだ\u3000たろう"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "hiragana", "やまだ\u3000たろう"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "katakana", "ヤマダ\u3000タロウ"),
        ("やまだ　　 たろう", "katakana", "ヤマダ\u3000タロウ"),
        ("  さとう   ゆうこ　", "hiragana", "さとう\u3000ゆうこ"),
        ("ゆーこ", "hiragana", "ゆーこ"),
        ("ﾕｰｺ", "katakana", "ユーコ"),
        ("コ-ヒ-", "katakana", "コーヒー"),
        ("コ－ヒ－", "katakana", "コーヒー"),
        ("こ−ひ―", "hiragana", "こーひー"),
        ("ヴァイオリン", "hiragana", "ゔぁいおりん"),
        ("ゔぃ", "katakana", "ヴィ"),
        ("ぁぃぅぇぉっゃゅょゎ", "katakana", "ァィゥェォッャュョヮ"),
        ("ジョン・スミス", "katakana", "ジョン・スミス"),
        ("ジョン･スミス", "katakana", "ジョン・スミス"),
        ("か\u3099", "hiragana", "が"),
    ],
)
def test_kana_accepted(raw: str, script: str, expected: str) -> None:
    assert normalize_kana(raw, script) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "script", "message"),
    [
        ("山田 たろう", "hiragana", "ふりがなはひらがなで入力してください"),
        ("yamada", "hiragana", "ふりがなはひらがなで入力してください"),
        ("たろう2", "hiragana", "ふりがなはひらがなで入力してください"),
        ("ヤマダ Taro", "katakana", "フリガナはカタカナで入力してください"),
        ("-たろう", "hiragana", "ふりがなはひらがなで入力してください"),
        ("たろう!", "hiragana", "ふりがなはひらがなで入力してください"),
        ("", "hiragana", "ふりがなを入力してください"),
        ("\u3000  ", "katakana", "フリガナを入力してください"),
    ],
)
def test_kana_rejected(raw: str, script: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        normalize_kana(raw, script)  # type: ignore[arg-type]


def test_kana_message_names_the_offending_character() -> None:
    with pytest.raises(InputError, match="「山」は使えません"):
        normalize_kana("山だ", "hiragana")


def test_kana_unknown_script_is_a_programming_error() -> None:
    with pytest.raises(ValueError) as excinfo:
        normalize_kana("やまだ", "romaji")  # type: ignore[arg-type]
    assert not isinstance(excinfo.value, InputError)


# --------------------------------------------------------------------------------------------
# Free text and names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "multiline", "expected"),
    [
        ("ｶﾀｶﾅ ABC 123", False, "カタカナ ABC 123"),
        ("ｶﾞｯｺｳ｡", False, "ガッコウ。"),
        ("  一行目\r\n二行目\r三行目\n  ", True, "一行目\n二行目\n三行目"),
        ("一行目\r\n\r\n二行目\t三", False, "一行目 二行目 三"),
        ("か\u3099", False, "が"),
        ("髙﨑 𠮷野家", False, "髙﨑 𠮷野家"),
        ("\u795e社", False, "\u795e社"),
        (
            "\ufa19社と か\u3099",
            False,
            "\ufa19社と が",
        ),  # the compatibility ideograph kept, the rest composed
        ("\U0002f800", False, "\U0002f800"),
        ("葛\U000e0100城市", False, "葛\U000e0100城市"),
    ],
)
def test_normalize_text(raw: str, multiline: bool, expected: str) -> None:
    assert normalize_text(raw, multiline=multiline) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("髙橋 一郎", "髙橋 一郎"),
        ("　山﨑　花子　", "山﨑\u3000花子"),
        ("\t𠮷田 太郎\n", "𠮷田 太郎"),
        ("\ufa19田", "\ufa19田"),
        ("葛\U000e0100西", "葛\U000e0100西"),
        ("邉\U000e0103", "邉\U000e0103"),
        ("辻\ufe00", "辻\ufe00"),
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),
        ("ｶﾀｶﾅ ＡＢＣ", "ｶﾀｶﾅ ＡＢＣ"),
        ("", ""),
        # Typed in pieces (a pasted file name, some phones): composed, so it is stored like the rest.
        ("や\u307eさ\u3099き", "やまざき"),
        ("Jose\u0301", "José"),
        # …but a compatibility ideograph next to them is still the one the resident chose.
        ("\ufa19さ\u3099き", "\ufa19ざき"),
    ],
)
def test_name_kept_as_typed_in_nfc(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["山田\n太郎", "山田\t太郎", "山田\x00", "山\u200b田", "山田\u202e", "山\ufeff田", "山\ud800"]
)
def test_name_control_characters_rejected(raw: str) -> None:
    with pytest.raises(InputError, match="氏名に使えない文字"):
        normalize_name(raw)


def test_name_length_is_counted_in_code_points() -> None:
    assert normalize_name("𠮷" * 50) == "𠮷" * 50
    assert normalize_name("葛\U000e0100" * 2, max_length=4) == "葛\U000e0100" * 2
    with pytest.raises(InputError, match="50文字以内"):
        normalize_name("あ" * 51)
    with pytest.raises(InputError, match="10文字以内"):
        normalize_name("あ" * 11, max_length=10)


_NAME_WS = st.text(alphabet=" \t\n\r\u3000", max_size=3)
_NAME_CORE = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cc", "Cf", "Cs")),
        st.sampled_from("髙﨑\U00020bb7\ufa19\u200d\ufe00\ufe0f\U000e0100\U000e01ef\u3000 "),
    ),
    max_size=44,
)


@settings(max_examples=300, deadline=None)
@given(_NAME_WS, _NAME_CORE, _NAME_WS)
def test_name_property_only_strips_and_composes(before: str, core: str, after: str) -> None:
    x = before + core + after
    stripped = trim_invisible(x)
    name = normalize_name(x)
    assert name == nfc_keeping_ideographs(stripped) == normalize_name(name)
    # The same text to Unicode, every compatibility ideograph kept, and nothing else changed once composed.
    assert unicodedata.normalize("NFC", name) == unicodedata.normalize("NFC", stripped)
    assert _CJK_COMPAT.findall(name) == _CJK_COMPAT.findall(stripped)
    # And in NFC everywhere else: every stretch between compatibility ideographs is normalised.
    assert all(unicodedata.is_normalized("NFC", part) for part in _CJK_COMPAT.split(name))
    if unicodedata.is_normalized("NFC", stripped):
        assert name == stripped


_CJK_COMPAT = re.compile(r"[\uf900-\ufaff\U0002f800-\U0002fa1f]")


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-04-01", date(2026, 4, 1)),
        ("2026/4/1", date(2026, 4, 1)),
        ("2026.4.1", date(2026, 4, 1)),
        ("20260401", date(2026, 4, 1)),
        ("2026年4月1日", date(2026, 4, 1)),
        ("2026年 4月 1日", date(2026, 4, 1)),
        ("２０２６－０４－０１", date(2026, 4, 1)),
        ("２０２６／４／１", date(2026, 4, 1)),
        ("２０２６．４．１", date(2026, 4, 1)),
        ("２０２６０４０１", date(2026, 4, 1)),
        ("２０２６年４月１日", date(2026, 4, 1)),
        (" 2026-04-01 ", date(2026, 4, 1)),
        ("令和8年4月1日", date(2026, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和８年４月１日", date(2026, 4, 1)),
        ("㋿8年4月1日", date(2026, 4, 1)),
        ("R8.4.1", date(2026, 4, 1)),
        ("R8/4/1", date(2026, 4, 1)),
        ("R08.04.01", date(2026, 4, 1)),
        ("r8.4.1", date(2026, 4, 1)),
        ("Ｒ８．４．１", date(2026, 4, 1)),
        ("R元.5.1", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("S64.1.7", date(1989, 1, 7)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("T15.12.24", date(1926, 12, 24)),
        ("大正元年7月30日", date(1912, 7, 30)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("1868-01-01", date(1868, 1, 1)),
        ("2200-12-31", date(2200, 12, 31)),
        ("2024-02-29", date(2024, 2, 29)),
    ],
)
def test_parse_date_accepted(raw: str, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("令和元年4月30日", "令和は2019年5月1日からです"),
        ("令和0年5月1日", "令和の年は1（元年）からです"),
        ("平成元年1月7日", "平成は1989年1月8日から"),
        ("T1.7.29", "大正は1912年7月30日から"),
        ("2026-02-30", "存在しない日付です"),
        ("令和8年2月30日", "存在しない日付です"),
        ("2025-02-29", "存在しない日付です"),
        ("2026-13-01", "存在しない日付です"),
        ("2026-00-10", "存在しない日付です"),
        ("20260230", "存在しない日付です"),
        ("1867-12-31", "1868年から2200年まで"),
        ("2201-01-01", "1868年から2200年まで"),
        ("令和200年1月1日", "1868年から2200年まで"),
        ("", "日付は"),
        ("明日", "日付は"),
        ("26/4/1", "日付は"),
        ("2026-4", "日付は"),
        ("X8.4.1", "日付は"),
        ("2026-04-01T00:00", "日付は"),
    ],
)
def test_parse_date_rejected(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_date(raw)


def test_era_range_error_suggests_the_right_era() -> None:
    with pytest.raises(InputError, match="平成31年4月30日です"):
        parse_date("令和元年4月30日")


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 4, 1), "令和8年4月1日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1912, 7, 29), "明治45年7月29日"),
    ],
)
def test_format_wareki(d: date, expected: str) -> None:
    assert format_wareki(d) == expected


def test_format_wareki_rejects_datetime_and_pre_meiji() -> None:
    with pytest.raises(TypeError):
        format_wareki(datetime(2026, 4, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        format_wareki(date(1868, 1, 24))


def test_format_date_both() -> None:
    assert format_date_both(date(2026, 4, 1)) == "2026年4月1日（令和8年4月1日）"
    assert format_date_both(date(2019, 5, 1)) == "2019年5月1日（令和元年5月1日）"
    assert format_date_both(date(1868, 1, 1)) == "1868年1月1日"


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1868, 1, 25), max_value=date(2200, 12, 31)))
def test_dates_round_trip(d: date) -> None:
    assert parse_date(format_wareki(d)) == d
    assert parse_date(d.isoformat()) == d
    assert parse_date(f"{d.year}/{d.month}/{d.day}") == d
    assert parse_date(d.strftime("%Y%m%d")) == d
    assert format_date_both(d).startswith(f"{d.year}年{d.month}月{d.day}日（")


# --------------------------------------------------------------------------------------------
# 年度
# --------------------------------------------------------------------------------------------

JST_OFFSET = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 4, 1), 2026),
        (date(2026, 3, 31), 2025),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 1), 2026),
        (datetime(2021, 3, 31, 15, 0, tzinfo=UTC), 2021),
        (datetime(2021, 3, 31, 14, 59, 59, tzinfo=UTC), 2020),
        (datetime(2021, 4, 1, 0, 0, tzinfo=JST_OFFSET), 2021),
        (datetime(2021, 3, 31, 23, 59, 59, tzinfo=JST_OFFSET), 2020),
        (datetime(2021, 3, 31, 10, 0, tzinfo=timezone(timedelta(hours=-5))), 2021),
    ],
)
def test_fiscal_year(value: date, expected: int) -> None:
    assert fiscal_year(value) == expected


def test_fiscal_year_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError):
        fiscal_year(datetime(2021, 4, 1, 12, 0))


@pytest.mark.parametrize(
    ("fy", "expected"),
    [
        (2026, "令和8年度"),
        (2020, "令和2年度"),
        (2019, "令和元年度"),
        (2018, "平成30年度"),
        (1989, "平成元年度"),
        (1988, "昭和63年度"),
        (1926, "昭和元年度"),
        (1925, "大正14年度"),
    ],
)
def test_format_fiscal_year(fy: int, expected: str) -> None:
    assert format_fiscal_year(fy) == expected


# --------------------------------------------------------------------------------------------
# Numbers and e-mail
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", "1234"),
        ("１２３４", "1234"),
        ("１，２３４", "1234"),
        ("1,234,567", "1234567"),
        ("1,234.50", "1234.50"),
        ("１２．５", "12.5"),
        ("０．５", "0.5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("-5", "-5"),
        ("－５", "-5"),
        ("ー５", "-5"),
        ("−3.5", "-3.5"),
        ("+7", "7"),
        ("007", "7"),
        ("-0", "0"),
        ("-0.00", "0.00"),
        ("0.0000001", "0.0000001"),
        ("  42　", "42"),
    ],
)
def test_number_accepted(raw: str, expected: str) -> None:
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "abc", "1.2.3", "1e5", "NaN", "Infinity", "５円", "--5", "5-", "٣", "1 000", "¥100", ","]
)
def test_number_rejected(raw: str) -> None:
    with pytest.raises(InputError, match="数字で入力してください"):
        normalize_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("taro@example.jp", "taro@example.jp"),
        ("Taro@Example.JP", "Taro@example.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
        ("taro＠example.jp", "taro@example.jp"),
        ("  taro.yamada+city@mail.example.co.jp　", "taro.yamada+city@mail.example.co.jp"),
        ("taro..yamada.@docomo.ne.jp", "taro..yamada.@docomo.ne.jp"),
        ("taro.@EZweb.ne.jp", "taro.@ezweb.ne.jp"),
        ("user@例え.jp", "user@例え.jp"),
    ],
)
def test_email_accepted(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "taro",
        "taro@",
        "@example.jp",
        "taro@example",
        "taro@localhost",
        "taro yamada@example.jp",
        "太郎@example.jp",
        "taro..yamada@gmail.com",
        "taro@@example.jp",
        ".taro@docomo.ne.jp",
        "taro@exa\u200bmple.jp",
        "taro@\udcff.jp",
    ],
)
def test_email_rejected(raw: str) -> None:
    with pytest.raises(InputError, match="メールアドレスの形式が正しくありません"):
        normalize_email(raw)


def test_email_empty() -> None:
    with pytest.raises(InputError, match="メールアドレスを入力してください"):
        normalize_email("　")


# --------------------------------------------------------------------------------------------
# Robustness: arbitrary text only ever produces InputError
# --------------------------------------------------------------------------------------------

_PARSERS: list[Callable[[str], object]] = [
    normalize_postal_code,
    normalize_phone,
    lambda s: normalize_kana(s, "hiragana"),
    lambda s: normalize_kana(s, "katakana"),
    normalize_name,
    normalize_text,
    lambda s: normalize_text(s, multiline=True),
    parse_date,
    normalize_number,
    normalize_email,
]

# Characters the parsers look for, so that random text gets past the first checks now and then.
_INTERESTING = st.lists(
    st.one_of(
        st.sampled_from("0123456789０１２３４５６７８９-－ー−/.．年月日元"),
        st.sampled_from(["令和", "平成", "昭和", "大正", "明治", *"RHSTMr@＠,，+＋()（）〒 \u3000"]),
        st.characters(),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(), _INTERESTING))
def test_parsers_raise_only_input_error(s: str) -> None:
    for parse in _PARSERS:
        try:
            result = parse(s)
        except InputError as e:
            assert str(e)
        else:
            assert isinstance(result, (str, date))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789０１２３４５６７８９-ー（）() +", max_size=16))
def test_phone_is_idempotent(s: str) -> None:
    try:
        once = normalize_phone(s)
    except InputError:
        return
    assert normalize_phone(once) == once


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="あいうアイウｱｲｳがガｶﾞーｰ-・ 　ゃャ", max_size=12))
def test_kana_is_idempotent(s: str) -> None:
    for script in ("hiragana", "katakana"):
        try:
            once = normalize_kana(s, script)
        except InputError:
            continue
        assert normalize_kana(once, script) == once


# --------------------------------------------------------------------------------------------
# Invisible characters (issue #9, point 10)
# --------------------------------------------------------------------------------------------


def test_every_unicode_space_separator_and_the_known_blanks_are_trimmed() -> None:
    zs = {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs"}
    assert set(ja.SPACE_SEPARATORS) == zs
    blanks = "\u200b\u200c\u200d\u2060\ufeff\u3164\u115f\u1160\uffa0\u2800\u180e\u034f\u00ad"
    assert zs | set(blanks) <= set(ja.INVISIBLE_CHARACTERS)
    for char in zs | set(blanks):
        assert ja.trim_invisible(char * 3) == ""
        assert ja.trim_invisible(f"{char}山{char}田{char}") == f"山{char}田"


_VISIBLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me")).filter(
    lambda c: c not in ja.INVISIBLE_CHARACTERS
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=ja.INVISIBLE_CHARACTERS + "\ufe00\U000e0100", max_size=6),
    _VISIBLE,
    st.text(max_size=20),
    _VISIBLE,
    st.sampled_from(["", "\ufe00", "\U000e0100"]),
    st.text(alphabet=ja.INVISIBLE_CHARACTERS, max_size=6),
)
def test_trimming_keeps_everything_between_the_first_and_last_visible_character(
    before: str, first: str, inner: str, last: str, selector: str, after: str
) -> None:
    core = first + inner + last + selector  # an IVS after the last character is kept with it
    assert ja.trim_invisible(before + core + after) == core


# --------------------------------------------------------------------------------------------
# マイナンバー
# --------------------------------------------------------------------------------------------


def test_the_check_digit_of_the_cabinet_order() -> None:
    # 施行令第8条: Σ Pn × Qn over 1,0,9,8,7,6,5,4,3,2,1 (from the right) with Q = 2..7,2..6 → 8.
    assert ja.individual_number_check_digit("12345678901") == 8
    assert ja.is_individual_number("123456789018")
    assert not ja.is_individual_number("123456789017")
    assert ja.individual_number_check_digit("00000000000") == 0


_ELEVEN = st.text(alphabet="0123456789", min_size=11, max_size=11)
_SEPARATOR = st.sampled_from(["", " ", "-", "\u3000", "－", "‐", "ー", " - ", "\u00a0", "  "])
_FULL_WIDTH = {ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"}


def _spell(digits: str, separator: str, full_width: bool) -> str:
    text = separator.join((digits[:4], digits[4:8], digits[8:]))
    return text.translate(_FULL_WIDTH) if full_width else text


@settings(max_examples=300, deadline=None)
@given(_ELEVEN, _SEPARATOR, st.booleans(), st.sampled_from(["{}", "番号：{}です", "{}\n", "a {} b"]))
def test_every_valid_individual_number_is_found_in_any_spelling(
    first: str, separator: str, full_width: bool, around: str
) -> None:
    number = first + str(ja.individual_number_check_digit(first))
    assert ja.is_individual_number(number)
    assert ja.contains_individual_number(around.format(_spell(number, separator, full_width)))


@settings(max_examples=300, deadline=None)
@given(_ELEVEN, st.integers(1, 9), _SEPARATOR, st.booleans())
def test_every_wrong_check_digit_is_a_plain_number(
    first: str, shift: int, separator: str, full_width: bool
) -> None:
    wrong = first + str((ja.individual_number_check_digit(first) + shift) % 10)
    assert not ja.is_individual_number(wrong)
    assert not ja.contains_individual_number(f"番号：{_spell(wrong, separator, full_width)}です")


def test_twelve_digits_inside_a_longer_number_are_not_an_individual_number() -> None:
    assert not ja.contains_individual_number("1123456789018")
    assert not ja.contains_individual_number("1234567890189")
    assert not ja.contains_individual_number("1234-5678-9018-3456")  # a card number's first twelve


# --------------------------------------------------------------------------------------------
# Phone numbers in one form
# --------------------------------------------------------------------------------------------

_PHONES = [
    "0857-22-8111",
    "0857-26-7111",
    "03-1234-5678",
    "06-6878-1234",
    "090-1234-5678",
    "050-1234-5678",
    "0120-123-456",
    "0570-123-456",
    "01267-1-2345",
    "0859-22-1234",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_PHONES),
    st.sampled_from(["", "-", " ", "－", "ー", "‐", "\u3000"]),
    st.booleans(),
    st.sampled_from(["plain", "brackets", "+81", "+81(0)", "regroup"]),
    st.text(alphabet=ja.INVISIBLE_CHARACTERS, max_size=3),
)
def test_a_phone_number_has_one_form_however_it_is_typed(
    shown: str, separator: str, full_width: bool, style: str, blanks: str
) -> None:
    groups = shown.split("-")
    digits = "".join(groups)
    if style == "brackets":
        typed = f"({groups[0]}){groups[1]}{separator}{groups[2]}"
    elif style == "+81":
        typed = "+81 " + separator.join([groups[0][1:], *groups[1:]])
    elif style == "+81(0)":
        typed = "+81(0)" + separator.join([groups[0][1:], *groups[1:]])
    elif style == "regroup":
        typed = f"{digits[:5]}{separator or '-'}{digits[5:]}"
    else:
        typed = separator.join(groups)
    if full_width:
        typed = typed.translate(_FULL_WIDTH)
    assert ja.normalize_phone(blanks + typed + blanks) == shown
    assert ja.format_phone(digits) == shown == ja.format_phone(shown)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"0[1-9][0-9]{8,9}", fullmatch=True))
def test_any_number_is_grouped_stably(digits: str) -> None:
    shown = ja.normalize_phone(digits)
    assert shown.replace("-", "") == digits
    assert ja.normalize_phone(shown) == shown == ja.format_phone(shown)
    assert ja.normalize_phone("-".join((digits[:2], digits[2:]))) == shown


def _grouped_through_the_parser(digits: str) -> str:
    """format_phone as written before it built the library's number itself: through phonenumbers.parse."""
    try:
        parsed = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:  # "00…" read as a call abroad to no country
        parsed = None
    if parsed is not None and phonenumbers.is_valid_number(parsed):
        formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        if formatted.replace("-", "") == digits:
            return formatted
    return (
        f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
        if len(digits) == 11
        else f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    )


@settings(max_examples=2000, deadline=None)
@given(st.from_regex(r"0[0-9]{9,10}", fullmatch=True))
def test_the_grouping_is_the_library_parsers_for_any_number(digits: str) -> None:
    assert ja.format_phone(digits) == _grouped_through_the_parser(digits)


def test_the_grouping_is_the_library_parsers_for_every_area_code_prefix() -> None:
    # Every 0 + four-digit beginning (the longest 市外局番 are 0 + four digits), with two endings each,
    # in ten and eleven digits: 40,000 numbers.
    for prefix in range(10_000):
        for tail in ("00000", "98765"):
            ten = f"0{prefix:04d}{tail}"
            for digits in (ten, ten + "1"):
                assert ja.format_phone(digits) == _grouped_through_the_parser(digits), digits


# --------------------------------------------------------------------------------------------
# Dates in every supported spelling
# --------------------------------------------------------------------------------------------


def _era_spellings(d: date) -> list[str]:
    spellings = []
    for era in ja.ERAS:
        if era.start <= d:  # its own era, and earlier ones counted past their end (平成33年 = 2021)
            n = d.year - era.start.year + 1
            year = "元" if n == 1 else str(n)
            spellings += [
                f"{era.name}{year}年{d.month}月{d.day}日",
                f"{era.name} {year} 年 {d.month:02} 月 {d.day:02} 日",
            ]
            if year != "元":
                spellings += [
                    f"{era.letter}{n}.{d.month}.{d.day}",
                    f"{era.letter.lower()}{n}/{d.month}/{d.day}",
                ]
    return spellings


def _spellings(d: date) -> list[str]:
    return [
        d.isoformat(),
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}.{d.month:02}.{d.day}",
        f"{d.year}-{d.month}-{d.day}",
        f"{d.year} / {d.month} / {d.day}",
        f"{d:%Y%m%d}",
        f"{d.year}年{d.month}月{d.day}日",
        *_era_spellings(d),
    ]


_WEEKDAY_FORMS = ["（{}）", "({})", "({}曜日)", " {}曜", "{}曜日", "（{}・祝）"]


@settings(max_examples=400, deadline=None)
@given(
    st.dates(date(1900, 1, 1), date(2100, 12, 31)),
    st.data(),
    st.booleans(),
    st.sampled_from(["", *_WEEKDAY_FORMS]),
)
def test_any_date_in_any_supported_spelling_parses_back_to_itself(
    d: date, data, full_width: bool, weekday: str
):
    text = data.draw(st.sampled_from(_spellings(d)))
    if weekday:
        text += weekday.format("月火水木金土日"[d.weekday()])
    if full_width:
        text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    assert parse_date(text) == d


@settings(max_examples=200, deadline=None)
@given(st.dates(date(1900, 1, 1), date(2100, 12, 31)), st.integers(1, 6), st.sampled_from(_WEEKDAY_FORMS))
def test_a_weekday_that_is_not_the_dates_is_refused_naming_the_right_one(d: date, shift: int, form: str):
    wrong = "月火水木金土日"[(d.weekday() + shift) % 7]
    right = "月火水木金土日"[d.weekday()]
    with pytest.raises(InputError, match=f"{right}曜日です"):
        parse_date(f"{d.year}年{d.month}月{d.day}日" + form.format(wrong))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("平成33年4月1日", date(2021, 4, 1)),  # a licence printed before 令和
        ("H33.4.1", date(2021, 4, 1)),
        ("平成31年5月1日", date(2019, 5, 1)),
        ("昭和64年1月8日", date(1989, 1, 8)),
        ("令和元年5月1日（水）", date(2019, 5, 1)),
        ("令和元年５月１日(水曜日)", date(2019, 5, 1)),
        ("2019/5/1 水曜", date(2019, 5, 1)),
        ("2019-05-01 (Wed)", date(2019, 5, 1)),
        ("\u200b令和8年4月1日\u3000", date(2026, 4, 1)),
    ],
)
def test_dates_from_documents_and_calendars(typed: str, expected: date) -> None:
    assert parse_date(typed) == expected
    assert ja.format_date_both(parse_date(typed)).startswith(
        f"{expected.year}年"
    )  # the 確認画面's Western date


# --------------------------------------------------------------------------------------------
# ふりがな of a full name
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["やまだ たろう", "ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ\u00a0\u00a0たろう", "\u3000やまだ たろう "],
)
def test_the_reading_of_a_full_name_is_split_by_one_full_width_space(typed: str) -> None:
    assert ja.normalize_kana(typed, "hiragana", full_name=True) == "やまだ\u3000たろう"


def test_the_reading_of_a_full_name_needs_the_space() -> None:
    with pytest.raises(InputError, match="姓と名の間に空白を入れてください。"):
        ja.normalize_kana("やまだたろう", "hiragana", full_name=True)
    assert ja.normalize_kana("やまだたろう", "hiragana") == "やまだたろう"  # a reading of one word


@st.composite
def _commas_anywhere(draw) -> tuple[str, str, bool]:
    """Digits with commas put between some of them: (typed, the digits, whether the commas group them in
    threes from the right, as 1,234,567 does)."""
    digits = draw(st.text("0123456789", min_size=2, max_size=15).filter(lambda d: d[0] != "0"))
    at = draw(st.sets(st.integers(min_value=1, max_value=len(digits) - 1), min_size=1))
    typed = "".join(("," if i in at else "") + c for i, c in enumerate(digits))
    in_threes = at == {i for i in range(1, len(digits)) if (len(digits) - i) % 3 == 0}
    return typed, digits, in_threes


@settings(max_examples=300)
@given(case=_commas_anywhere(), full_width=st.booleans(), unit=st.sampled_from(["", "件"]))
def test_commas_are_read_only_where_they_group_digits_in_threes_in_every_number_box(case, full_width, unit):
    """A comma out of place ('12,34', '30,000,00') is a typo that would give a number ten or a hundred times
    off: refused with the same rule by a resident's number field, the secretariat's cost, weights and
    populations, and an indicator's target and actual, never read as if the comma were not there."""
    from madoguchi.stats.cost_share import whole_number
    from madoguchi.stats.indicators import IndicatorError, parse_value

    typed, digits, in_threes = case
    if full_width:
        typed = typed.translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))
    if in_threes:
        assert normalize_number(typed) == digits
        assert whole_number(typed) == int(digits)
        assert parse_value(typed + unit, what="目標値") == int(digits)
    else:
        with pytest.raises(InputError, match="カンマ（,）は3桁ごとに"):
            normalize_number(typed)
        assert whole_number(typed) is None
        with pytest.raises(IndicatorError, match="目標値のカンマ（,）は3桁ごとに"):
            parse_value(typed + unit, what="目標値")
