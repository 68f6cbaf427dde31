"""What staff see when they open an export in Excel, and what another system reads from one: no mojibake,
no formulas, no eaten zeros, numbers and dates as numbers and dates, no control characters."""

from __future__ import annotations

import codecs
import csv
import glob
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from madoguchi.lib.exporting import (
    EXCEL,
    SYSTEMS,
    ReplacementCounter,
    clean_text,
    csv_stream,
    encode_cp932,
    excel_text,
    iter_file,
    map_cp932,
    xlsx_file,
)

NAME = "髙橋 﨑子"
HEADER = ["氏名", "電話番号", "備考"]


def read_csv(data: bytes, encoding: str) -> list[list[str]]:
    text = data.decode(encoding)
    return list(csv.reader(io.StringIO(text, newline="")))


_PIECE_RE = re.compile(r'"((?:[^"]|"")*)"|CHAR\(10\)')


def excel_shows(cell: str) -> str:
    """What Excel shows for a CSV cell written by excel_text: the text of its ="…" formula (string
    constants and CHAR(10) joined by &), or the cell as it is (a leading apostrophe stays visible)."""
    if not cell.startswith("="):
        return cell
    parts = []
    position = 1
    while True:
        match = _PIECE_RE.match(cell, position)
        assert match, f"not a text formula: {cell!r}"
        parts.append("\n" if match.group(1) is None else match.group(1).replace('""', '"'))
        position = match.end()
        if position == len(cell):
            return "".join(parts)
        assert cell[position] == "&", f"not a text formula: {cell!r}"
        position += 1


def export_csv(
    rows: list[list], encoding: str = "utf-8", counter: ReplacementCounter | None = None, purpose=EXCEL
) -> bytes:
    return b"".join(csv_stream(HEADER, rows, encoding=encoding, counter=counter, purpose=purpose))


# --- CSV for Excel --------------------------------------------------------------------------------------


def test_utf8_csv_starts_with_bom_and_round_trips_rare_kanji() -> None:
    data = export_csv([[NAME, "090-1234-5678", None]])

    assert data.startswith(codecs.BOM_UTF8)
    assert read_csv(data, "utf-8-sig") == [HEADER, [NAME, '="090-1234-5678"', ""]]
    assert data.endswith(b"\r\n")


def test_cp932_csv_keeps_ibm_nec_kanji_and_maps_wave_dash_and_minus() -> None:
    counter = ReplacementCounter()
    data = export_csv([[NAME, "9時〜17時", "−5度"]], encoding="cp932", counter=counter)

    assert not data.startswith(codecs.BOM_UTF8)
    row = read_csv(data, "cp932")[1]
    assert row[:2] == [NAME, "9時～17時"]
    assert excel_shows(row[2]) == "－5度"  # a full-width minus first: Japanese Excel would compute it
    assert counter.count == 0


def test_cp932_csv_replaces_unencodable_character_with_geta_and_counts_it() -> None:
    counter = ReplacementCounter()
    data = export_csv([["𠮷野 花子", None, None]], encoding="cp932", counter=counter)

    assert read_csv(data, "cp932")[1][0] == "〓野 花子"
    assert counter.count == 1
    assert counter.examples == {"𠮷"}


def test_each_export_counts_only_its_own_replacements() -> None:
    first, second = ReplacementCounter(), ReplacementCounter()
    export_csv([["𠮷野", "😀", None]], encoding="cp932", counter=first)
    export_csv([["𠮷田", None, None]], encoding="cp932", counter=second)

    assert (first.count, first.examples) == (2, {"𠮷", "😀"})
    assert (second.count, second.examples) == (1, {"𠮷"})


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


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("\u2010", "‐"),  # HYPHEN: CP932 has it
        ("\u2011", "‐"),  # NON-BREAKING HYPHEN
        ("\u2012", "-"),  # FIGURE DASH
        ("\u2013", "-"),  # EN DASH
        ("\u2014", "―"),  # EM DASH -> HORIZONTAL BAR
        ("\u2015", "―"),
        ("\u2043", "-"),  # HYPHEN BULLET
        ("\u02d7", "-"),  # MODIFIER LETTER MINUS SIGN
        ("\ufe58", "―"),  # SMALL EM DASH
        ("\ufe63", "-"),  # SMALL HYPHEN-MINUS
        ("\u2212", "－"),  # MINUS SIGN
        ("\u2e3a", "――"),  # TWO-EM DASH
        ("\u301c", "～"),  # WAVE DASH
        ("\u223c", "～"),  # TILDE OPERATOR
        ("\u2016", "∥"),  # DOUBLE VERTICAL LINE
        ("\u00a2", "￠"),
        ("\u00a3", "￡"),
        ("\u00ac", "￢"),
        ("\u00a5", "￥"),
        ("\u30a0", "＝"),  # ゠ in ジャン゠ポール
        ("\u00b7", "・"),
        ("\u00a0", " "),
        *((chr(code), " ") for code in range(0x2000, 0x200B)),
        ("\u202f", " "),
        ("\u205f", " "),
        ("\u3000", "\u3000"),
        ("\u200b", ""),  # ZERO WIDTH SPACE: invisible, dropped
        ("\ufeff", ""),
    ],
)
def test_cp932_writes_look_alikes_as_what_windows_has(typed: str, shown: str) -> None:
    counter = ReplacementCounter()
    text = f"鳥取{typed}市"

    assert map_cp932(text) == f"鳥取{shown}市"
    assert encode_cp932(text, counter).decode("cp932") == f"鳥取{shown}市"
    assert counter.count == 0


@pytest.mark.parametrize("typed", ["€", "©", "⁻", "😀", "𠮷"])
def test_cp932_only_what_has_no_equivalent_becomes_geta(typed: str) -> None:
    counter = ReplacementCounter()

    assert encode_cp932(f"a{typed}b", counter).decode("cp932") == "a〓b"
    assert counter.count == 1


def test_a_dash_mapped_for_shift_jis_cannot_start_a_formula() -> None:
    data = export_csv([["\u2013" + "1+1", "\u2012" + "5", None]], encoding="cp932")

    first, second = read_csv(data, "cp932")[1][:2]
    assert first.startswith("=") and excel_shows(first) == "-1+1"
    assert second.startswith("=") and excel_shows(second) == "-5"


def test_leading_zeros_survive_as_excel_text_formula() -> None:
    data = export_csv([["0857267111", "0012", "鳥取12"]])

    assert read_csv(data, "utf-8-sig")[1] == ['="0857267111"', '="0012"', "鳥取12"]
    assert b'"=""0857267111"""' in data


def test_formula_is_shown_as_the_text_typed_never_computed() -> None:
    data = export_csv([["=SUM(A1)", "@cmd", "-5"], ["＝1+1", "+81 90 1234 5678", "\tx"]])

    rows = read_csv(data, "utf-8-sig")[1:]
    typed_rows = [["=SUM(A1)", "@cmd", "-5"], ["＝1+1", "+81 90 1234 5678", "\tx"]]
    for cells, typed in zip(rows, typed_rows, strict=True):
        assert [excel_shows(cell) for cell in cells] == typed
        assert all(cell.startswith('="') for cell in cells)
        assert not any(cell.startswith("'") for cell in cells)


def test_header_is_protected_too() -> None:
    data = b"".join(csv_stream(["=HYPERLINK(1)", "氏名\x07"], []))

    assert read_csv(data, "utf-8-sig") == [['="=HYPERLINK(1)"', "氏名"]]


def test_newline_inside_value_is_preserved() -> None:
    data = export_csv([[NAME, None, "1行目\r\n2行目\r3行目"]])

    assert read_csv(data, "utf-8-sig")[1][2] == "1行目\n2行目\n3行目"


def test_a_formula_led_text_with_line_breaks_is_one_text_formula() -> None:
    data = export_csv([["- 項目1\n- 項目2", "\rx", None]])

    first, second = read_csv(data, "utf-8-sig")[1][:2]
    assert first == '="- 項目1"&CHAR(10)&"- 項目2"'
    assert excel_shows(first) == "- 項目1\n- 項目2"
    assert excel_shows(second) == "\nx"


def test_long_values_are_cut_into_pieces_excel_accepts_or_kept_with_an_apostrophe() -> None:
    long = "=" + "あ" * 1000
    written = excel_text(long)
    assert excel_shows(written) == long
    assert all(len(piece) <= 255 for piece in re.findall(r'"((?:[^"]|"")*)"', written))

    too_long = "=" + "x" * 9000
    assert excel_text(too_long) == "'" + too_long


def test_numbers_and_dates_stay_numbers_and_dates_in_the_csv_for_excel() -> None:
    arrived = datetime(2026, 3, 31, 15, 30, 5, 999_999, tzinfo=UTC)
    data = b"".join(
        csv_stream(
            ["到達日時", "人数", "金額", "生年月日", "版"],
            [[arrived, Decimal("3"), Decimal("-1234.50"), date(1950, 4, 1), 2]],
        )
    )

    assert read_csv(data, "utf-8-sig")[1] == ["2026-04-01 00:30:05", "3", "-1234.50", "1950-04-01", "2"]


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
    chunks = list(csv_stream(HEADER, ([i, "", ""] for i in range(20_000))))

    assert 2 < len(chunks) < 100
    assert len(read_csv(b"".join(chunks), "utf-8-sig")) == 20_001


def test_csv_stream_rejects_unknown_encoding_or_purpose_immediately() -> None:
    with pytest.raises(ValueError):
        csv_stream(HEADER, [], encoding="shift_jis")
    with pytest.raises(ValueError):
        csv_stream(HEADER, [], purpose="printer")


def test_utf8_csv_replaces_lone_surrogate_instead_of_crashing() -> None:
    counter = ReplacementCounter()
    data = export_csv([["\ud842", None, None]], counter=counter)

    assert read_csv(data, "utf-8-sig")[1][0] == "\ufffd"
    assert counter.count == 1


# --- CSV for other systems ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_csv_for_other_systems_has_plain_values_and_no_bom(encoding: str) -> None:
    typed = ["0012", "=SUM(A1)", "1-2", "-5", "行1\n行2"]
    data = b"".join(
        csv_stream(
            ["受付番号", "到達日時", "人数", *[f"欄{i}" for i in range(len(typed))]],
            [["4821-0395-76", datetime(2026, 4, 1, 0, 30, tzinfo=UTC), Decimal("2"), *typed]],
            encoding=encoding,
            purpose=SYSTEMS,
        )
    )

    assert not data.startswith(codecs.BOM_UTF8)
    assert read_csv(data, encoding)[1] == ["4821-0395-76", "2026-04-01 09:30:00", "2", *typed]
    assert b'="' not in data and b"'" not in data


# --- control characters ---------------------------------------------------------------------------------


def test_clean_text_removes_control_characters_and_keeps_tabs_and_line_breaks() -> None:
    assert clean_text("a\x00b\x1bc\x7fd\x85e\x9ff\tg\nh\r\ni\rj\u2028k\ufffe") == "abcdef\tg\nh\ni\nj\nk"
    assert clean_text("鳥取市") == "鳥取市"


# --- XLSX -----------------------------------------------------------------------------------------------


def export_xlsx(rows: list[list], header: list[str] = HEADER) -> tuple[object, bytes]:
    with tempfile.TemporaryFile() as fileobj:
        xlsx_file(header, rows, fileobj)
        data = b"".join(iter_file(fileobj, chunk_size=1024))
    workbook = load_workbook(io.BytesIO(data))
    return workbook, data


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_round_trip_keeps_text_as_typed() -> None:
    workbook, data = export_xlsx(
        [
            [NAME, "0012", "=SUM(A1)"],
            ["制御\x01文字\x85", "#N/A", None],
            ["-5", "＝1+1", "1行目\n2行目"],
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
    assert formula.value == "=SUM(A1)"  # the text typed: no apostrophe, no formula
    assert formula.data_type == "s"
    assert not sheet[2][0].font.b

    control, error_code = sheet[3][:2]
    assert control.value == "制御文字"
    assert error_code.value == "#N/A"
    assert error_code.data_type == "s"
    assert [cell.value for cell in sheet[4]] == ["-5", "＝1+1", "1行目\n2行目"]
    assert sheet.column_dimensions["A"].width == 20

    xml = sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml
    assert 't="inlineStr"' in xml and 't="s"' not in xml and 't="e"' not in xml


def test_xlsx_has_number_date_and_datetime_cells() -> None:
    arrived = datetime(2026, 3, 31, 15, 30, 5, 600_000, tzinfo=UTC)
    workbook, _ = export_xlsx(
        [["4821-0395-76", arrived, 2, Decimal("1234.5"), date(1950, 4, 1), "東町1-2"]],
        header=["受付番号", "到達日時", "版", "金額", "生年月日", "住所"],
    )
    receipt, moment, version, amount, born, address = workbook.active[2]

    assert (receipt.value, receipt.data_type) == ("4821-0395-76", "s")
    assert moment.is_date and moment.value == datetime(2026, 4, 1, 0, 30, 5)  # JST, to the second
    assert moment.number_format == "yyyy/mm/dd hh:mm:ss"
    assert (version.value, version.data_type) == (2, "n")
    assert amount.data_type == "n" and amount.value == 1234.5
    assert born.is_date and born.value.date() == date(1950, 4, 1)
    assert born.number_format == "yyyy/mm/dd"
    assert (address.value, address.data_type) == ("東町1-2", "s")


def test_xlsx_header_has_no_control_characters() -> None:
    workbook, _ = export_xlsx([], header=["氏\x00名", "電話\x1f番号", "=備考"])

    assert [cell.value for cell in workbook.active[1]] == ["氏名", "電話番号", "=備考"]


def test_xlsx_cuts_a_text_longer_than_excel_keeps() -> None:
    workbook, _ = export_xlsx([["あ" * 40_000, None, None]])

    assert len(workbook.active["A2"].value) == 32_767


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


def test_every_character_that_folds_to_a_formula_sign_starts_a_formula() -> None:
    import sys
    import unicodedata

    from madoguchi.lib.exporting import formula_led

    folding = [
        chr(code)
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code < 0xE000 and unicodedata.normalize("NFKC", chr(code))[:1] in "=+-@\t\n"
    ]
    assert len(folding) > 6
    assert all(formula_led(char + "1") for char in folding)


def test_xlsx_writes_a_date_excel_cannot_show_as_its_text() -> None:
    workbook, _ = export_xlsx([[date(1899, 12, 31), date(1900, 3, 1), None]])
    old, first = workbook.active[2][:2]

    assert (old.value, old.data_type) == ("1899-12-31", "s")
    assert first.is_date and first.value == datetime(1900, 3, 1)
