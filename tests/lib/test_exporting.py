"""What staff see when they open an export in Excel: no mojibake, no formulas, no eaten zeros."""

from __future__ import annotations

import codecs
import csv
import glob
import io
import os
import tempfile
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from madoguchi.lib.exporting import (
    ReplacementCounter,
    csv_stream,
    encode_cp932,
    excel_safe,
    iter_file,
    keep_leading_zeros,
    xlsx_file,
)

NAME = "髙橋 﨑子"
HEADER = ["氏名", "電話番号", "備考"]


def read_csv(data: bytes, encoding: str) -> list[list[str]]:
    text = data.decode(encoding)
    return list(csv.reader(io.StringIO(text, newline="")))


def export_csv(
    rows: list[list[str | None]], encoding: str = "utf-8", counter: ReplacementCounter | None = None
) -> bytes:
    return b"".join(csv_stream(HEADER, rows, encoding=encoding, counter=counter))


# --- CSV -----------------------------------------------------------------------------------------------


def test_utf8_csv_starts_with_bom_and_round_trips_rare_kanji() -> None:
    data = export_csv([[NAME, "090-1234-5678", None]])

    assert data.startswith(codecs.BOM_UTF8)
    assert read_csv(data, "utf-8-sig") == [HEADER, [NAME, '="090-1234-5678"', ""]]
    assert data.endswith(b"\r\n")


def test_cp932_csv_keeps_ibm_nec_kanji_and_maps_wave_dash_and_minus() -> None:
    counter = ReplacementCounter()
    data = export_csv([[NAME, "9時〜17時", "−5度"]], encoding="cp932", counter=counter)

    assert not data.startswith(codecs.BOM_UTF8)
    assert read_csv(data, "cp932")[1] == [NAME, "9時～17時", "－5度"]
    assert counter.count == 0


def test_cp932_csv_replaces_unencodable_character_with_geta_and_counts_it() -> None:
    counter = ReplacementCounter()
    data = export_csv([["𠮷野 花子", None, None]], encoding="cp932", counter=counter)

    assert read_csv(data, "cp932")[1][0] == "〓野 花子"
    assert counter.count == 1
    assert counter.examples == {"𠮷"}


def test_cp932_counts_each_occurrence_but_lists_each_character_once() -> None:
    counter = ReplacementCounter()
    encoded = encode_cp932("𠮷田😀𠮷", counter)

    assert encoded.decode("cp932") == "〓田〓〓"
    assert counter.count == 3
    assert counter.examples == {"𠮷", "😀"}


def test_cp932_examples_are_capped_at_twenty() -> None:
    counter = ReplacementCounter()
    encode_cp932("".join(chr(0x1F600 + i) for i in range(30)), counter)

    assert counter.count == 30
    assert len(counter.examples) == 20


def test_cp932_composes_decomposed_kana_and_drops_variation_selectors() -> None:
    counter = ReplacementCounter()
    # macOS-style decomposed が, and 葛 with an ideographic variation selector.
    encoded = encode_cp932("か\u3099ん 葛\U000e0100西", counter)

    assert encoded.decode("cp932") == "がん 葛西"
    assert counter.count == 0


def test_cp932_maps_yen_sign_to_fullwidth_yen_not_backslash() -> None:
    assert encode_cp932("¥1,000", ReplacementCounter()).decode("cp932") == "￥1,000"


def test_leading_zeros_survive_as_excel_text_formula() -> None:
    data = export_csv([["0857267111", "0012", "12"]])

    assert read_csv(data, "utf-8-sig")[1] == ['="0857267111"', '="0012"', "12"]
    assert b'"=""0857267111"""' in data


def test_formula_is_neutralised() -> None:
    data = export_csv([["=SUM(A1)", "@cmd", "-5"]])

    assert read_csv(data, "utf-8-sig")[1] == ["'=SUM(A1)", "'@cmd", "-5"]


def test_header_is_protected_too() -> None:
    data = b"".join(csv_stream(["=HYPERLINK(1)"], []))

    assert read_csv(data, "utf-8-sig") == [["'=HYPERLINK(1)"]]


def test_newline_inside_value_is_preserved() -> None:
    data = export_csv([[NAME, None, "1行目\n2行目"]])

    assert read_csv(data, "utf-8-sig")[1][2] == "1行目\n2行目"


def test_csv_stream_is_lazy() -> None:
    def rows() -> Iterator[list[str]]:
        yield ["x" * 70_000, "", ""]  # large enough to be flushed on its own
        yield ["second", "", ""]
        raise RuntimeError("the database went away after row 2")

    stream = csv_stream(HEADER, rows())
    header_chunk = next(stream)
    first_row_chunk = next(stream)

    assert read_csv(header_chunk, "utf-8-sig") == [HEADER]
    assert first_row_chunk.startswith(b"x" * 100)
    with pytest.raises(RuntimeError):
        list(stream)


def test_csv_stream_batches_small_rows() -> None:
    chunks = list(csv_stream(HEADER, ([str(i), "", ""] for i in range(20_000))))

    assert 2 < len(chunks) < 100
    assert len(read_csv(b"".join(chunks), "utf-8-sig")) == 20_001


def test_csv_stream_rejects_unknown_encoding_immediately() -> None:
    with pytest.raises(ValueError):
        csv_stream(HEADER, [], encoding="shift_jis")


def test_utf8_csv_replaces_lone_surrogate_instead_of_crashing() -> None:
    counter = ReplacementCounter()
    data = export_csv([["\ud842", None, None]], counter=counter)

    assert read_csv(data, "utf-8-sig")[1][0] == "\ufffd"
    assert counter.count == 1


# --- cell rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+81 90 1234 5678", "'+81 90 1234 5678"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),
        ("-3.2", "-3.2"),
        ("-", "-"),
        ("鳥取市", "鳥取市"),
        ("", ""),
    ],
)
def test_excel_safe(value: str, expected: str) -> None:
    assert excel_safe(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0857267111", '="0857267111"'),
        ("0012", '="0012"'),
        ("0", "0"),
        ("12345", "12345"),
        ("123456789012", '="123456789012"'),
        ("1-2-3", '="1-2-3"'),
        ("2/3", '="2/3"'),
        ("-5", "-5"),
        ("０１２", "０１２"),
        ("'=1", "'=1"),
    ],
)
def test_keep_leading_zeros(value: str, expected: str) -> None:
    assert keep_leading_zeros(value) == expected


# --- XLSX ----------------------------------------------------------------------------------------------


def export_xlsx(rows: list[list[str | None]]) -> tuple[object, bytes]:
    with tempfile.TemporaryFile() as fileobj:
        xlsx_file(HEADER, rows, fileobj)
        data = b"".join(iter_file(fileobj, chunk_size=1024))
    workbook = load_workbook(io.BytesIO(data))
    return workbook, data


def test_xlsx_round_trip_keeps_text_as_typed() -> None:
    workbook, data = export_xlsx(
        [
            [NAME, "0012", "=SUM(A1)"],
            ["制御\x01文字", "#N/A", None],
        ]
    )

    assert data.startswith(b"PK")
    sheet = workbook["申請一覧"]
    assert workbook.sheetnames == ["申請一覧"]
    assert [cell.value for cell in sheet[1]] == HEADER
    assert all(cell.font.b for cell in sheet[1])

    name, zeros, formula = sheet[2]
    assert name.value == NAME
    assert zeros.value == "0012"
    assert zeros.data_type == "s"
    assert zeros.number_format == "@"
    assert formula.value == "'=SUM(A1)"
    assert formula.data_type == "s"
    assert not sheet[2][0].font.b

    control, error_code = sheet[3][:2]
    assert control.value == "制御\ufffd文字"
    assert error_code.value == "#N/A"
    assert error_code.data_type == "s"
    assert sheet.column_dimensions["A"].width == 20


def test_xlsx_failure_leaves_no_temporary_sheet_behind() -> None:
    def rows() -> Iterator[list[str]]:
        yield [NAME, "", ""]
        raise RuntimeError("the database went away")

    pattern = os.path.join(tempfile.gettempdir(), "openpyxl.*")
    before_files, before_registered = set(glob.glob(pattern)), set(ALL_TEMP_FILES)
    with tempfile.TemporaryFile() as fileobj, pytest.raises(RuntimeError):
        xlsx_file(HEADER, rows(), fileobj)

    assert set(glob.glob(pattern)) - before_files == set()
    assert set(ALL_TEMP_FILES) == before_registered


def test_iter_file_streams_from_the_start() -> None:
    fileobj = io.BytesIO(b"abcdefg")
    fileobj.read()

    assert list(iter_file(fileobj, chunk_size=3)) == [b"abc", b"def", b"g"]
