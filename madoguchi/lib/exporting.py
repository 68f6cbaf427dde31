"""Streaming CSV / XLSX exports that municipal staff open in Excel on Japanese Windows.

Design rules:

- Nothing here builds the whole file in memory: ``csv_stream`` is a generator of byte chunks and
  ``xlsx_file`` uses openpyxl's write-only mode (rows go straight to a temporary file as inline strings).
- Output must never be mojibake: UTF-8 CSV gets a BOM (without it Excel assumes CP932); CP932 CSV maps
  characters to the code points Windows actually has and replaces what cannot be represented with 〓
  (GETA MARK, the traditional "missing glyph" of Japanese printing), counting each replacement so the view
  can tell the user.
- Cell values are protected against formula injection (``excel_safe``) and, in CSV, against Excel's type
  coercion that eats leading zeros or turns 番地 like ``1-2-3`` into dates (``keep_leading_zeros``).
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, ClassVar

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = [
    "CP932_MAPPING",
    "SPREADSHEET_FORMULA_PREFIXES",
    "XLSX_COLUMN_WIDTH",
    "XLSX_SHEET_TITLE",
    "ReplacementCounter",
    "csv_stream",
    "encode_cp932",
    "excel_safe",
    "iter_file",
    "keep_leading_zeros",
    "xlsx_file",
]

SPREADSHEET_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

XLSX_SHEET_TITLE = "申請一覧"
# Wide enough for a full name or a phone number in a proportional Japanese font.
XLSX_COLUMN_WIDTH = 20

GETA = "\u3013"  # 〓
_GETA_CP932 = GETA.encode("cp932")

# CSV rows are collected into chunks of about this size: one chunk per row would mean a million tiny
# writes to the socket for a large export.
_CSV_CHUNK_BYTES = 64 * 1024

# A plain (negative) number such as "-5" or "-3.2" is data, not a formula.
_PLAIN_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

# Values Excel would coerce when it opens a CSV, losing what the resident typed:
# - digits with a leading zero ("0857267111", "0012") lose the zero;
# - 12 or more digits (e.g. マイナンバー, account numbers) are shown as 1.23457E+11, and beyond 15 digits
#   the trailing digits are lost for good;
# - digit groups joined by "-" or "/" ("1-2-3" 番地, "2-3", "1/2") become dates on Japanese Windows.
#   Phone numbers such as "090-1234-5678" match too; protecting them is harmless.
_DIGITS_RE = re.compile(r"[0-9]+")
_DIGIT_GROUPS_RE = re.compile(r"[0-9]+(?:[-/][0-9]+)+")
_EXCEL_MAX_GENERAL_DIGITS = 11

# Unicode characters whose glyph exists in CP932 under another code point. Windows (MultiByteToWideChar,
# i.e. Excel) decodes the CP932 bytes to the right-hand code point; Python's cp932 codec agrees, and
# encodes some of the left-hand ones only by its own lenient extension, so the mapping is explicit.
# Mac/JIS-based input (and copy-paste from PDFs/web pages) produces the left-hand ones.
CP932_MAPPING: dict[str, str] = {
    "\u301c": "\uff5e",  # 〜 WAVE DASH -> ～ FULLWIDTH TILDE (CP932 0x8160)
    "\u2016": "\u2225",  # ‖ DOUBLE VERTICAL LINE -> ∥ PARALLEL TO (0x8161)
    "\u2212": "\uff0d",  # − MINUS SIGN -> － FULLWIDTH HYPHEN-MINUS (0x817C)
    "\u00a2": "\uffe0",  # ¢ -> ￠ (0x8191)
    "\u00a3": "\uffe1",  # £ -> ￡ (0x8192)
    "\u00ac": "\uffe2",  # ¬ -> ￢ (0x81CA)
    "\u2014": "\u2015",  # — EM DASH -> ― HORIZONTAL BAR (0x815C; JIS "全角ダッシュ")
    "\u00a6": "\uffe4",  # ¦ -> ￤ (IBM extension)
    "\u00a5": "\uffe5",  # ¥ (macOS yen key) -> ￥ (0x818F); mapping to 0x5C would show "\" in many fonts
    "\u203e": "\uffe3",  # ‾ OVERLINE -> ￣ (0x8150)
    "\u00a0": " ",  # NO-BREAK SPACE (copy-paste from web/Word) is a space to the reader
    # Not mapped: U+2010 HYPHEN is itself in CP932 (0x815D); mapping it to "-" would only lose information.
}

# Variation selectors (U+FE00-FE0F, IVS U+E0100-E01EF) only pick a glyph variant of the preceding
# character, which CP932 cannot express; dropping them keeps e.g. 葛󠄀 as 葛 instead of "葛〓".
_VARIATION_SELECTORS = [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
_CP932_TABLE: dict[int, str | None] = {
    **{ord(source): target for source, target in CP932_MAPPING.items()},
    **dict.fromkeys(_VARIATION_SELECTORS),
}
# A base character followed by combining marks (e.g. decomposed か + U+3099 from macOS file names).
# NFC composes it to が, which CP932 has. Only such clusters are normalised: NFC on the whole text would
# also rewrite CJK compatibility ideographs (e.g. U+F929 朗) that CP932 has as they are.
_COMBINING_CLUSTER_RE = re.compile(r".[\u0300-\u036f\u3099\u309a]+", re.DOTALL)

_LONE_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def excel_safe(value: str) -> str:
    """Neutralise CSV/formula injection: prefix "'" to values a spreadsheet could read as a formula."""
    if (
        value.startswith(SPREADSHEET_FORMULA_PREFIXES)
        and value != "-"
        and not _PLAIN_NUMBER_RE.fullmatch(value)
    ):
        return "'" + value
    return value


def keep_leading_zeros(value: str) -> str:
    """For CSV: write values Excel would coerce (leading zeros, long digits, date-like) as ="..." text."""
    if _DIGITS_RE.fullmatch(value):
        if (len(value) >= 2 and value[0] == "0") or len(value) > _EXCEL_MAX_GENERAL_DIGITS:
            return f'="{value}"'
    elif _DIGIT_GROUPS_RE.fullmatch(value):
        return f'="{value}"'
    return value


@dataclass
class ReplacementCounter:
    """Characters replaced while encoding: total occurrences and the first few distinct ones."""

    MAX_EXAMPLES: ClassVar[int] = 20

    count: int = 0
    examples: set[str] = field(default_factory=set)

    def record(self, char: str) -> None:
        self.count += 1
        if len(self.examples) < self.MAX_EXAMPLES:
            # A lone surrogate cannot be printed or logged later; keep a visible stand-in.
            self.examples.add("\ufffd" if "\ud800" <= char <= "\udfff" else char)


def encode_cp932(text: str, counter: ReplacementCounter) -> bytes:
    """Encode for Excel on Japanese Windows; unrepresentable characters become 〓 and are counted."""
    text = text.translate(_CP932_TABLE)
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        pass
    text = _COMBINING_CLUSTER_RE.sub(lambda match: unicodedata.normalize("NFC", match.group()), text)
    parts: list[bytes] = []
    while text:
        try:
            parts.append(text.encode("cp932"))
            break
        except UnicodeEncodeError as error:
            parts.append(text[: error.start].encode("cp932"))
            for char in text[error.start : error.end]:
                counter.record(char)
            parts.append(_GETA_CP932 * (error.end - error.start))
            text = text[error.end :]
    return b"".join(parts)


def _encode_utf8(text: str, counter: ReplacementCounter) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Only lone surrogates (e.g. from a JSON "\ud842" escape) cannot be UTF-8.
        def replace(match: re.Match[str]) -> str:
            counter.record(match.group())
            return "\ufffd"

        return _LONE_SURROGATE_RE.sub(replace, text).encode("utf-8")


def _csv_cell(value: str | None) -> str:
    if value is None:
        return ""
    return keep_leading_zeros(excel_safe(str(value)))


class _LastLine:
    """File-like target for csv.writer: csv.writer writes each row with a single write() call."""

    text: str = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def csv_stream(
    header: list[str],
    rows: Iterable[Sequence[str | None]],
    *,
    encoding: str = "utf-8",
    counter: ReplacementCounter | None = None,
) -> Iterator[bytes]:
    """Stream a CSV for Excel as byte chunks (Excel dialect: CRLF, minimal quoting).

    encoding is "utf-8" (with BOM) or "cp932". The first chunk is the header; rows follow in chunks of
    about 64 KiB, read lazily from ``rows``. Invalid encodings raise ValueError at call time, before any
    response has started.
    """
    encode: Callable[[str, ReplacementCounter], bytes]
    if encoding == "utf-8":
        encode, prefix = _encode_utf8, codecs.BOM_UTF8
    elif encoding == "cp932":
        encode, prefix = encode_cp932, b""
    else:
        raise ValueError(f"unsupported CSV encoding: {encoding!r} (use 'utf-8' or 'cp932')")
    return _csv_chunks(header, rows, encode, prefix, counter if counter is not None else ReplacementCounter())


def _csv_chunks(
    header: list[str],
    rows: Iterable[Sequence[str | None]],
    encode: Callable[[str, ReplacementCounter], bytes],
    prefix: bytes,
    counter: ReplacementCounter,
) -> Iterator[bytes]:
    line = _LastLine()
    writer = csv.writer(line, dialect="excel")
    writer.writerow([_csv_cell(value) for value in header])
    yield prefix + encode(line.text, counter)

    chunk: list[bytes] = []
    size = 0
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        data = encode(line.text, counter)
        chunk.append(data)
        size += len(data)
        if size >= _CSV_CHUNK_BYTES:
            yield b"".join(chunk)
            chunk.clear()
            size = 0
    if chunk:
        yield b"".join(chunk)


def _xlsx_text(value: str) -> str:
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    # Lone surrogates cannot be written as UTF-8 XML.
    return excel_safe(_LONE_SURROGATE_RE.sub("\ufffd", value))


def xlsx_file(header: list[str], rows: Iterable[Sequence[str | None]], fileobj: IO[bytes]) -> None:
    """Write an .xlsx (constant memory) where every cell is text ("@"), so values stay as typed."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=XLSX_SHEET_TITLE)
    try:
        _write_sheet(sheet, header, rows)
        workbook.save(fileobj)
    except BaseException:
        _discard_sheet_tempfile(sheet)
        raise


def _write_sheet(sheet: WriteOnlyWorksheet, header: list[str], rows: Iterable[Sequence[str | None]]) -> None:
    # Column widths must be set before the first row in write-only mode.
    for index in range(1, len(header) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = XLSX_COLUMN_WIDTH

    bold = Font(bold=True)
    # One styled cell per column, reused for every row: openpyxl writes a row as soon as it is
    # appended, and looking the style up again for millions of cells is slow.
    body_cells: list[WriteOnlyCell] = []

    def body_cell(index: int) -> WriteOnlyCell:
        while len(body_cells) <= index:
            cell = WriteOnlyCell(sheet)
            cell.number_format = "@"
            body_cells.append(cell)
        return body_cells[index]

    def fill(cell: WriteOnlyCell, value: str | None) -> WriteOnlyCell:
        if value is None:
            cell.value = None
        else:
            cell.value = _xlsx_text(str(value))
            # openpyxl infers "f" for "=..." and "e" for "#N/A" etc.; a resident's answer is always text.
            cell.data_type = "s"
        return cell

    header_cells = []
    for value in header:
        cell = WriteOnlyCell(sheet)
        cell.font = bold
        cell.number_format = "@"
        header_cells.append(fill(cell, value))
    sheet.append(header_cells)

    for row in rows:
        sheet.append([fill(body_cell(index), value) for index, value in enumerate(row)])


def _discard_sheet_tempfile(sheet: WriteOnlyWorksheet) -> None:
    """Remove openpyxl's temporary sheet file after a failed export.

    openpyxl only deletes it when the workbook is saved (or at interpreter exit), so without this a
    long-running worker would keep partial exports, personal data included, in the temp directory.
    """
    writer = getattr(sheet, "_writer", None)
    if writer is None:  # failed before the first row: no file yet
        return
    if not sheet.closed:
        try:
            sheet.close()  # finish and close the XML stream so nothing writes to the file later
        except Exception:  # noqa: S110 - best effort; the original error is what matters
            pass
    try:
        writer.cleanup()
    except (OSError, ValueError):
        pass


def iter_file(fileobj: IO[bytes], chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield the content of a binary file from the start, e.g. a TemporaryFile holding an .xlsx."""
    fileobj.seek(0)
    while chunk := fileobj.read(chunk_size):
        yield chunk
