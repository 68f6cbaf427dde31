"""Classes of values a resident may type in a text field, generated: each stays the text typed when Excel
opens the CSV for Excel, comes back unchanged from the CSV for other systems, and no control character
reaches any file."""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from madoguchi.lib.exporting import (
    SYSTEMS,
    clean_text,
    csv_stream,
    excel_coerces,
    excel_text,
    formula_led,
    xlsx_file,
)
from tests.lib.test_exporting import excel_shows

digits = st.integers(min_value=0, max_value=10**12).map(str)
small = st.integers(min_value=1, max_value=12).map(str)
day = st.integers(min_value=1, max_value=31).map(str)
year = st.integers(min_value=1, max_value=2100).map(str)
spaces = st.sampled_from(["", " ", "  ", "\u3000"])


def grouped(number: int) -> str:
    return f"{number:,}"


# Numbers as Excel reads them: sign, parentheses, group separators, decimals, exponents, percent, currency,
# fractions.
numbers = st.one_of(
    st.from_regex(r"0[0-9]{1,15}", fullmatch=True),  # leading zeros
    st.from_regex(r"[1-9][0-9]{11,20}", fullmatch=True),  # long digits (マイナンバー, accounts)
    digits,
    st.builds(lambda s, n: s + n, st.sampled_from(["-", "+", ""]), digits),
    st.builds(lambda n: f"({n})", digits),
    st.integers(min_value=1000, max_value=10**9).map(grouped),
    st.builds(lambda a, b: f"{a}.{b}", digits, digits),
    st.builds(
        lambda m, e, s, k: f"{m}{e}{s}{k}",
        digits,
        st.sampled_from(["e", "E"]),
        st.sampled_from(["", "+", "-"]),
        st.integers(min_value=0, max_value=300),
    ),
    st.builds(lambda n: f"{n}%", digits),
    st.builds(
        lambda c, n, after: f"{n}{c}" if after else f"{c}{n}",
        st.sampled_from(["¥", "￥", "$", "\\", "€", "£", "円"]),
        st.integers(min_value=0, max_value=10**7).map(grouped),
        st.booleans(),
    ),
    st.builds(lambda w, a, b: f"{w} {a}/{b}", digits, small, small),
    st.builds(lambda a, b: f"{a}/{b}", small, small),
)
# Dates and times as Excel reads them, Japanese ones included.
dates = st.one_of(
    st.builds(lambda y, m, d, sep: sep.join([y, m, d]), year, small, day, st.sampled_from(["/", "-", "."])),
    st.builds(lambda m, d, sep: f"{m}{sep}{d}", small, day, st.sampled_from(["/", "-"])),
    st.builds(lambda m, d: f"{m}月{d}日", small, day),
    st.builds(lambda y, m, d: f"{y}年{m}月{d}日", year, small, day),
    st.builds(
        lambda era, y, m, d: f"{era}{y}.{m}.{d}",
        st.sampled_from(["M", "T", "S", "H", "R", "m", "t", "s", "h", "r"]),
        st.integers(min_value=1, max_value=64).map(str),
        small,
        day,
    ),
    st.builds(
        lambda era, y, m, d: f"{era}{y}年{m}月{d}日",
        st.sampled_from(["明治", "大正", "昭和", "平成", "令和"]),
        st.one_of(st.just("元"), st.integers(min_value=1, max_value=64).map(str)),
        small,
        day,
    ),
    st.builds(
        lambda mon, d, first: f"{d}-{mon}" if first else f"{mon}-{d}",
        st.sampled_from(["Jan", "feb", "MAR", "Apr", "May", "June", "July", "Sept", "October", "Dec"]),
        day,
        st.booleans(),
    ),
    st.builds(lambda mon, d, y: f"{mon} {d}, {y}", st.sampled_from(["April", "Nov"]), day, year),
)
times = st.one_of(
    st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.builds(
        lambda h, m, s: f"{h}:{m:02d}:{s:02d}", st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)
    ),
    st.builds(
        lambda h, m, p: f"{h}:{m:02d} {p}",
        st.integers(1, 12),
        st.integers(0, 59),
        st.sampled_from(["AM", "PM", "am", "pm"]),
    ),
    st.builds(lambda h, m: f"{h}時{m}分", st.integers(0, 23), st.integers(0, 59)),
    st.builds(lambda p, h: f"{p}{h}時", st.sampled_from(["午前", "午後"]), st.integers(1, 12)),
    st.builds(
        lambda d, t: f"{d} {t}",
        st.builds(lambda m, d: f"2026/{m}/{d}", small, day),
        st.builds(lambda h: f"{h}:00", st.integers(0, 23)),
    ),
)
logicals = st.builds(
    lambda word, flips: "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=False)),
    st.sampled_from(["true", "false"]),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
errors = st.sampled_from(
    ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"]
)
FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)} | {0x20: 0x3000}


def fullwidth(text: str) -> str:
    return text.translate(FULLWIDTH)


coerced = st.builds(
    lambda value, wide, before, after: f"{before}{fullwidth(value) if wide else value}{after}",
    st.one_of(numbers, dates, times, logicals, errors),
    st.booleans(),
    spaces,
    spaces,
)

# Text a resident may type that starts like a formula.
safe_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\u2028\u2029\ufffe\uffff"),
    max_size=40,
)
formula_led_text = st.builds(
    lambda lead, rest: lead + rest,
    st.sampled_from(["=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n", " =", "\u3000＝"]),
    safe_text,
)
# Ordinary text: it holds a character no number, date, time, logical or error value has.
WORDS = "鳥取市東町髙橋花子様方申請書類の件第回人号室ビル階丁目番地ー・あいうアイウ"
plain_text = st.builds(
    lambda before, word, after: before + word + after,
    safe_text.filter(lambda text: not formula_led(text)),
    st.sampled_from(list(WORDS)),
    safe_text,
)


def csv_for_excel(values: list[str], encoding: str = "utf-8") -> list[str]:
    data = b"".join(csv_stream([f"欄{i}" for i in range(len(values))], [values], encoding=encoding))
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    return list(csv.reader(io.StringIO(text, newline="")))[1]


@settings(max_examples=400)
@given(coerced)
def test_a_value_excel_would_convert_is_written_as_a_text_formula_showing_it(value: str) -> None:
    assert excel_coerces(value)
    (cell,) = csv_for_excel([value])
    assert cell.startswith('="')
    assert excel_shows(cell) == value


@settings(max_examples=300)
@given(formula_led_text)
def test_a_formula_led_value_is_never_a_formula_of_its_own(value: str) -> None:
    (cell,) = csv_for_excel([value])
    typed = clean_text(value)
    assert cell.startswith('="') or cell.startswith("=CHAR(10)") or cell.startswith("'")
    assert excel_shows(cell) == typed


@settings(max_examples=300)
@given(plain_text)
def test_ordinary_text_is_written_as_it_is(value: str) -> None:
    assert excel_text(clean_text(value)) == clean_text(value)


@settings(max_examples=200)
@given(st.one_of(coerced, formula_led_text, plain_text))
def test_shift_jis_csv_for_excel_keeps_the_text_too(value: str) -> None:
    value = value.encode("cp932", "ignore").decode("cp932")  # what Shift_JIS can hold
    (cell,) = csv_for_excel([value], encoding="cp932")
    assert excel_shows(cell) == clean_text(value)


@settings(max_examples=200)
@given(st.lists(st.one_of(coerced, formula_led_text, plain_text), min_size=1, max_size=5))
def test_the_csv_for_other_systems_holds_the_plain_values(values: list[str]) -> None:
    data = b"".join(csv_stream(["欄"] * len(values), [values], purpose=SYSTEMS))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == [clean_text(value) for value in values]


CONTROL = [chr(code) for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
with_controls = st.lists(
    st.one_of(st.sampled_from(CONTROL), st.sampled_from(list("鳥取=1-\t\n\r"))), min_size=1, max_size=12
).map("".join)


def has_control(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in "\t\n" for char in text)


@settings(max_examples=150, deadline=None)
@given(with_controls, with_controls)
def test_no_control_character_reaches_any_export(label: str, value: str) -> None:
    for encoding in ("utf-8", "cp932"):
        for purpose in ("excel", "systems"):
            data = b"".join(csv_stream([label], [[value]], encoding=encoding, purpose=purpose))
            text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
            for row in csv.reader(io.StringIO(text, newline="")):
                assert not any(has_control(cell) for cell in row)
    with tempfile.TemporaryFile() as fileobj:
        xlsx_file([label], [[value]], fileobj)
        fileobj.seek(0)
        sheet = load_workbook(fileobj).active
        assert not any(has_control(str(cell.value or "")) for row in sheet.iter_rows() for cell in row)
