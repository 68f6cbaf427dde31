"""Normalising and validating what residents type into Japanese forms.

Every ``normalize_*`` / ``parse_*`` function either returns the canonical value or raises
:class:`InputError`, whose ``str()`` is a polite message that says what to fix (Japanese, or the
active language when a translation exists).
Names are only trimmed and put in NFC, which composes what was typed in pieces; rare kanji,
compatibility ideographs (which NFC alone would replace) and IVS sequences round-trip exactly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo

import jaconv
import phonenumbers

try:
    from django.core.exceptions import ValidationError as _DjangoValidationError
    from django.core.validators import EmailValidator as _EmailValidator
    from django.utils.translation import gettext, gettext_lazy, pgettext
except ImportError:  # pragma: no cover - Django is a dependency of the project
    _EMAIL_VALIDATOR = None

    def gettext(message: str) -> str:
        return message

    def pgettext(context: str, message: str) -> str:
        return message

    gettext_lazy = gettext
else:
    # No allowlist: "taro@localhost" is not an address a resident can be answered at.
    _EMAIL_VALIDATOR = _EmailValidator(allowlist=[])

JST = ZoneInfo("Asia/Tokyo")


class InputError(ValueError):
    """Invalid resident input; ``str(e)`` is the message to show next to the field. ``box`` names the boxes
    of a field made of several (a name's 姓 and 名, an address's 郵便番号 and 住所) that the message is about,
    space-separated ("given", "reading_family reading_given"); empty when it is about the whole field."""

    def __init__(self, *args, box: str = ""):
        super().__init__(*args)
        self.box = box


# --------------------------------------------------------------------------------------------
# Character-level helpers
# --------------------------------------------------------------------------------------------

_HALFWIDTH_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def to_halfwidth_ascii(s: str) -> str:
    """Full-width ASCII (U+FF01–FF5E) to ASCII and U+3000 to a space; nothing else changes."""
    return s.translate(_HALFWIDTH_ASCII)


# --------------------------------------------------------------------------------------------
# Invisible characters and control characters
# --------------------------------------------------------------------------------------------

# Every space separator, Unicode category Zs (UnicodeData.txt): U+0020, U+00A0, U+1680, U+2000–U+200A,
# U+202F, U+205F, U+3000. tests/lib/test_japanese.py checks the list against unicodedata.
SPACE_SEPARATORS = (
    "\u0020\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u202f\u205f\u3000"
)

# Characters that show nothing (or only white) on their own, trimmed from both ends of every answer so
# that an answer made only of them is empty. Sources: Unicode's Default_Ignorable_Code_Point
# (DerivedCoreProperties.txt) and the fillers that fonts draw blank.
INVISIBLE_CHARACTERS = (
    SPACE_SEPARATORS
    + "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85"  # tab and line breaks (Python's str.isspace() controls)
    + "\u2028\u2029"  # LINE SEPARATOR, PARAGRAPH SEPARATOR (Zl, Zp)
    + "\u00ad"  # SOFT HYPHEN: drawn only where a line is broken
    # COMBINING GRAPHEME JOINER: Default_Ignorable; it only changes the canonical ordering or collation of
    # the two characters around it (The Unicode Standard §23.2), so at either end it joins nothing.
    + "\u034f"
    + "\u061c\u200e\u200f"  # ARABIC LETTER MARK, LEFT-TO-RIGHT and RIGHT-TO-LEFT MARK
    + "\u115f\u1160\u3164\uffa0"  # Hangul fillers (choseong, jungseong, compatibility, half-width)
    + "\u17b4\u17b5"  # KHMER VOWEL INHERENT AQ/AA: Default_Ignorable
    + "\u180e"  # MONGOLIAN VOWEL SEPARATOR (a Zs space until Unicode 6.3)
    + "\u200b\u200c\u200d"  # ZERO WIDTH SPACE, NON-JOINER, JOINER
    + "\u2060\u2061\u2062\u2063\u2064"  # WORD JOINER and the invisible mathematical operators
    + "\u2800"  # BRAILLE PATTERN BLANK (So, but drawn as a blank: a favourite "empty" name)
    + "\ufeff"  # ZERO WIDTH NO-BREAK SPACE, the byte order mark a pasted file may bring
)
# At the start an answer may also lose what only modifies the character before it: variation selectors
# (U+FE00–U+FE0F, U+E0100–U+E01EF), Mongolian free variation selectors and tag characters. At the end they
# stay: 葛 + U+E0100 is an IVS sequence, the glyph of a name.
_INVISIBLE_CLASS = re.escape(INVISIBLE_CHARACTERS)
_LEADING_INVISIBLE_RE = re.compile(
    f"^[{_INVISIBLE_CLASS}\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0000-\U000e007f\U000e0100-\U000e01ef]+"
)


def trim_invisible(s: str) -> str:
    """`s` without the spaces and invisible characters (INVISIBLE_CHARACTERS) at either end.

    A text made only of them (U+00A0, U+3000, U+200B, U+3164, U+2800 …) becomes "": a required answer
    with nothing visible is empty. Inner characters are kept exactly; a variation selector is kept after
    its base character (葛 + U+E0100), dropped only at the very start where it modifies nothing.
    """
    return _LEADING_INVISIBLE_RE.sub("", s).rstrip(INVISIBLE_CHARACTERS)


# The control characters that never reach storage, the one definition of the class for the whole project:
# C0 and C1 controls but tab, line feed and carriage return, and the bidirectional embedding, override and
# isolate characters (U+202A–U+202E, U+2066–U+2069), which could reorder what staff read. PostgreSQL refuses
# NUL outright. Residents' answers lose them as they are read; staff texts are refused with a message
# (notifications add the Unicode line separators and the BOM to what they refuse); exports and PDFs drop them.
CONTROL_CHARACTER_CLASS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
CONTROL_CHARACTERS = re.compile(f"[{CONTROL_CHARACTER_CLASS}]")


def remove_control_characters(text: str) -> str:
    """`text` without CONTROL_CHARACTERS (what a resident pasted by mistake is dropped, the rest kept)."""
    return CONTROL_CHARACTERS.sub("", text)


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


_LINE_BREAKS_RE = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")


def clean_input(text: str, *, multiline: bool = False) -> str:
    """One text box's input as it is kept: control characters dropped (CONTROL_CHARACTERS).

    Only where text may span lines (``multiline``: a 複数行 answer) do line breaks and tabs stay; there a
    U+2028/U+2029 becomes a line feed. In a single-line box every run of line breaks and tabs becomes one
    space, so nothing a browser's <input> could not hold is kept.
    """
    if multiline:
        return remove_control_characters(text.replace("\u2028", "\n").replace("\u2029", "\n"))
    return _LINE_BREAKS_RE.sub(" ", remove_control_characters(text))


# Hyphen, dash and minus look-alikes that residents (or their IME) put in phone and postal codes.
DASHES = frozenset(
    "\u02d7"  # ˗ modifier letter minus
    "\u2010\u2011\u2012\u2013\u2014\u2015"  # ‐ ‑ ‒ – — ―
    "\u2043"  # ⁃ hyphen bullet
    "\u207b\u208b"  # ⁻ ₋
    "\u2212"  # − minus sign
    "\u2500\u2501"  # ─ ━ box drawing (an IME candidate for 「ー」)
    "\u2796"  # ➖
    "\u2e3a\u2e3b"  # ⸺ ⸻
    "\u30fc\uff70"  # ー ｰ prolonged sound marks
    "\ufe58\ufe63\uff0d"  # ﹘ ﹣ －
)
_DASH_TABLE = {ord(c): "-" for c in DASHES}


def normalize_dashes(s: str) -> str:
    """Every hyphen/dash/minus look-alike to '-'. Only for phone and postal codes."""
    return s.translate(_DASH_TABLE)


def _describe_char(c: str) -> str:
    if not c.isprintable() or c.isspace():
        return f"U+{ord(c):04X}"
    return pgettext("quoting a character", "「%(char)s」") % {"char": c}


# --------------------------------------------------------------------------------------------
# Postal codes and phone numbers
# --------------------------------------------------------------------------------------------

_POSTAL_RE = re.compile(r"([0-9]{3})(?: *- *| *)([0-9]{4})", re.ASCII)
_POSTAL_MESSAGE = gettext_lazy("郵便番号は7桁の数字で入力してください（例：680-8570）")


def normalize_postal_code(s: str) -> str:
    """'〒 ６８０－８５７０', '6808570', '680 8570' … → '680-8570'."""
    t = trim_invisible(normalize_dashes(to_halfwidth_ascii(s)))
    t = trim_invisible(t.removeprefix("〒").removeprefix("〶"))
    m = _POSTAL_RE.fullmatch(t)
    if m is None:
        raise InputError(str(_POSTAL_MESSAGE))
    return f"{m[1]}-{m[2]}"


_PHONE_MESSAGE = gettext_lazy(
    "電話番号は0から始まる10桁または11桁の数字で入力してください（例：0857-26-7111）"
)
_PHONE_ALLOWED_RE = re.compile(r"[0-9() \-]+", re.ASCII)
_PHONE_COUNTRY_RE = re.compile(r"\+ *81[ \-]*(?:\( *0 *\)[ \-]*)?", re.ASCII)


def normalize_phone(s: str) -> str:
    """A Japanese phone number in its one written form, whatever the resident typed.

    '０８５７２２８１１１', '0857(22)8111', '(0857)22-8111', '+81 857-22-8111' → '0857-22-8111'. Valid numbers
    start with 0 (not 00) and have 10 or 11 digits (a '+81' prefix stands for the leading 0); parentheses,
    spaces and any dash look-alike are separators and count for nothing. The grouping is `format_phone`'s.
    Raises InputError (Japanese).
    """
    t = trim_invisible(normalize_dashes(to_halfwidth_ascii(s)))
    t = national_phone_text(re.sub(r"\s", " ", t))
    if t is None:
        raise InputError(str(_PHONE_MESSAGE))
    if not _PHONE_ALLOWED_RE.fullmatch(t):
        raise InputError(str(_PHONE_MESSAGE))
    digits = "".join(re.findall(r"[0-9]+", t))
    if not (len(digits) in (10, 11) and digits.startswith("0") and not digits.startswith("00")):
        raise InputError(str(_PHONE_MESSAGE))
    return format_phone(digits)


def national_phone_text(t: str) -> str | None:
    """A phone number written with Japan's country code as it is dialled at home: the '+81' (and a '(0)'
    after it) stands for the trunk prefix 0. '+81 857-22-8111' → '0857-22-8111', '+81(0)3 1234 5678' →
    '03 1234 5678'; text without '+81' is returned as it is; '+81' with no digit after it gives None.
    `t` is ASCII already (to_halfwidth_ascii). Used for residents' input and for staff's searches alike."""
    m = _PHONE_COUNTRY_RE.match(t)
    if m is None:
        return t
    rest = t[m.end() :]
    first_digit = next((i for i, c in enumerate(rest) if c in "0123456789"), None)
    if first_digit is None:
        return None
    if rest[first_digit] != "0":
        rest = rest[:first_digit] + "0" + rest[first_digit:]
    return rest


def format_phone(number: str) -> str:
    """The digits of a Japanese number grouped with hyphens by its 市外局番 (area code), as 総務省's numbering
    plan has them: '0857228111' → '0857-22-8111', '0312345678' → '03-1234-5678', '09012345678' →
    '090-1234-5678', '0120123456' → '0120-123-456', '0126712345' → '01267-1-2345'.

    The area codes come from libphonenumber's metadata (the `phonenumbers` package). A number it does not
    know is grouped the same stable way every time: 11 digits 3-4-4, 10 digits 3-3-4. Anything that is not
    10 or 11 digits starting with 0 (separators aside) is returned unchanged (data stored before).

    Called for every phone cell of an export, so the library's number is built from the digits directly:
    its text parser (about half of the call) would only take the trunk prefix 0 off digits already clean.
    A number after "00" goes through the parser, as it may read that as a call abroad.
    """
    digits = "".join(c for c in to_halfwidth_ascii(number) if c in "0123456789")
    if len(digits) not in (10, 11) or not digits.startswith("0"):
        return number
    if digits[1] != "0":
        parsed = phonenumbers.PhoneNumber(country_code=81, national_number=int(digits[1:]))
    else:
        try:
            parsed = phonenumbers.parse(digits, "JP")
        except phonenumbers.NumberParseException:  # "00…" read as a call abroad to no known country
            parsed = None
    if parsed is not None and phonenumbers.is_valid_number(parsed):
        formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        if formatted.replace("-", "") == digits:
            return formatted
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


# --------------------------------------------------------------------------------------------
# Kana and free text
# --------------------------------------------------------------------------------------------

_HIRAGANA = frozenset(chr(c) for c in range(0x3041, 0x3097)) | frozenset("ゝゞ")  # ぁ–ゖ incl. ゔ ゕ ゖ
_KATAKANA = (
    frozenset(chr(c) for c in range(0x30A1, 0x30FB))  # ァ–ヺ incl. ヴ ヵ ヶ ヷ–ヺ
    | frozenset(chr(c) for c in range(0x31F0, 0x3200))  # ㇰ–ㇿ small katakana (Ainu)
    | frozenset("ヽヾ")
)
_KANA_COMMON = frozenset("ー・\u3000")
_LONG_VOWEL_AFTER = _HIRAGANA | _KATAKANA | frozenset("ー")
_KANA_SCRIPTS = {
    "hiragana": (
        gettext_lazy("ふりがなを入力してください"),
        gettext_lazy("ふりがなはひらがなで入力してください（%(char)sは使えません）"),
        _HIRAGANA | _KANA_COMMON,
    ),
    "katakana": (
        gettext_lazy("フリガナを入力してください"),
        gettext_lazy("フリガナはカタカナで入力してください（%(char)sは使えません）"),
        _KATAKANA | _KANA_COMMON,
    ),
}


def normalize_kana(s: str, script: Literal["hiragana", "katakana"], *, full_name: bool = False) -> str:
    """Furigana in the requested script, words separated by single U+3000 spaces.

    NFKC first (half-width ｶﾅ → カナ), then script conversion. A dash look-alike right after a
    kana (「コ-ヒ-」) becomes the long-vowel mark ー. With ``full_name`` (the reading of a whole name in one
    box) a space of any width must separate family and given name: InputError 「姓と名の間に空白を…」.
    """
    try:
        missing_message, wrong_script_message, allowed = _KANA_SCRIPTS[script]
    except KeyError:
        raise ValueError(f"script must be 'hiragana' or 'katakana', not {script!r}") from None
    t = unicodedata.normalize("NFKC", trim_invisible(s))
    t = jaconv.kata2hira(t) if script == "hiragana" else jaconv.hira2kata(t)
    out: list[str] = []
    for c in t:
        if (c in DASHES or c == "-") and out and out[-1] in _LONG_VOWEL_AFTER:
            c = "ー"
        out.append(c)
    t = re.sub(r"\s+", "\u3000", "".join(out)).strip()
    if not t:
        raise InputError(str(missing_message))
    for c in t:
        if c not in allowed:
            raise InputError(str(wrong_script_message) % {"char": _describe_char(c)})
    if full_name and "\u3000" not in t:
        raise InputError(gettext("姓と名の間に空白を入れてください。"))
    return t


_SINGLE_LINE_BREAKS_RE = re.compile(r"[\t\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
_CJK_COMPAT_RE = re.compile(r"[\uf900-\ufaff\U0002f800-\U0002fa1f]")
_CJK_COMPAT_SPLIT_RE = re.compile(r"([\uf900-\ufaff\U0002f800-\U0002fa1f])")


def nfc_keeping_ideographs(s: str) -> str:
    """NFC, except that CJK compatibility ideographs stay as typed.

    NFC composes what was typed in pieces (か + U+3099 → が, e + U+0301 → é), so equal text is stored
    equally. But a compatibility ideograph (神 U+FA19, 𥳐 U+2F8xx …) has a one-character canonical
    decomposition, so NFC would swap it for the unified ideograph (神 U+795E), and the glyph a resident
    chose for their name or address would be lost. Those alone are left as they are.
    """
    if not _CJK_COMPAT_RE.search(s):
        return unicodedata.normalize("NFC", s)
    parts = _CJK_COMPAT_SPLIT_RE.split(s)  # text, ideograph, text, … : the odd ones are kept
    return "".join(part if i % 2 else unicodedata.normalize("NFC", part) for i, part in enumerate(parts))


def normalize_text(s: str, *, multiline: bool = False) -> str:
    """Free text: half-width katakana → full-width, NFC (keeping compatibility ideographs), '\\n' line
    endings, trimmed of spaces and invisible characters at both ends (`trim_invisible`).

    Single-line text has its newlines and tabs collapsed to single spaces.
    """
    t = nfc_keeping_ideographs(jaconv.h2z(s, kana=True, ascii=False, digit=False))
    t = t.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        t = _SINGLE_LINE_BREAKS_RE.sub(" ", t)
    return trim_invisible(t)


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_KEPT_FORMAT_CHARS = frozenset("\u200d")  # ZWJ (emoji sequences)


def _is_forbidden_in_name(c: str) -> bool:
    if c in _KEPT_FORMAT_CHARS or "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef":
        return False  # variation selectors distinguish name glyphs (IVS): keep them
    # Cs: a lone surrogate cannot be stored or encoded as UTF-8.
    return unicodedata.category(c) in ("Cc", "Cf", "Cs")


def normalize_name(s: str, *, max_length: int = 50) -> str:
    """A name as typed, in NFC, trimmed of the spaces and invisible characters around it (`trim_invisible`:
    U+3000, U+00A0, U+200B, U+3164 …); inside, a control or format character is refused (ZWJ and variation
    selectors aside).

    NFC composes only what was typed in pieces (さ + U+3099 → ざ); 髙, 﨑, 神 (U+FA19), 𠮷 and IVS
    sequences are kept code point for code point, and no width or kana is changed (no NFKC).
    ``max_length`` counts code points.
    """
    t = nfc_keeping_ideographs(trim_invisible(s))
    bad = next((c for c in t if _is_forbidden_in_name(c)), None)
    if bad is not None:
        raise InputError(
            gettext(
                "氏名に使えない文字（改行・タブなどの制御文字 %(char)s）が含まれています。"
                "取り除いてから入力してください"
            )
            % {"char": _describe_char(bad)}
        )
    if len(t) > max_length:
        raise InputError(
            gettext("氏名は%(max)s文字以内で入力してください（現在%(length)s文字です）")
            % {"max": max_length, "length": len(t)}
        )
    return t


# --------------------------------------------------------------------------------------------
# Dates and 年度
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    name: str
    letter: str
    start: date
    end: date | None  # None: the current era


# Newest first. 明治 starts on 明治元年1月1日 of the old calendar (1868-01-25); Japan used the
# lunisolar calendar until 明治5年12月2日, so 明治1–5 dates are converted arithmetically, as
# most tools do. A new era needs a new row here (and its first day as the previous one's end + 1).
ERAS: tuple[Era, ...] = (
    Era("令和", "R", date(2019, 5, 1), None),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("明治", "M", date(1868, 1, 25), date(1912, 7, 29)),
)
_ERA_BY_TOKEN = {e.name: e for e in ERAS} | {e.letter: e for e in ERAS}

MIN_YEAR = 1868
MAX_YEAR = 2200

_DATE_FORMAT_MESSAGE = gettext_lazy("日付は 2026-04-01、2026/4/1、令和8年4月1日 のように入力してください")
_SEP = r"\s*[-/.]\s*"
_YMD_KANJI = r"\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日?"
_WESTERN_RE = re.compile(rf"([0-9]{{4}})(?:{_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})|{_YMD_KANJI})", re.ASCII)
_COMPACT_RE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII)
_ERA_RE = re.compile(
    rf"(令和|平成|昭和|大正|明治|[RHSTM])\s*(元|[0-9]{{1,3}})"
    rf"(?:{_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})|{_YMD_KANJI})",
    re.ASCII | re.IGNORECASE,
)


def _era_of(d: date) -> Era | None:
    return next((e for e in ERAS if e.start <= d), None)


def _western(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _make_date(year: int, month: int, day: int) -> date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InputError(
            gettext("年は%(min)s年から%(max)s年までの範囲で入力してください")
            % {"min": MIN_YEAR, "max": MAX_YEAR}
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError(gettext("存在しない日付です。年・月・日を確かめてください")) from None


_WEEKDAYS = "月火水木金土日"  # date.weekday() order
_WEEKDAYS_EN = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A weekday after a date, as calendars and licences print it: (水) （水） (水曜日) (水・祝) 水曜 水曜日, or in
# English (Wed) Wed Wednesday. Without brackets a Japanese weekday needs its 曜: 「…1日」 ends in 日 already.
_WEEKDAY_RE = re.compile(
    r"\s*(?:\(\s*(?P<bracketed>[月火水木金土日])(?:曜日?)?\s*(?:[・,、]\s*祝日?)?\s*\)"
    r"|(?P<plain>[月火水木金土日])曜日?"
    r"|\(?\s*(?P<en>mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?\s*\)?)$",
    re.IGNORECASE,
)


def _split_weekday(t: str) -> tuple[str, int | None]:
    """The date text without a trailing weekday, and that weekday (0 = Monday) or None."""
    m = _WEEKDAY_RE.search(t)
    if m is None or m.start() == 0:
        return t, None
    if m["en"]:
        return t[: m.start()], _WEEKDAYS_EN.index(m["en"].lower())
    return t[: m.start()], _WEEKDAYS.index(m["bracketed"] or m["plain"])


def parse_date(s: str) -> date:
    """Western (2026-04-01, 2026/4/1, 2026.4.1, 20260401, 2026年4月1日) or era dates
    (令和8年4月1日, 令和元年5月1日, R8.4.1, h31/4/30 …), full-width digits allowed, spaces and invisible
    characters around them ignored.

    A weekday may follow: （水）, (水曜日), 水曜, (Wed) …. It is checked: a weekday that is not the date's
    raises InputError naming the date's own, since one of the two was mistyped and only the resident knows
    which.

    An era date past its era's last day is the date it counts to, as documents printed before a change of
    era show it: 平成33年4月1日 (a licence's expiry) is 2021-04-01, 昭和64年1月8日 is 1989-01-08; the
    確認画面 then shows the Western date and its 令和 name to confirm (format_date_both). An era date before
    its era began (令和元年4月1日) is refused, naming the era's first day.
    """
    t = normalize_dashes(unicodedata.normalize("NFKC", trim_invisible(s)))
    t, weekday = _split_weekday(t)
    d = _parse_date_text(t)
    if weekday is not None and d.weekday() != weekday:
        raise InputError(
            gettext(
                "%(date)sは%(actual)s曜日です（%(typed)s曜日と入力されています）。日付か曜日を確かめてください"
            )
            % {"date": _western(d), "actual": _WEEKDAYS[d.weekday()], "typed": _WEEKDAYS[weekday]}
        )
    return d


def _parse_date_text(t: str) -> date:
    if m := _ERA_RE.fullmatch(t):
        era = _ERA_BY_TOKEN[m[1].upper() if len(m[1]) == 1 else m[1]]
        era_year = 1 if m[2] == "元" else int(m[2])
        month, day = (m[3], m[4]) if m[3] is not None else (m[5], m[6])
        typed = f"{era.name}{m[2] if m[2] == '元' else era_year}年{int(month)}月{int(day)}日"
        if era_year < 1:
            raise InputError(gettext("%(era)sの年は1（元年）からです") % {"era": era.name})
        d = _make_date(era.start.year + era_year - 1, int(month), int(day))
        if d < era.start:
            if era.end:
                span = gettext("%(start)sから%(end)sまで") % {
                    "start": _western(era.start),
                    "end": _western(era.end),
                }
            else:
                span = gettext("%(start)sから") % {"start": _western(era.start)}
            hint = ""
            if _era_of(d):
                hint = gettext("（%(date)sは%(wareki)sです）") % {
                    "date": _western(d),
                    "wareki": format_wareki(d),
                }
            raise InputError(
                gettext("%(typed)sという日付はありません。%(era)sは%(span)sです%(hint)s")
                % {"typed": typed, "era": era.name, "span": span, "hint": hint}
            )
        return d
    if m := _WESTERN_RE.fullmatch(t):
        year = int(m[1])
        month, day = (m[2], m[3]) if m[2] is not None else (m[4], m[5])
        return _make_date(year, int(month), int(day))
    if m := _COMPACT_RE.fullmatch(t):
        return _make_date(int(m[1]), int(m[2]), int(m[3]))
    raise InputError(str(_DATE_FORMAT_MESSAGE))


def _check_plain_date(d: date) -> None:
    if isinstance(d, datetime):
        raise TypeError("pass a date, not a datetime (convert aware datetimes to JST first)")


def format_wareki(d: date) -> str:
    """'令和8年4月1日'; an era's first year is 元年. ValueError before 明治 (1868-01-25)."""
    _check_plain_date(d)
    era = _era_of(d)
    if era is None:
        raise ValueError(f"{d.isoformat()} is before the first supported era (明治)")
    n = d.year - era.start.year + 1
    return f"{era.name}{'元' if n == 1 else n}年{d.month}月{d.day}日"


def format_date_both(d: date) -> str:
    """'2026年4月1日（令和8年4月1日）'; only the Western date before 明治."""
    _check_plain_date(d)
    if _era_of(d) is None:
        return _western(d)
    return f"{_western(d)}（{format_wareki(d)}）"


def fiscal_year(value: date | datetime) -> int:
    """年度 of a date, or of an aware datetime taken in JST. Naive datetimes: ValueError."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("fiscal_year needs an aware datetime (or a date), got a naive datetime")
        value = value.astimezone(JST).date()
    return value.year if value.month >= 4 else value.year - 1


def format_fiscal_year(fy: int) -> str:
    """2020 → '令和2年度', 2019 → '令和元年度', 2018 → '平成30年度', 1988 → '昭和63年度'.

    The era is the one in force on 31 December of ``fy``: that names 2019年度 令和元年度 by the
    usual convention, and (unlike "the era on the 年度's last day") keeps 1988年度 昭和63年度
    instead of the impossible 平成0年度.
    """
    era = _era_of(date(fy, 12, 31)) if MIN_YEAR <= fy <= 9999 else None
    if era is None:
        raise ValueError(f"no era for fiscal year {fy}")
    n = fy - era.start.year + 1
    return f"{era.name}{'元' if n == 1 else n}年度"


_FISCAL_YEAR_RE = re.compile(
    r"(?:(令和|平成|昭和|[RHS])\s*(元|[0-9]{1,2})|([0-9]{4}))\s*(?:年度|年)?", re.ASCII | re.IGNORECASE
)


def parse_fiscal_year(text: str) -> int:
    """A 年度 typed as 2026, 2026年度, 令和8年度, 令和8, R8 or 令和元年度 (full-width digits too) → 2026.

    The era year is counted from the era's first calendar year, as format_fiscal_year names it (平成31年度
    and 令和元年度 are both 2019). Raises InputError (Japanese message) for anything else, or a year outside
    1926–2200.
    """
    t = to_halfwidth_ascii(text or "").strip()
    m = _FISCAL_YEAR_RE.fullmatch(t)
    if not m:
        raise InputError(gettext("年度は 2026 や 令和8年度 のように入力してください"))
    if m[3]:
        year = int(m[3])
    else:
        era = _ERA_BY_TOKEN[m[1].upper() if len(m[1]) == 1 else m[1]]
        year = era.start.year + (1 if m[2] == "元" else int(m[2])) - 1
        if year < era.start.year or (era.end is not None and year > era.end.year):
            raise InputError(gettext("「%(typed)s」という年度はありません") % {"typed": t})
    if not 1926 <= year <= MAX_YEAR:
        raise InputError(gettext("年度は1926年度から2200年度までで入力してください"))
    return year


# --------------------------------------------------------------------------------------------
# Numbers and e-mail
# --------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_NUMBER_MESSAGE = gettext_lazy("数字で入力してください（例：1234 または 12.5）")


_GROUPED_RE = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", re.ASCII)
GROUPING_MESSAGE = gettext_lazy("カンマ（,）は3桁ごとに入れてください（例：1,234,567）")


def ungroup_digits(t: str) -> str:
    """A number's text without its thousands separators: '1,234,567' → '1234567', '1,234.5' → '1234.5'.
    Raises InputError (GROUPING_MESSAGE) when the text, its commas aside, is a number whose commas do not
    group its digits in threes ('12,34', '1,2345', '30,000,00', ',5'): a typo that, read as if the commas
    were not there, would give a number ten or a hundred times off. Any other text comes back without its
    commas, for the caller's own check of what a number is. `t` is ASCII already (to_halfwidth_ascii)."""
    if "," not in t:
        return t
    bare = t.replace(",", "")
    if _NUMBER_RE.fullmatch(bare) and not _GROUPED_RE.fullmatch(t):
        raise InputError(str(GROUPING_MESSAGE))
    return bare


def normalize_number(s: str) -> str:
    """'１，２３４．５' → '1234.5', 'ー５' → '-5'. Canonical Decimal string, never exponent form.
    Raises InputError (Japanese) for text that is not a number, or whose commas do not group its digits
    in threes (`ungroup_digits`)."""
    t = trim_invisible(to_halfwidth_ascii(s))
    if t and t[0] in DASHES:
        t = "-" + t[1:]
    t = ungroup_digits(t)
    if not _NUMBER_RE.fullmatch(t):
        raise InputError(str(_NUMBER_MESSAGE))
    try:
        value = Decimal(t)
    except InvalidOperation:  # pragma: no cover - the regex only lets plain decimals through
        raise InputError(str(_NUMBER_MESSAGE)) from None
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


# --------------------------------------------------------------------------------------------
# マイナンバー (individual numbers)
# --------------------------------------------------------------------------------------------

# Twelve digits, alone or in groups of four split by spaces or hyphens, not part of a longer number.
_INDIVIDUAL_NUMBER_RE = re.compile(
    r"(?<![0-9])(?<![0-9][ -])([0-9]{4})(?: *-? *)([0-9]{4})(?: *-? *)([0-9]{4})(?! *-? *[0-9])",
    re.ASCII,
)


def individual_number_check_digit(first_eleven: str) -> int:
    """The check digit of a マイナンバー (個人番号) whose first eleven digits are given.

    行政手続における特定の個人を識別するための番号の利用等に関する法律施行令（平成26年政令第155号）第8条:
    with Pn the n-th digit counted from the right of the eleven (n = 1 … 11) and Qn = n + 1 for n ≤ 6,
    n − 5 for n ≥ 7, the check digit is 11 − (Σ Pn × Qn mod 11), or 0 when that remainder is 0 or 1.
    ValueError unless exactly eleven ASCII digits.
    """
    if len(first_eleven) != 11 or not (first_eleven.isascii() and first_eleven.isdigit()):
        raise ValueError("eleven ASCII digits expected")
    total = sum(int(p) * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(first_eleven), start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_individual_number(digits: str) -> bool:
    """Whether twelve ASCII digits are a マイナンバー: the last one is the check digit of the first eleven
    (施行令第8条, see individual_number_check_digit). Anything else is False."""
    if len(digits) != 12 or not (digits.isascii() and digits.isdigit()):
        return False
    return individual_number_check_digit(digits[:11]) == int(digits[11])


def contains_individual_number(text: str) -> bool:
    """Whether a free-text or number answer holds a マイナンバー: twelve digits (full-width ones too), written
    together or in groups of four split by spaces (any width) or hyphens (any look-alike), that are not part
    of a longer number and whose check digit is valid (is_individual_number). The same digits with a wrong
    check digit are a plain number: False."""
    t = normalize_dashes(unicodedata.normalize("NFKC", text))
    t = re.sub(f"[{re.escape(SPACE_SEPARATORS)}]", " ", t)
    return any(is_individual_number("".join(m.groups())) for m in _INDIVIDUAL_NUMBER_RE.finditer(t))


INDIVIDUAL_NUMBER_MESSAGE = gettext_lazy(
    "マイナンバー（個人番号）は送らないでください。12桁の番号がマイナンバーでない場合は、"
    "お問い合わせ先にご連絡ください。"
)


_EMAIL_MESSAGE = gettext_lazy("メールアドレスの形式が正しくありません（例：taro@example.jp）")
_EMAIL_FALLBACK_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}",
)
# Addresses issued by docomo and au before 2009 may contain '..' or end the local part with '.'.
# They are not RFC 5322 dot-atoms, but residents still use them and the carriers deliver to them.
_LEGACY_CARRIER_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-][A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*")
_LEGACY_CARRIER_DOMAINS = ("docomo.ne.jp", "ezweb.ne.jp")


def _valid_email(address: str) -> bool:
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in address):
        return False
    local, _, domain = address.rpartition("@")
    if domain in _LEGACY_CARRIER_DOMAINS or domain.endswith(".ezweb.ne.jp"):
        if len(local) <= 64 and _LEGACY_CARRIER_LOCAL_RE.fullmatch(local):
            return True
    if _EMAIL_VALIDATOR is None:  # pragma: no cover
        return len(address) <= 320 and _EMAIL_FALLBACK_RE.fullmatch(address) is not None
    try:
        _EMAIL_VALIDATOR(address)
    except _DjangoValidationError:
        return False
    return True


def normalize_email(s: str) -> str:
    """Half-width, trimmed, domain lower-cased (the local part is case-sensitive by RFC)."""
    t = trim_invisible(to_halfwidth_ascii(s))
    if not t:
        raise InputError(gettext("メールアドレスを入力してください（例：taro@example.jp）"))
    if "@" not in t:
        raise InputError(str(_EMAIL_MESSAGE))
    local, _, domain = t.rpartition("@")
    t = f"{local}@{domain.lower()}"
    if not _valid_email(t):
        raise InputError(str(_EMAIL_MESSAGE))
    return t


def search_fold(s: str) -> str:
    """Text folded for searching: NFKC (ＡＢＣ → abc, ｶﾅ → カナ), katakana as hiragana, lower case.

    Fold both the stored text and the query, then compare: スマホ, すまほ and ｽﾏﾎ all meet.
    """
    return jaconv.kata2hira(unicodedata.normalize("NFKC", s)).lower()
