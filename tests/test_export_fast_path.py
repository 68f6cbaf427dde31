"""The export's fast path writes exactly the bytes of its definition.

The definition is the per-cell code: ``exporting.csv_cell`` (a cell's CSV text), ``intake.export_cells``
(a stored answer's cells) and ``ExportColumns.row`` (a submission's row). The export uses faster
equivalents chosen once per column (``csv_row_formatter``, ``export_cells_for``,
``ExportColumns.row_maker``); these tests compare the two on generated values of
every kind the export handles, then whole exports (UTF-8 and CP932, for Excel and for other systems).
"""

from __future__ import annotations

import codecs
import csv
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib import exporting
from madoguchi.lib.exporting import (
    EXCEL,
    SYSTEMS,
    ReplacementCounter,
    csv_cell,
    csv_row_formatter,
    csv_stream,
)
from madoguchi.lib.timeutil import JST
from madoguchi.procedures.formspec import FieldSpec
from madoguchi.procedures.models import FormVersion
from madoguchi.procedures.services import save_form_version
from madoguchi.submissions import exports, intake
from madoguchi.submissions.answers import write_answers
from madoguchi.submissions.models import Submission
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure, make_submission

KINDS = [(encoding, purpose) for encoding in ("utf-8", "cp932") for purpose in (EXCEL, SYSTEMS)]

# Characters that matter to one rule or another: formula leads and their full-width forms, spaces, line
# breaks and control characters, digits (both widths) and the separators of numbers and dates, letters of
# dates and logical values, CP932 look-alikes and characters CP932 lacks, combining marks, variation
# selectors, lone surrogates, rare kanji and half-width kana.
TRICKY = (
    "=+-@\t\r\n \u3000\u00a0＝＋－＠﹢⁺"
    "0123456789０１２３４５６７８９/.:,()%$¥円年月日時分秒午前後令和元"
    "eEaApPmMtTrRuUfFlLsSjJnN#!?/"
    "\x00\x07\x0b\x1f\x7f\x85\u202e\u2066\ufffe\uffff\u2028\u2029\ud842"
    "〜∼−—―‐‑–·•¢£¬¦‾«»µ∕\u2009\u200b\u00ad\ufeff\ufe0f\U000e0100\u3099\u0301"
    "髙﨑𠮷葛朗ｶﾀｶﾅﾞﾟ鳥取市東町一丁目"
    "abcxyz\"'&"
)
WHOLE_VALUES = [
    "",
    "0012",
    "1-2",
    "4/1",
    "2026-04-01",
    "100E10",
    "1e5",
    "(5)",
    "50%",
    "¥1,000",
    "1000円",
    "4月1日",
    "令和1年5月1日",
    "H31.4.1",
    "12:30",
    "午後1時",
    "TRUE",
    "false",
    "#N/A",
    "#DIV/0!",
    "=SUM(A1)",
    "+81",
    "-5",
    "@x",
    "\tx",
    "\rx",
    " =1",
    "\u3000-1",
    "＝1",
    "090-1234-5678",
    "0857-22-8111",
    "髙橋 﨑子",
    "𠮷田",
    "ｶﾀｶﾅ",
    "〜−—",
    "か\u3099",
    "葛\U000e0100",
    "a\u2028b",
    "a\r\nb",
    "\ud842\udfb7",
    "x" * 130,
    "1" * 130,
    "1\n2",
    "=" + "a" * 9000,
    '"quoted"',
]

texts = st.one_of(
    st.sampled_from(WHOLE_VALUES),
    st.text(alphabet=st.sampled_from(TRICKY), max_size=30),
    st.builds(
        lambda lead, body: lead + body,
        st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", " ", "\u3000", "0", "00", "＋"]),
        st.text(alphabet=st.sampled_from(TRICKY), max_size=12),
    ),
    st.text(max_size=20),
)


class Text(str):
    """A str subclass: not the exact type the fast path recognises."""


datetimes = st.builds(
    lambda moment, zone: moment if zone is None else moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from([None, UTC, JST, timezone(timedelta(hours=-5))]),
)
cells = st.one_of(
    texts,
    st.none(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("1.0"), Decimal("1E+5"), Decimal("-0"), Decimal("0.000001")]),
    st.dates(),
    datetimes,
    texts.map(Text),
)
rows = st.lists(st.lists(cells, min_size=1, max_size=8), max_size=6)


def reference_csv(header, rows, *, encoding: str, purpose) -> tuple[bytes, ReplacementCounter]:
    """The export as its rules define it: every cell through csv_cell, each line through csv.writer."""

    class Line:
        text = ""

        def write(self, text):
            self.text = text

    counter = ReplacementCounter()
    line = Line()
    writer = csv.writer(line, dialect="excel")
    if encoding == "utf-8":
        out = [codecs.BOM_UTF8] if purpose == EXCEL else []

        def encode(text):
            return text.encode("utf-8", "replace")
    else:
        out = []

        def encode(text):
            return exporting._encode_mapped_cp932(text, counter)

    for row in [header, *rows]:
        writer.writerow([csv_cell(value, counter, encoding=encoding, purpose=purpose) for value in row])
        out.append(encode(line.text))
    return b"".join(out), counter


# --- a row's texts ----------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(rows=rows)
def test_the_row_formatter_gives_the_texts_of_csv_cell(rows) -> None:
    for encoding, purpose in KINDS:
        fast_counter, slow_counter = ReplacementCounter(), ReplacementCounter()
        row_texts = csv_row_formatter(fast_counter, encoding=encoding, purpose=purpose)
        for row in rows * 2:  # the second time, remembered texts are used
            expected = [csv_cell(value, slow_counter, encoding=encoding, purpose=purpose) for value in row]
            assert row_texts(row) == expected, (encoding, purpose, row)
        assert (fast_counter.count, fast_counter.examples) == (slow_counter.count, slow_counter.examples)


@settings(max_examples=200, deadline=None)
@given(header=st.lists(texts, min_size=1, max_size=5), rows=rows)
def test_csv_stream_writes_the_bytes_of_its_definition(header, rows) -> None:
    for encoding, purpose in KINDS:
        counter = ReplacementCounter()
        data = b"".join(csv_stream(header, rows, encoding=encoding, purpose=purpose, counter=counter))
        expected, expected_counter = reference_csv(header, rows, encoding=encoding, purpose=purpose)
        assert data == expected, (encoding, purpose)
        assert (counter.count, counter.examples) == (expected_counter.count, expected_counter.examples)


def test_every_single_character_is_written_as_csv_cell_writes_it() -> None:
    """Each of the first 0x3100 code points and the tricky ones: alone, after a letter, before a letter and
    before a digit."""
    values = [chr(code) for code in range(0x3100)] + list(TRICKY)
    values += (
        [f"a{char}" for char in values] + [f"{char}a" for char in values] + [f"{char}1" for char in values]
    )
    for encoding, purpose in KINDS:
        counter, expected_counter = ReplacementCounter(), ReplacementCounter()
        texts = csv_row_formatter(counter, encoding=encoding, purpose=purpose)(values)
        expected = [csv_cell(value, expected_counter, encoding=encoding, purpose=purpose) for value in values]
        assert texts == expected
        assert counter.count == expected_counter.count


# --- a stored answer's cells ------------------------------------------------------------------------------

FIELDS = [
    FieldSpec(key="title", type="short_text", label="件名"),
    FieldSpec(key="body", type="long_text", label="内容"),
    FieldSpec(key="email", type="email", label="メールアドレス"),
    FieldSpec(key="kana", type="furigana", label="フリガナ"),
    FieldSpec(key="count", type="number", label="人数", unit="人"),
    FieldSpec(key="phone", type="phone", label="電話番号"),
    FieldSpec(key="address", type="address", label="住所"),
    FieldSpec(key="name", type="name", label="氏名"),
    FieldSpec(key="reading", type="name", label="氏名", reading="kana"),
    FieldSpec(key="birthday", type="date", label="生年月日"),
    FieldSpec(key="gender", type="single_choice", label="区分", options=["甲", "乙"]),
    FieldSpec(key="gender_en", type="single_choice", label="区分", options=["甲", "乙"], options_en=["A", "B"]),
    FieldSpec(key="area", type="dropdown", label="地区", options=["東部", "西部"]),
    FieldSpec(key="topics", type="multiple_choice", label="関心", options=["子育て", "防災"]),
    FieldSpec(key="topics_en", type="multiple_choice", label="関心", options=["子育て", "防災"], options_en=["C", "D"]),
    FieldSpec(key="agree", type="consent", label="同意します"),
    FieldSpec(key="doc", type="file", label="書類"),
    FieldSpec(
        key="family",
        type="group",
        label="世帯員",
        fields=[FieldSpec(key="who", type="short_text", label="氏名"), FieldSpec(key="age", type="number", label="年齢")],
    ),
]  # fmt: skip

digits = st.text(alphabet="0123456789", min_size=1, max_size=12)
phones = st.one_of(
    st.builds(lambda d: "0" + d, st.text(alphabet="0123456789", min_size=9, max_size=10)),
    st.builds(
        lambda d: f"{d[:4]}-{d[4:6]}-{d[6:]}", st.text(alphabet="0123456789", min_size=10, max_size=11)
    ),
    digits,
    digits.map(lambda d: d.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})),
    st.sampled_from(["010-1-212-555-1234", "0120-123-456", "00777012345", "0570-000-000", "+81857228111"]),
)
answers = st.one_of(
    st.none(),
    st.just(""),
    st.just([]),
    st.just({}),
    texts,
    phones,
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["3", "1.0", "1e5", "-0", "NaN", "Infinity", "abc", "2026-04-01", "1868-01-01", "2026-02-30"]
    ),
    st.sampled_from(["甲", "乙", "東部", "その他"]),
    st.lists(st.sampled_from(["子育て", "防災", "その他"]), max_size=3),
    st.lists(texts, max_size=2),
    st.fixed_dictionaries(
        {},
        optional={
            "family": texts,
            "given": texts,
            "reading_family": texts,
            "reading_given": texts,
            "postal_code": texts,
            "address": texts,
        },
    ),
    st.fixed_dictionaries({"name": texts, "size": st.integers(min_value=0, max_value=10**8)}),
    st.lists(
        st.fixed_dictionaries({}, optional={"who": texts, "age": st.sampled_from(["3", "", None])}),
        max_size=2,
    ),
)


def outcome(function, *args):
    """The cells, each as its type and repr (Decimal("1.0") is not Decimal("1") here), or the error's type."""
    try:
        return [(type(cell), repr(cell)) for cell in function(*args)]
    except Exception as error:
        return type(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(answers, min_size=len(FIELDS), max_size=len(FIELDS)))
def test_export_cells_for_gives_the_cells_of_export_cells(values) -> None:
    for language in ("ja", "en"):
        with translation.override(language):
            for spec, value in zip(FIELDS, values, strict=True):
                fast = intake.export_cells_for(spec)
                assert outcome(fast, value) == outcome(intake.export_cells, spec, value), (
                    language,
                    spec.key,
                    value,
                )


# --- whole exports ----------------------------------------------------------------------------------------

SECOND_VERSION = {
    "fields": [
        {"key": "title", "type": "short_text", "label": "件名"},
        {"key": "count", "type": "short_text", "label": "人数（文章）"},  # was a number
        {"key": "name", "type": "name", "label": "氏名", "reading": "kana"},
        {"key": "phone", "type": "phone", "label": "電話番号"},
        {"key": "extra", "type": "multiple_choice", "label": "追加", "options": ["一", "二"]},
        {
            "key": "family",
            "type": "group",
            "label": "世帯員",
            "fields": [{"key": "who", "type": "short_text", "label": "氏名"}],
        },
    ]
}


@pytest.mark.django_db
def test_an_export_of_two_versions_is_the_rows_and_bytes_of_its_definition(tottori) -> None:
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目の手続")
    rng = random.Random(7)
    stored = []

    # Stored answers are JSON in UTF-8: no lone surrogate.
    storable = [value for value in WHOLE_VALUES if "\ud842" not in value]
    characters = TRICKY.replace("\ud842", "")

    def tricky() -> str:
        if rng.random() < 0.5:
            return rng.choice(storable)
        return "".join(rng.choices(characters, k=rng.randint(0, 8)))

    def answers_of(version: int) -> dict:
        keys = ["title", "body", "count", "email", "phone", "kana", "birthday", "gender", "area", "agree"]
        values = {
            key: rng.choice([tricky(), None, "", "3", "1.50", "2026-04-01", "0857-22-8111"]) for key in keys
        }
        values["name"] = {"family": tricky(), "given": tricky(), "reading_family": tricky()}
        values["address"] = rng.choice([{"postal_code": "680-0001", "address": tricky()}, None, {}])
        values["topics"] = rng.choice([["子育て", "防災"], [], None, [tricky()]])
        values["agree"] = rng.choice([True, False, None])
        values["doc"] = rng.choice([None, {"name": tricky() + ".pdf", "size": rng.randint(0, 10**7)}])
        if version == 2:
            values["extra"] = rng.choice([["一"], ["一", "二"], None])
            values["family"] = rng.choice([[{"who": tricky()}], [], None])
        return values

    for version in (1, 2):
        if version == 2:
            save_form_version(procedure=procedure, schema=SECOND_VERSION)
            procedure.refresh_from_db()
        for _ in range(15):
            submission = make_submission(procedure, {"name": {"family": "髙橋", "given": "﨑子"}}).submission
            values = answers_of(version)
            write_answers(submission, values)  # stored as they are, older data included
            submission.save(update_fields=["answers_data"])
            stored.append(submission.pk)

    header, rows = exports.export_rows(procedure)
    rows = list(rows)
    columns = exports.ExportColumns(procedure)
    version_numbers = dict(FormVersion.objects.filter(procedure=procedure).values_list("pk", "number"))
    with translation.override("ja"):
        expected = [
            columns.row(submission, version_numbers)
            for submission in Submission.objects.filter(pk__in=stored).order_by("id")
        ]
    assert [[(type(cell), repr(cell)) for cell in row] for row in rows] == [
        [(type(cell), repr(cell)) for cell in row] for row in expected
    ]
    for encoding, purpose in KINDS:
        counter = ReplacementCounter()
        data = b"".join(csv_stream(header, rows, encoding=encoding, purpose=purpose, counter=counter))
        assert data == reference_csv(header, expected, encoding=encoding, purpose=purpose)[0]
