"""CSV and XLSX exports that municipal staff open in Excel on Japanese Windows, or load into other systems.

Design rules:

- Nothing here builds the whole file in memory: ``csv_stream`` is a generator of byte chunks and
  ``xlsx_file`` uses openpyxl's write-only mode (rows go straight to a temporary file as inline strings).
- Rows carry typed values (``Cell``): ``int``/``Decimal``/``float`` for numbers, ``date`` for dates,
  ``datetime`` for moments (an aware one is written in JST), ``str`` for everything else, ``None`` or ``""``
  for nothing. The .xlsx has number, date and text cells accordingly; the CSV writes numbers and dates
  plainly so that Excel reads them as numbers and dates, and protects only text.
- Two kinds of CSV (``purpose``):
  ``EXCEL`` (UTF-8 with BOM, or CP932): every text value stays the text the resident typed when Excel opens
  the file (``excel_text``: Excel would otherwise read "0012" as 12, "1-2" as a date, "=…" as a formula);
  ``SYSTEMS`` (UTF-8 without BOM, or CP932): the plain values, for other systems to import, no wrappers.
- Control characters never reach a file (``clean_text``), header included.
- CP932 output maps the look-alikes that Windows has under another code point (``CP932_MAPPING``: dashes,
  spaces, wave dash…) and replaces only what cannot be represented with 〓 (GETA MARK, the traditional
  "missing glyph" of Japanese printing), counting each replacement in the export's own
  ``ReplacementCounter`` so that the view can tell the user about that export.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, ClassVar, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from madoguchi.lib.japanese import CONTROL_CHARACTER_CLASS
from madoguchi.lib.timeutil import JST

__all__ = [
    "CP932_MAPPING",
    "EXCEL",
    "SYSTEMS",
    "XLSX_COLUMN_WIDTH",
    "XLSX_SHEET_TITLE",
    "Cell",
    "ReplacementCounter",
    "clean_text",
    "csv_cell",
    "csv_row_formatter",
    "csv_stream",
    "encode_cp932",
    "excel_coerces",
    "excel_text",
    "formula_led",
    "iter_file",
    "map_cp932",
    "xlsx_file",
]

Cell = str | int | float | Decimal | date | datetime | None
Purpose = Literal["excel", "systems"]
EXCEL: Purpose = "excel"
SYSTEMS: Purpose = "systems"

XLSX_SHEET_TITLE = "申請一覧"
# Wide enough for a full name or a phone number in a proportional Japanese font.
XLSX_COLUMN_WIDTH = 20
XLSX_DATE_FORMAT = "yyyy/mm/dd"
XLSX_DATETIME_FORMAT = "yyyy/mm/dd hh:mm:ss"
# Excel keeps at most this many characters (UTF-16 code units) in a cell; a longer text makes it
# "repair" the whole file, so the text is cut instead.
XLSX_MAX_CELL_CHARS = 32_767
# Excel has no dates before 1900 (and counts a 29 February 1900 that never was): earlier ones are text.
XLSX_FIRST_DATE = date(1900, 3, 1)

GETA = "\u3013"  # 〓
_GETA_CP932 = GETA.encode("cp932")

# CSV rows are collected into chunks of about this size: one chunk per row would mean a million tiny
# writes to the socket for a large export.
_CSV_CHUNK_BYTES = 64 * 1024

# --- cleaning -------------------------------------------------------------------------------------------

# The project's control characters (lib/japanese.CONTROL_CHARACTER_CLASS: C0 controls except tab and line
# breaks, DEL, C1 controls, the bidirectional overrides), CR (turned into a line feed), the two
# noncharacters XML refuses, lone surrogates (not UTF-8, not XML), and the Unicode line and paragraph
# separators (line breaks to a reader, but not to Excel or a CSV reader).
_UNWANTED_CLASS = f"{CONTROL_CHARACTER_CLASS}\r\ufffe\uffff\u2028\u2029\ud800-\udfff"
_UNWANTED_RE = re.compile(f"[{_UNWANTED_CLASS}]")
_LINE_SEPARATORS = "\r\u2028\u2029"


def clean_text(value: str, counter: ReplacementCounter | None = None) -> str:
    """The text without control characters, for any cell of any export (header included).

    Tab and line feed stay (a line break inside a cell); CR, CRLF and U+2028/U+2029 become a line feed;
    other C0 controls, DEL, C1 controls (U+0080–U+009F) and U+FFFE/U+FFFF are removed; a lone surrogate
    (e.g. from a JSON "\\ud842" escape) becomes U+FFFD and is recorded in ``counter``.
    """
    if not _UNWANTED_RE.search(value):
        return value
    value = value.replace("\r\n", "\n")

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if char in _LINE_SEPARATORS:
            return "\n"
        if "\ud800" <= char <= "\udfff":
            if counter is not None:
                counter.record(char)
            return "\ufffd"
        return ""

    return _UNWANTED_RE.sub(replace, value)


# --- Excel's reading of a CSV ---------------------------------------------------------------------------

# Characters that start a formula when Excel reads a cell. Japanese Excel takes the full-width forms like
# the ASCII ones (they are folded by NFKC below); a value led by a tab or a line break is treated alike.
_FORMULA_LEAD = frozenset(
    "=+-@\t\n"
    # Every character whose NFKC form starts with one of those (tests/lib/test_exporting.py checks the list):
    # ＝ ＋ － ＠, small and superscript/subscript forms, ⩵ ⩶, the Hebrew alternative plus sign.
    "\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u207c\u207a\u208c\u208a\u2a75\u2a76\ufb29"
)
_LEADING_SPACE = " \u3000\u00a0"

# Excel reads a CSV cell like a value typed into a cell of General format, whether the field is quoted or
# not. Besides text, a value may be read as one of these (full-width forms count as their ASCII ones on
# Japanese Windows; spaces around the value are ignored):
#
# - a number: digits with an optional sign or parentheses "(5)" for a negative, "," group separators in
#   any position ("1,2" is 12), one decimal point, an exponent "1e5" / "100E10", a percent sign "50%",
#   a currency sign before or after ("¥1,000", "$5", "1000円"), a fraction "1 1/2" or "1/2";
# - a date or a time: numbers joined by "/", "-" or "." ("4/1", "1-1", "2026/4/1"), with month names
#   ("Apr-1", "1 April"), in Japanese ("4月1日", "2026年4月1日", "令和1年5月1日", "元年"), in an era written
#   with its letter ("H31.4.1", "R1.5.1", "S60.1.1"), a time ("12:30", "12:30:15", "1:30 PM", "12時30分",
#   "午後1時"), or both;
# - a logical value: TRUE or FALSE in any case;
# - an error value: "#N/A", "#DIV/0!", "#VALUE!" and the like.
#
# A value that Excel may read so is kept as text by writing it as the formula ="…". The class below is
# wider than what Excel actually converts (a value made only of digits, the separators and signs above,
# the date and time words and the letters of eras, units and month names, as long as it has a digit):
# writing ="…" for a value Excel would have left alone shows the same text, so erring that way loses
# nothing, while the other way loses what the resident typed.
_DIGIT_RE = re.compile(r"[0-9\uff10-\uff19]")
# Words of dates and times in any language Excel reads, longest first; removed before the character check.
_DATE_WORDS_RE = re.compile(
    r"january|february|march|april|june|july|august|september|october|november|december"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|jan|feb|mar|apr|may|jun|jul|aug|sept|sep|oct|nov|dec|mon|tues|tue|wed|thurs|thu|fri|sat|sun"
    r"|明治|大正|昭和|平成|令和|午前|午後"
)
_NUMERIC_CHARS_RE = re.compile(
    r"[0-9 \t+\-−‐‑‒–—―()\[\].,/:%$¥\\€£¢円年月日時分秒半曜火水木金土元明大昭平令amphrste]*"
)
# Single characters that can never be in a number, date, time, logical or error value: a value holding
# one of them is text to Excel. Checked first, so that names and addresses skip the slower checks.
_CERTAINLY_TEXT_RE = re.compile(
    r"[^0-9０-９\s+\-−‐‑‒–—―－＋()（）\[\]［］.,/:%$¥\\€£¢．，／：％＄￥￡￠＼円年月日時分秒半曜火水木金土元"
    r"午前後明治大正昭和平成令㍾㍽㍼㍻㋿A-Za-zＡ-Ｚａ-ｚ#!?＃！？]"
)
_DIGITS_AND_SEPARATORS_RE = re.compile(r"[0-9][0-9\-/.:,]*")
_LOGICAL_RE = re.compile(r"\s*(?:true|false)\s*")
_ERROR_RE = re.compile(r"\s*#[a-z0-9/_]+[!?]?\s*")


def formula_led(value: str) -> bool:
    """Whether Excel would read ``value`` as a formula: it starts (after spaces) with = + - @, their
    full-width forms ＝ ＋ － ＠, a tab, or a line break (CR is a line break after ``clean_text``)."""
    if value[:1] in _LEADING_SPACE:
        value = value.lstrip(_LEADING_SPACE)
    return value[:1] in _FORMULA_LEAD if value else False


def excel_coerces(value: str) -> bool:
    """Whether Excel, opening a CSV, might read ``value`` as a number, date, time, logical or error value
    instead of the text it is (see the rules above this function's definition in the source)."""
    if _DIGITS_AND_SEPARATORS_RE.fullmatch(value):  # the usual case: phone, postal code, number, date
        return True
    if _CERTAINLY_TEXT_RE.search(value):
        return False
    folded = unicodedata.normalize("NFKC", value).casefold()
    if not _DIGIT_RE.search(value):
        return bool(_LOGICAL_RE.fullmatch(folded) or _ERROR_RE.fullmatch(folded))
    if "\n" in folded:
        return False
    return bool(_NUMERIC_CHARS_RE.fullmatch(_DATE_WORDS_RE.sub("", folded)) or _ERROR_RE.fullmatch(folded))


# Excel refuses a string constant longer than 255 characters in a formula (UTF-16 code units: 120
# characters are at most 240 of them) and a formula longer than 8,192 characters.
_EXCEL_STRING_PIECE = 120
_EXCEL_MAX_FORMULA = 8_192


def _text_formula(value: str) -> str | None:
    """="…" giving ``value`` as text: pieces joined by &, line breaks as CHAR(10); None if too long."""
    if len(value) <= _EXCEL_STRING_PIECE and "\n" not in value:  # the usual case: one piece
        return '="' + value.replace('"', '""') + '"'
    pieces = []
    for index, line in enumerate(value.split("\n")):
        if index:
            pieces.append("CHAR(10)")
        for start in range(0, len(line), _EXCEL_STRING_PIECE):
            chunk = line[start : start + _EXCEL_STRING_PIECE].replace('"', '""')
            pieces.append(f'"{chunk}"')
    formula = "=" + "&".join(pieces or ['""'])
    if len(formula.encode("utf-16-le")) // 2 > _EXCEL_MAX_FORMULA:
        return None
    return formula


def excel_text(value: str) -> str:
    """A text value for a CSV that Excel opens: as it is, or written so that Excel shows exactly it as text.

    A value Excel would read as a formula (``formula_led``: "=SUM(A1)", "-5", "＝1", "@x", a tab first) or
    as a number, date, time, logical or error value (``excel_coerces``: "0012", "1-2", "100E10", "(5)",
    "50%", "¥1,000", "4月1日", "H31.4.1", "12:30", "TRUE", "#N/A") is written as the formula ="…" (pieces
    joined by &, line breaks as CHAR(10)), which Excel shows as that very text and never evaluates as
    anything else. A value too long for an Excel formula (over 8,192 characters) is prefixed with "'"
    instead, which Excel shows but does not evaluate. Anything else is returned unchanged.
    """
    first = value[:1]
    if not (
        first in _FORMULA_LEAD or (first in _LEADING_SPACE and formula_led(value)) or excel_coerces(value)
    ):
        return value
    formula = _text_formula(value)
    return formula if formula is not None else "'" + value


# --- CP932 ----------------------------------------------------------------------------------------------

# Characters whose look (and meaning) exists in CP932 under another code point: the left-hand one is
# written as the right-hand one. Windows decodes the CP932 bytes of each right-hand character to exactly
# that character (MultiByteToWideChar, i.e. Excel; Python's cp932 codec agrees). Mac and JIS based input,
# copy-paste from PDFs and web pages and some IMEs produce the left-hand ones. A character with no such
# equivalent (𠮷, emoji, €, ©, superscript minus…) becomes 〓 and is counted.
CP932_MAPPING: dict[str, str] = {
    # Waves and tildes
    "\u301c": "\uff5e",  # 〜 WAVE DASH -> ～ FULLWIDTH TILDE (0x8160)
    "\u223c": "\uff5e",  # ∼ TILDE OPERATOR -> ～
    "\u2053": "\uff5e",  # ⁓ SWUNG DASH -> ～
    "\u3030": "\uff5e",  # 〰 WAVY DASH -> ～
    "\u02dc": "~",  # ˜ SMALL TILDE -> ~
    # Vertical lines
    "\u2016": "\u2225",  # ‖ DOUBLE VERTICAL LINE -> ∥ PARALLEL TO (0x8161)
    "\u2223": "\uff5c",  # ∣ DIVIDES -> ｜ (0x8162)
    # Minus signs: the full-width hyphen-minus is CP932's minus (0x817C)
    "\u2212": "\uff0d",  # − MINUS SIGN
    "\u2796": "\uff0d",  # ➖ HEAVY MINUS SIGN
    # Hyphens and short dashes
    "\u2011": "\u2010",  # ‑ NON-BREAKING HYPHEN -> ‐ HYPHEN (0x815D)
    "\u2012": "-",  # ‒ FIGURE DASH (between digits: 090‒1234‒5678)
    "\u2013": "-",  # – EN DASH
    "\ufe32": "-",  # ︲ PRESENTATION FORM FOR VERTICAL EN DASH
    "\u2043": "-",  # ⁃ HYPHEN BULLET
    "\u02d7": "-",  # ˗ MODIFIER LETTER MINUS SIGN
    "\ufe63": "-",  # ﹣ SMALL HYPHEN-MINUS
    # Long dashes: JIS's 全角ダッシュ is ― HORIZONTAL BAR (0x815C)
    "\u2014": "\u2015",  # — EM DASH
    "\ufe58": "\u2015",  # ﹘ SMALL EM DASH
    "\ufe31": "\u2015",  # ︱ PRESENTATION FORM FOR VERTICAL EM DASH
    "\u2e3a": "\u2015\u2015",  # ⸺ TWO-EM DASH
    "\u2e3b": "\u2015\u2015\u2015",  # ⸻ THREE-EM DASH
    # Double hyphens, written ＝ in Japanese (ジャン゠ポール = ジャン＝ポール)
    "\u30a0": "\uff1d",  # ゠ KATAKANA-HIRAGANA DOUBLE HYPHEN
    "\u2e40": "\uff1d",  # ⹀ DOUBLE HYPHEN
    # Middle dots (names written in katakana: ジョン·スミス)
    "\u00b7": "\u30fb",  # · MIDDLE DOT -> ・ (0x8145)
    "\u2022": "\u30fb",  # • BULLET
    "\u2027": "\u30fb",  # ‧ HYPHENATION POINT
    "\u22c5": "\u30fb",  # ⋅ DOT OPERATOR
    # Signs: the full-width forms are the ones CP932 has
    "\u00a2": "\uffe0",  # ¢ -> ￠ (0x8191)
    "\u00a3": "\uffe1",  # £ -> ￡ (0x8192)
    "\u00ac": "\uffe2",  # ¬ -> ￢ (0x81CA)
    "\u00a6": "\uffe4",  # ¦ -> ￤ (IBM extension)
    "\u00a5": "\uffe5",  # ¥ (macOS yen key) -> ￥ (0x818F); mapping to 0x5C would show "\" in many fonts
    "\u203e": "\uffe3",  # ‾ OVERLINE -> ￣ (0x8150)
    "\u00ab": "\u226a",  # « -> ≪
    "\u00bb": "\u226b",  # » -> ≫
    "\u00b5": "\u03bc",  # µ MICRO SIGN -> μ
    "\u2215": "/",  # ∕ DIVISION SLASH
    # Not mapped: U+2010 HYPHEN and U+2015 HORIZONTAL BAR are themselves in CP932 (0x815D, 0x815C).
}
# Every space look-alike is a space to the reader: NBSP (copy-paste from web pages and Word), the
# typographic spaces U+2000–U+200A, U+202F, U+205F, U+1680. U+3000 IDEOGRAPHIC SPACE is in CP932.
for _code in (0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F):
    CP932_MAPPING[chr(_code)] = " "
del _code

# Invisible characters CP932 cannot express are dropped rather than shown as 〓: zero-width spaces and
# joiners, the soft hyphen, the word joiner, a BOM inside a text, and variation selectors (U+FE00-FE0F,
# IVS U+E0100-E01EF), which only pick a glyph variant of the preceding character (葛󠄀 stays 葛).
_CP932_DROPPED = [
    0x00AD,
    0x180E,
    0x200B,
    0x200C,
    0x200D,
    0x2060,
    0xFEFF,
    *range(0xFE00, 0xFE10),
    *range(0xE0100, 0xE01F0),
]
_CP932_TABLE: dict[int, str | None] = {
    **{ord(source): target for source, target in CP932_MAPPING.items()},
    **dict.fromkeys(_CP932_DROPPED),
}
# A base character followed by combining marks (e.g. decomposed か + U+3099 from macOS file names).
# NFC composes it to が, which CP932 has. Only such clusters are normalised: NFC on the whole text would
# also rewrite CJK compatibility ideographs (e.g. U+F929 朗) that CP932 has as they are.
_COMBINING_CLUSTER_RE = re.compile(r".[\u0300-\u036f\u3099\u309a]+", re.DOTALL)
# Any character map_cp932 changes: one search decides that most texts need nothing.
_CP932_ATTENTION_CLASS = (
    "".join(re.escape(source) for source in CP932_MAPPING)
    + "".join(re.escape(chr(code)) for code in _CP932_DROPPED if code < 0xFE00 or code == 0xFEFF)
    + "\ufe00-\ufe0f\U000e0100-\U000e01ef\u0300-\u036f\u3099\u309a"
)
_CP932_ATTENTION_RE = re.compile(f"[{_CP932_ATTENTION_CLASS}]")


def map_cp932(text: str) -> str:
    """``text`` with the look-alikes of ``CP932_MAPPING`` replaced by what CP932 has, invisible characters
    it cannot express dropped, and decomposed kana composed. Characters CP932 has not are left as they are
    (``encode_cp932`` replaces them with 〓)."""
    if text.isascii() or not _CP932_ATTENTION_RE.search(text):  # the usual case: nothing to do
        return text
    text = text.translate(_CP932_TABLE)
    return _COMBINING_CLUSTER_RE.sub(lambda match: unicodedata.normalize("NFC", match.group()), text)


@dataclass
class ReplacementCounter:
    """The characters one export replaced while encoding: total occurrences and the first few distinct ones.

    Make one per export (never share one between exports): the view reports its numbers with that export.
    """

    MAX_EXAMPLES: ClassVar[int] = 20

    count: int = 0
    examples: set[str] = field(default_factory=set)

    def record(self, char: str) -> None:
        self.count += 1
        if len(self.examples) < self.MAX_EXAMPLES:
            # A lone surrogate cannot be printed or logged later; keep a visible stand-in.
            self.examples.add("\ufffd" if "\ud800" <= char <= "\udfff" else char)


def encode_cp932(text: str, counter: ReplacementCounter) -> bytes:
    """Encode for Excel on Japanese Windows (``map_cp932`` first); unrepresentable characters become 〓,
    each recorded in ``counter``."""
    return _encode_mapped_cp932(map_cp932(text), counter)


def _encode_mapped_cp932(text: str, counter: ReplacementCounter) -> bytes:
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        pass
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
    # clean_text has replaced lone surrogates, the only characters that cannot be UTF-8.
    return text.encode("utf-8", "replace")


# --- CSV ------------------------------------------------------------------------------------------------


def _jst_naive(moment: datetime) -> datetime:
    """An aware datetime as JST wall-clock time, to the second; a naive one is taken as it is."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(JST).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _plain(value: Cell) -> str | None:
    """A typed value as CSV text, or None if it is text (``str``) to be cleaned and protected."""
    if value is None:
        return ""
    if isinstance(value, str):
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return _jst_naive(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return None


class _LastLine:
    """File-like target for csv.writer: csv.writer writes each row with a single write() call."""

    text: str = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def csv_stream(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    encoding: str = "utf-8",
    counter: ReplacementCounter | None = None,
    purpose: Purpose = EXCEL,
) -> Iterator[bytes]:
    """Stream a CSV as byte chunks (CRLF between rows, minimal quoting, line breaks kept in quoted cells).

    ``encoding`` is "utf-8" or "cp932" (Shift_JIS as Windows has it). ``purpose`` is ``EXCEL`` (UTF-8 gets
    a BOM, without which Excel reads CP932; text cells go through ``excel_text``) or ``SYSTEMS`` (no BOM,
    plain values). Numbers are written plainly ("1234.5"), dates as "2026-04-01", datetimes as
    "2026-04-01 09:30:00" in JST; every text cell, header included, is cleaned (``clean_text``) and, for
    CP932, mapped (``map_cp932``) before it is protected, so a mapped dash cannot start a formula.
    Characters replaced (〓, or U+FFFD for a lone surrogate) are recorded in ``counter``: pass a new one per
    export. The first chunk is the header; rows follow in chunks of about 64 KiB, read lazily from
    ``rows``. An invalid encoding or purpose raises ValueError at call time, before any response starts.
    """
    encode: Callable[[str, ReplacementCounter], bytes]
    if encoding == "utf-8":
        encode = _encode_utf8
        prefix = codecs.BOM_UTF8 if purpose == EXCEL else b""
    elif encoding == "cp932":
        encode, prefix = _encode_mapped_cp932, b""  # each cell is mapped (map_cp932) before it is protected
    else:
        raise ValueError(f"unsupported CSV encoding: {encoding!r} (use 'utf-8' or 'cp932')")
    if purpose not in (EXCEL, SYSTEMS):
        raise ValueError(f"unsupported CSV purpose: {purpose!r} (use 'excel' or 'systems')")
    counter = counter if counter is not None else ReplacementCounter()
    row_texts = csv_row_formatter(counter, encoding=encoding, purpose=purpose)

    def header_cell(value: Cell) -> str:
        return csv_cell(value, counter, encoding=encoding, purpose=purpose)

    return _csv_chunks(header, rows, header_cell, row_texts, encode, prefix, counter)


def csv_cell(
    value: Cell, counter: ReplacementCounter, *, encoding: str = "utf-8", purpose: Purpose = EXCEL
) -> str:
    """One cell of a CSV row as its text, before the row is joined and encoded: the rules of ``csv_stream``.

    ``None`` is ""; a number, date or datetime is written plainly (``_plain``); anything else is taken as
    text (``str``), cleaned (``clean_text``, lone surrogates recorded in ``counter``), mapped for CP932
    (``map_cp932``) when ``encoding`` is "cp932", then protected (``excel_text``) when ``purpose`` is
    ``EXCEL``. ``csv_row_formatter`` gives the same texts faster, a row at a time.
    """
    if type(value) is not str:
        plain = _plain(value)
        if plain is not None:
            return plain
        value = str(value)
    text = clean_text(value, counter) if _UNWANTED_RE.search(value) else value
    if encoding == "cp932":
        text = map_cp932(text)
    return excel_text(text) if purpose == EXCEL else text


# A text cell in which every character matches one of these is written as it is (``csv_cell`` changes
# nothing): no character that ``clean_text`` removes or replaces, none that ``map_cp932`` maps (CP932
# only), and for Excel a first character that cannot start a formula or a space. For Excel the text must
# also hold a character of _CERTAINLY_TEXT_RE (then Excel cannot read it as anything but text).
_FORMULA_OR_SPACE_CLASS = "".join(re.escape(char) for char in sorted(_FORMULA_LEAD | set(_LEADING_SPACE)))


def _unchanged_text_re(encoding: str, purpose: Purpose) -> re.Pattern[str]:
    kept = _UNWANTED_CLASS + (_CP932_ATTENTION_CLASS if encoding == "cp932" else "")
    if purpose == EXCEL:
        return re.compile(f"[^{_FORMULA_OR_SPACE_CLASS}{kept}][^{kept}]*")
    return re.compile(f"[^{kept}]*")


# Protected texts are remembered within an export: a choice's options come back on every row (a phone
# number or a receipt number never does). Only short ones, and no more once this many are remembered, so
# that memory stays flat whatever the export holds.
_REMEMBERED_TEXTS = 1024
_REMEMBERED_TEXT_CHARS = 200


def csv_row_formatter(
    counter: ReplacementCounter, *, encoding: str = "utf-8", purpose: Purpose = EXCEL
) -> Callable[[Sequence[Cell]], list[str]]:
    """A function from a row of cells to their texts, each exactly ``csv_cell(value, counter, ...)``.

    The work that does not depend on the value is done once here: the rules for each type of cell are
    chosen by the value's exact type (``str``, ``None``, ``int``, ``Decimal``, ``date``, ``datetime``...;
    anything else goes through ``csv_cell``), and a text that none of the rules would change (most names,
    addresses and e-mail addresses) is recognised by a single match and passed through, and a text of
    digits and separators (phone numbers, receipt numbers) is written as ="…" directly. Other texts go
    through ``csv_cell``; a short one is remembered (unless its cleaning recorded a replacement in
    ``counter``), so a choice's options are computed once per export.
    """
    if encoding not in ("utf-8", "cp932"):
        raise ValueError(f"unsupported CSV encoding: {encoding!r} (use 'utf-8' or 'cp932')")
    if purpose not in (EXCEL, SYSTEMS):
        raise ValueError(f"unsupported CSV purpose: {purpose!r} (use 'excel' or 'systems')")
    unchanged = _unchanged_text_re(encoding, purpose).fullmatch
    certainly_text = _CERTAINLY_TEXT_RE.search if purpose == EXCEL else None
    numeric = _DIGITS_AND_SEPARATORS_RE.fullmatch
    remembered: dict[str, str] = {}

    def text(value: str) -> str:
        known = remembered.get(value)
        if known is not None:
            return known
        count = counter.count
        result = csv_cell(value, counter, encoding=encoding, purpose=purpose)
        if (
            counter.count == count
            and len(value) <= _REMEMBERED_TEXT_CHARS
            and len(remembered) < _REMEMBERED_TEXTS
        ):
            remembered[value] = result
        return result

    def other(value: Cell) -> str:
        return csv_cell(value, counter, encoding=encoding, purpose=purpose)

    plain: dict[type, Callable[[Cell], str]] = {
        int: str,
        float: str,
        Decimal: _decimal_text,
        date: date.isoformat,
        datetime: _datetime_text,
        bool: _plain,  # type: ignore[dict-item]
    }
    plain_get = plain.get

    def row(values: Sequence[Cell]) -> list[str]:
        texts = []
        append = texts.append
        for value in values:
            kind = type(value)
            if kind is str:
                if unchanged(value):
                    if certainly_text is None or certainly_text(value):
                        append(value)
                    elif len(value) <= _EXCEL_STRING_PIECE and numeric(value):
                        # A phone number, a receipt number, a date typed as digits: excel_text's usual case,
                        # a single piece ="…" (digits and separators hold no quote to double).
                        append('="' + value + '"')
                    else:
                        append(text(value))
                else:
                    append(text(value))
            elif value is None:
                append("")
            else:
                append((plain_get(kind) or other)(value))
        return texts

    return row


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _datetime_text(value: datetime) -> str:
    """``_plain`` of a datetime: JST wall-clock time to the second, "2026-04-01 09:30:00"."""
    if value.tzinfo is not None:
        value = value.astimezone(JST)
    if value.year >= 1000:  # isoformat pads the year to four digits; strftime("%Y") may not
        return value.isoformat(" ", "seconds")[:19]
    return _jst_naive(value).strftime("%Y-%m-%d %H:%M:%S")


def _csv_chunks(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    header_cell: Callable[[Cell], str],
    row_texts: Callable[[Sequence[Cell]], list[str]],
    encode: Callable[[str, ReplacementCounter], bytes],
    prefix: bytes,
    counter: ReplacementCounter,
) -> Iterator[bytes]:
    line = _LastLine()
    writer = csv.writer(line, dialect="excel")
    writer.writerow([header_cell(value) for value in header])
    yield prefix + encode(line.text, counter)

    chunk: list[bytes] = []
    size = 0
    for row in rows:
        writer.writerow(row_texts(row))
        data = encode(line.text, counter)
        chunk.append(data)
        size += len(data)
        if size >= _CSV_CHUNK_BYTES:
            yield b"".join(chunk)
            chunk.clear()
            size = 0
    if chunk:
        yield b"".join(chunk)


# --- XLSX -----------------------------------------------------------------------------------------------


def _xlsx_text(value: str) -> str:
    value = clean_text(value)
    if len(value) > XLSX_MAX_CELL_CHARS // 2 and len(value.encode("utf-16-le")) // 2 > XLSX_MAX_CELL_CHARS:
        value = value.encode("utf-16-le")[: XLSX_MAX_CELL_CHARS * 2].decode("utf-16-le", "ignore")
    return value


def xlsx_file(header: Sequence[str], rows: Iterable[Sequence[Cell]], fileobj: IO[bytes]) -> None:
    """Write an .xlsx (constant memory): one sheet, a bold header row, then one row per item of ``rows``.

    Numbers (``int``, ``Decimal``, ``float``) are number cells; a ``date`` is a date cell (yyyy/mm/dd) and a
    ``datetime`` a date-and-time cell (yyyy/mm/dd hh:mm:ss, an aware one in JST, to the second); a date
    before 1 March 1900, which Excel cannot show, is the text "1899-12-31"; anything
    else is an inline string cell of text format "@", never a formula or an error value ("=SUM(A1)" and
    "#N/A" are the text typed), written without any apostrophe, control characters removed
    (``clean_text``: tab and line feed stay). A text over Excel's 32,767 characters is cut there.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=XLSX_SHEET_TITLE)
    try:
        _write_sheet(sheet, header, rows)
        workbook.save(fileobj)
    except BaseException:
        _discard_sheet_tempfile(sheet)
        raise


_TEXT, _NUMBER, _DATE, _DATETIME = range(4)
_FORMATS = {_TEXT: "@", _NUMBER: "General", _DATE: XLSX_DATE_FORMAT, _DATETIME: XLSX_DATETIME_FORMAT}


def _write_sheet(sheet: WriteOnlyWorksheet, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
    # Column widths must be set before the first row in write-only mode.
    for index in range(1, len(header) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = XLSX_COLUMN_WIDTH

    # One styled cell per column and kind, reused for every row: openpyxl writes a row as soon as it is
    # appended, and looking the style up again for millions of cells is slow.
    body_cells: dict[tuple[int, int], WriteOnlyCell] = {}

    def body_cell(index: int, kind: int) -> WriteOnlyCell:
        cell = body_cells.get((index, kind))
        if cell is None:
            cell = body_cells[index, kind] = WriteOnlyCell(sheet)
            cell.number_format = _FORMATS[kind]
        return cell

    def fill(index: int, value: Cell) -> WriteOnlyCell | None:
        if value is None or value == "":
            return None
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            cell = body_cell(index, _NUMBER)
            cell.value = value
        elif isinstance(value, datetime):
            cell = body_cell(index, _DATETIME)
            cell.value = _jst_naive(value)
        elif isinstance(value, date) and value >= XLSX_FIRST_DATE:
            cell = body_cell(index, _DATE)
            cell.value = value
        elif isinstance(value, date):
            cell = body_cell(index, _TEXT)
            cell.value = value.isoformat()
            cell.data_type = "s"
        else:
            cell = body_cell(index, _TEXT)
            cell.value = _xlsx_text(str(value))
            # openpyxl infers "f" for "=..." and "e" for "#N/A"; a resident's answer is always text.
            cell.data_type = "s"
        return cell

    bold = Font(bold=True)
    header_cells = []
    for value in header:
        cell = WriteOnlyCell(sheet)
        cell.font = bold
        cell.number_format = "@"
        cell.value = _xlsx_text(str(value))
        cell.data_type = "s"
        header_cells.append(cell)
    sheet.append(header_cells)

    for row in rows:
        sheet.append([fill(index, value) for index, value in enumerate(row)])


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
