"""Paper where the office still needs paper: a case as PDF for internal approval (決裁), the resident's
控え as PDF, and a case's attachments as one ZIP, streamed.

PDFs are made with fpdf2 (pure Python) and a Japanese OpenType/TrueType font embedded as a subset, so
that names such as 髙橋 﨑子 and 𠮷田 (U+20BB7, outside the BMP) print and copy out intact. The font is
settings.PDF_FONT_PATH, or the first of KNOWN_FONT_PATHS found (Debian's fonts-noto-cjk first). Without
one, FontUnavailable says so in Japanese and the views show that instead of a 500.

Callers authorise first (accounts.access for staff, the session for a resident): nothing here checks who
asks, and nothing here writes to the database or to a log.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import tempfile
import threading
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode

from madoguchi.lib import envelope
from madoguchi.lib.timeutil import JST
from madoguchi.procedures import rules
from madoguchi.procedures.models import FormVersion
from madoguchi.submissions import intake
from madoguchi.submissions.answers import read_answers, read_revision
from madoguchi.submissions.models import Attachment, Submission
from madoguchi.submissions.services import status_label

# fpdf2 warns of characters the font lacks by quoting them: they come from residents' answers, and
# personal data never goes to a log. Characters the font lacks are handled here instead (MISSING_MARK).
logging.getLogger("fpdf").setLevel(logging.ERROR)
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)  # lists every glyph kept: noise

# Where a Japanese font usually is: Debian/Ubuntu (fonts-noto-cjk, as CI installs it; IPAex), Fedora,
# Arch, macOS and Windows. The first that exists is used; PDF_FONT_PATH comes before all of them.
KNOWN_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/System/Library/Fonts/ヒラギノ角ゴシック W3.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/YuGothR.ttc",
    "C:/Windows/Fonts/msgothic.ttc",
)
FONT_UNAVAILABLE_MESSAGE = gettext_lazy(
    "PDFを作るための日本語フォントがこのサーバーに見つからないため、PDFを作成できません。"
    "システム管理者に連絡してください（日本語フォント fonts-noto-cjk を導入するか、"
    "設定 PDF_FONT_PATH でフォントファイルを指定します）。"
)
# 〓 (geta): the mark Japanese print has long used for a character the type case lacks.
MISSING_MARK = "〓"
# The 決裁 stamp boxes of the case PDF, in the order a 起案 climbs: the usual line of a 課.
STAMP_BOXES = (
    gettext_lazy("課長"),
    gettext_lazy("課長補佐"),
    gettext_lazy("係長"),
    gettext_lazy("起案者"),
)
# A long answer is cut into rows of about this many characters (at newlines where it can), so that no
# table row is taller than a page.
ROW_CHARS = 700
READ_CHUNK = 64 * 1024  # bytes read from storage at a time into the ZIP
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class FontUnavailable(Exception):
    """No usable Japanese font: the message (Japanese) is for the page the view shows instead."""

    def __init__(self) -> None:
        super().__init__(str(FONT_UNAVAILABLE_MESSAGE))


@dataclass(frozen=True)
class FontChoice:
    path: Path
    index: int  # the face in a collection (.ttc): the Japanese one


def find_font() -> FontChoice:
    """The font for PDFs: settings.PDF_FONT_PATH if set (and readable), else the first of
    KNOWN_FONT_PATHS that exists. In a collection (.ttc) the face whose name says Japanese ("JP",
    "Gothic", 日本語 names) is chosen, else the first.

    Raises FontUnavailable if none is found (PDF_FONT_PATH naming a missing file included).
    """
    configured = getattr(settings, "PDF_FONT_PATH", "")
    candidates = [configured] if configured else list(KNOWN_FONT_PATHS)
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and os.access(path, os.R_OK):
            stat = path.stat()
            return FontChoice(path, _japanese_face(str(path), stat.st_size, stat.st_mtime_ns))
    raise FontUnavailable


@lru_cache(maxsize=8)
def _japanese_face(path: str, size: int, mtime_ns: int) -> int:
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    try:
        collection = TTCollection(path, lazy=True)
    except Exception as exc:  # not a font collection after all
        raise FontUnavailable from exc
    for index, face in enumerate(collection.fonts):
        name = face["name"].getDebugName(4) or ""
        if name.endswith(" JP") or "Gothic" in name or "ゴシック" in name:
            return index
    return 0


def has_font() -> bool:
    try:
        find_font()
    except FontUnavailable:
        return False
    return True


# ---------------------------------------------------------------------------------------------------
# A prepared font: the Japanese repertoire of a large font, so that a PDF costs a quarter of the CPU
#
# Noto Sans CJK holds 65,535 glyphs: fpdf2 reads all their widths and subsets the whole font for every
# PDF (about 0.7 s of CPU for a 50-field case). The characters of Japanese text (JIS X 0208, JIS X 0213,
# the IBM extensions of CP932 such as 髙 and 﨑, and 𠮷) are about 16,500 of them: a font of just those,
# made once per machine and kept in the temporary folder, makes a PDF in about 0.2 s. It is made in a
# background thread the first time a PDF is asked for (about 8 s of CPU; PDFs use the whole font
# meanwhile), and any document with a character outside it still uses the whole font.

PREPARED_FONT_VERSION = 1
LARGE_FONT_BYTES = 8 * 1024 * 1024  # smaller fonts (IPAex: 4 MB) are fast enough as they are
EXTRA_CHARACTERS = "𠮷"  # in names, outside JIS X 0213: 𠮷 (U+20BB7, つちよし)
_prepare_lock = threading.Lock()
_preparing: set[str] = set()


def prepared_font_path(choice: FontChoice) -> Path:
    """Where the prepared font of `choice` is kept: the temporary folder, named by the source font's
    path, size, modification time and face, so a new font (or a new version of it) is prepared anew."""
    stat = choice.path.stat()
    key = f"{PREPARED_FONT_VERSION}|{choice.path}|{stat.st_size}|{stat.st_mtime_ns}|{choice.index}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return Path(tempfile.gettempdir()) / "madoguchi-pdf-fonts" / f"{digest}.otf"


def japanese_repertoire() -> frozenset[int]:
    """Code points of Japanese text: every character CP932 or EUC-JIS-2004 (JIS X 0213) encodes, and
    EXTRA_CHARACTERS. About 16,500."""
    points = set(map(ord, EXTRA_CHARACTERS))
    for codec in ("cp932", "euc_jis_2004"):
        for point in range(0x20, 0x30000):
            if 0xD800 <= point <= 0xDFFF:
                continue
            try:
                chr(point).encode(codec)
            except UnicodeEncodeError:
                continue
            points.add(point)
    return frozenset(points)


def prepare_font(choice: FontChoice) -> Path:
    """Make the prepared font of `choice` now (about 8 s of CPU for Noto Sans CJK) and return its path.
    Written to a temporary name and renamed: a reader never sees half a file."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    target = prepared_font_path(choice)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    font = TTFont(
        str(choice.path), fontNumber=choice.index, lazy=True, recalcTimestamp=False, recalcBBoxes=False
    )
    options = subset.Options()
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "meta", "DSIG"]
    options.layout_features = []
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.recalc_bounds = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=japanese_repertoire())
    subsetter.subset(font)
    partial = target.with_name(f"{target.stem}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        font.save(str(partial))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _prepare_in_background(choice: FontChoice) -> None:
    """Start prepare_font in a thread, once per process, and not while another running process is at it
    (its lock file, younger than 15 minutes)."""
    target = prepared_font_path(choice)
    with _prepare_lock:
        if str(target) in _preparing:
            return
        _preparing.add(str(target))
    lock = target.with_suffix(".lock")

    def work() -> None:
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _ours(target.parent):
                return
            if lock.exists() and time.time() - lock.stat().st_mtime < 15 * 60 and _alive(lock):
                return
            lock.write_text(str(os.getpid()))
            try:
                prepare_font(choice)
            finally:
                lock.unlink(missing_ok=True)
        except Exception:  # the whole font keeps working; the next process tries again
            logging.getLogger(__name__).exception("Could not prepare the PDF font")

    threading.Thread(target=work, name="pdf-font", daemon=True).start()


def _ours(folder: Path) -> bool:
    """Whether this process's user owns `folder` (where there are users to tell apart)."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or folder.stat().st_uid == getuid()


def _alive(lock: Path) -> bool:
    """Whether the process that wrote the lock file still runs (one that stopped leaves it behind)."""
    try:
        os.kill(int(lock.read_text().strip()), 0)
    except (ValueError, OSError):
        return False
    return True


@lru_cache(maxsize=4)
def _coverage(path: str, mtime_ns: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _font_for(document: Document) -> FontChoice:
    """The prepared font if it is there and has every character of `document`, else the whole font
    (whose prepared font is then started in the background if it is large)."""
    choice = find_font()
    if choice.path.stat().st_size < LARGE_FONT_BYTES:
        return choice
    prepared = prepared_font_path(choice)
    try:
        if not _ours(prepared.parent):  # a folder another user made in /tmp: its files are not trusted
            return choice
        covered = _coverage(str(prepared), prepared.stat().st_mtime_ns)
    except FileNotFoundError:
        _prepare_in_background(choice)
        return choice
    except Exception:  # unreadable (a disk error, a file not ours): the whole font, as before
        return choice
    if all(ord(c) in covered for c in _document_text(document) if c not in "\n\t\r"):
        return FontChoice(prepared, 0)
    return choice


def _document_text(document: Document) -> str:
    parts = [document.title, document.organization, document.notice, document.footer, *document.stamps]
    parts += [text for fact in document.facts for text in fact]
    parts += [text for row in document.rows for text in (row.label, row.value)]
    parts += [text for entry in document.history for text in entry]
    return "".join(map(str, parts)) + "〓0123456789/（続き）"


# ---------------------------------------------------------------------------------------------------
# What the documents say


@dataclass
class Row:
    label: str = ""
    value: str = ""
    heading: bool = False


@dataclass
class Document:
    """One PDF's content, built from a submission; render() lays it out."""

    title: str
    organization: str
    facts: list[tuple[str, str]]
    rows: list[Row]
    history: list[tuple[str, str, str, str]] = field(default_factory=list)  # when (JST), move, who, reason
    stamps: tuple = ()
    notice: str = ""
    footer: str = ""


def _jst(moment: datetime | None, *, seconds: bool = True) -> str:
    """A moment as JST for people: 2026年4月1日 09:30:05."""
    if moment is None:
        return ""
    local = moment.astimezone(JST)
    text = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{text}:{local:%S}" if seconds else text


def answer_rows(submission: Submission, answers: dict | None = None, *, resident: bool = False) -> list[Row]:
    """Label and display text of every question the resident was asked, in form order, as the staff
    page shows them (a question the resident's answers did not lead to is left out). `resident`: in
    the resident's language where the form has it (the 控え), else the Japanese labels (staff)."""
    spec = submission.form_version.spec
    answers = read_answers(submission) if answers is None else answers
    shown = set(rules.evaluate(spec, answers).shown) if spec.has_rules else None
    rows = []
    for item in rules.field_order(spec):
        if shown is not None and item.key not in shown:
            continue
        label = item.shown_label if resident else item.label
        if item.type == "heading":
            rows.append(Row(label=label, heading=True))
            continue
        rows.append(Row(label=label, value=intake.display_value(item, answers.get(item.key))))
    return rows


def _organization_line(submission: Submission) -> str:
    department = submission.procedure.department
    return f"{submission.organization.name} {department.name}" if department else submission.organization.name


def case_document(submission: Submission, *, printed_by: str = "", now: datetime | None = None) -> Document:
    """The 決裁用 document of a case: facts, every answer shown to staff, the history with who moved
    it and why, the earlier answers of each 補正, and the stamp boxes. `printed_by`: the staff user's
    login, printed in the footer beside the time (JST) it was made."""
    procedure = submission.procedure
    now = now or timezone.now()
    not_answered = gettext("（未入力）")
    facts = [
        (gettext("団体・所属"), _organization_line(submission)),
        (gettext("手続名"), procedure.title),
        (gettext("受付番号"), submission.display_receipt_number),
        (gettext("到達日時"), _jst(submission.submitted_at)),
        (gettext("状態"), status_label(procedure.kind, submission.status)),
        (gettext("フォーム"), gettext("第%(number)s版") % {"number": submission.form_version.number}),
        (gettext("担当者"), submission.assignee.username if submission.assignee else gettext("未割当")),
    ]
    if submission.correction_deadline:
        day = submission.correction_deadline
        facts.append((gettext("補正期限"), f"{day.year}年{day.month}月{day.day}日"))
    rows = [
        r if r.heading else Row(label=r.label, value=r.value or not_answered) for r in answer_rows(submission)
    ]
    rows += _revision_rows(submission)
    history = []
    for change in submission.history.select_related("actor"):
        move = status_label(procedure.kind, change.to_status)
        if change.from_status:
            move = f"{status_label(procedure.kind, change.from_status)} → {move}"
        who = change.actor.username if change.actor else change.get_actor_kind_display()
        history.append((_jst(change.created_at), move, str(who), change.display_reason))
    return Document(
        title=gettext("申請内容（決裁用）"),
        organization=submission.organization.name,
        facts=facts,
        rows=rows,
        history=history,
        stamps=tuple(str(s) for s in STAMP_BOXES),
        footer=gettext("出力 %(when)s（%(user)s）") % {"when": _jst(now, seconds=False), "user": printed_by}
        if printed_by
        else gettext("出力 %(when)s") % {"when": _jst(now, seconds=False)},
    )


def _revision_rows(submission: Submission) -> list[Row]:
    """For each 補正, the answers it replaced that differ from what came after (newest first)."""
    spec = submission.form_version.spec
    later = read_answers(submission)
    rows: list[Row] = []
    for revision in reversed(list(submission.revisions.all())):
        before = read_revision(revision)
        changed = [
            Row(label=f.label, value=intake.display_value(f, before.get(f.key)) or gettext("（未入力）"))
            for f in spec.input_fields
            if before.get(f.key) != later.get(f.key)
        ]
        rows.append(
            Row(
                label=gettext("補正前の内容（%(when)s の再提出で変わった項目）")
                % {"when": _jst(revision.replaced_at, seconds=False)},
                heading=True,
            )
        )
        rows += changed or [Row(label=gettext("変更"), value=gettext("なし（同じ内容で再提出されました）"))]
        later = before
    return rows


def receipt_document(submission: Submission, *, now: datetime | None = None) -> Document:
    """The resident's 控え: what they sent, as the status page shows it, in their language's labels.
    Never the 問い合わせ番号 (a 控え gets passed around; the number is the key to the status page)."""
    procedure = submission.procedure
    now = now or timezone.now()
    not_answered = gettext("（未入力）")
    facts = [
        (gettext("手続名"), procedure.shown_title),
        (gettext("提出先"), _organization_line(submission)),
        (gettext("受付番号"), submission.display_receipt_number),
        (gettext("到達日時"), _jst(submission.submitted_at)),
        (gettext("現在の状態"), status_label(procedure.kind, submission.status)),
    ]
    department = procedure.department
    notice = gettext("受付番号は、お問い合わせのときにお伝えください。")
    if department and department.phone:
        notice = gettext(
            "お問い合わせ：%(organization)s %(department)s（電話 %(phone)s）。受付番号をお伝えください。"
        ) % {
            "organization": submission.organization.name,
            "department": department.name,
            "phone": department.phone,
        }
    return Document(
        title=gettext("申請控え"),
        organization=submission.organization.name,
        facts=facts,
        rows=[
            r if r.heading else Row(label=r.label, value=r.value or not_answered)
            for r in answer_rows(submission, resident=True)
        ],
        notice=notice,
        footer=gettext("%(when)s 時点の内容") % {"when": _jst(now, seconds=False)},
    )


# ---------------------------------------------------------------------------------------------------
# Layout


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("jp", size=8)
        self.set_text_color(90)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0)


def render(document: Document) -> bytes:
    """The document as PDF bytes (A4 portrait, page numbers "n / N" at the foot of each page).

    Characters the font has no glyph for print as 〓 and the document says so at the end.
    Raises FontUnavailable without a Japanese font.
    """
    font = _font_for(document)
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(15, 15, 15)
    pdf.add_font("jp", fname=str(font.path), collection_font_number=font.index)
    pdf.set_lang("ja")
    pdf.set_creator(settings.SITE_NAME)
    pdf.set_title(_clean(document.title))
    pdf.set_creation_date(timezone.now())
    pdf.alias_nb_pages()
    glyphs = pdf.fonts["jp"].cmap
    missing: set[str] = set()

    def text(value: str) -> str:
        cleaned = _clean(value)
        if all(ord(c) in glyphs or c in "\n " for c in cleaned):
            return cleaned
        out = []
        for c in cleaned:
            if ord(c) in glyphs or c in "\n ":
                out.append(c)
            else:
                missing.add(c)
                out.append(MISSING_MARK)
        return "".join(out)

    pdf.footer_text = text(document.footer)
    pdf.add_page()
    width = pdf.epw
    stamps_bottom = _stamp_boxes(pdf, [text(s) for s in document.stamps]) if document.stamps else 0
    title_width = width - (STAMP_WIDTH * len(document.stamps) + 4 if document.stamps else 0)
    pdf.set_font("jp", size=9)
    pdf.cell(title_width, 5, text(document.organization), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("jp", size=15)
    pdf.multi_cell(
        title_width, 8, text(document.title), new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR
    )
    pdf.set_y(max(pdf.get_y(), stamps_bottom) + 3)  # the facts start below the stamp boxes
    pdf.set_font("jp", size=9.5)
    shade = FontFace(fill_color=(236, 236, 236))
    with pdf.table(
        col_widths=(35, width - 35),
        first_row_as_headings=False,
        text_align="LEFT",
        line_height=5.2,
        padding=1.4,
        wrapmode=WrapMode.CHAR,
    ) as table:
        for label, value in document.facts:
            row = table.row()
            row.cell(text(label), style=shade)
            row.cell(text(value))
    pdf.ln(4)
    pdf.set_font("jp", size=11)
    pdf.cell(0, 7, text(gettext("申請内容")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("jp", size=9.5)
    with pdf.table(
        col_widths=(50, width - 50),
        first_row_as_headings=False,
        text_align="LEFT",
        line_height=5.2,
        padding=1.4,
        wrapmode=WrapMode.CHAR,
    ) as table:
        heading_style = FontFace(fill_color=(214, 226, 240))
        for item in document.rows:
            if item.heading:
                table.row().cell(text(item.label), colspan=2, style=heading_style)
                continue
            for index, part in enumerate(_parts(text(item.value))):
                row = table.row()
                row.cell(text(item.label) if index == 0 else gettext("（続き）"), style=shade)
                row.cell(part)
    if document.history:
        pdf.ln(4)
        pdf.set_font("jp", size=11)
        pdf.cell(0, 7, text(gettext("経過")), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("jp", size=8.5)
        with pdf.table(
            col_widths=(36, 34, 26, width - 96),
            text_align="LEFT",
            line_height=4.8,
            padding=1.2,
            wrapmode=WrapMode.CHAR,
            headings_style=FontFace(fill_color=(236, 236, 236)),
        ) as table:
            head = table.row()
            for heading in (gettext("日時"), gettext("状態"), gettext("操作者"), gettext("理由")):
                head.cell(text(heading))
            for when, move, who, reason in document.history:
                row = table.row()
                for value in (when, move, who, reason[:ROW_CHARS]):
                    row.cell(text(value))
    notes = [document.notice] if document.notice else []
    if missing:
        notes.append(
            gettext("〓 の箇所は、このPDFのフォントにない文字です（%(count)s種類）。画面で確認してください。")
            % {"count": len(missing)}
        )
    if notes:
        pdf.ln(3)
        pdf.set_font("jp", size=9)
        for note in notes:
            pdf.multi_cell(0, 5, text(note), new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    return bytes(pdf.output())


STAMP_WIDTH = 20  # mm, each 決裁 box


def _stamp_boxes(pdf: FPDF, labels: list[str]) -> float:
    """The 決裁欄: a box per approver (label above, room for a seal or signature below), top right.
    Returns the y (mm) of the boxes' bottom."""
    box_w, label_h, seal_h = STAMP_WIDTH, 5, 18
    x0 = pdf.w - pdf.r_margin - box_w * len(labels)
    y0 = pdf.get_y()
    pdf.set_font("jp", size=8)
    pdf.set_line_width(0.25)
    for i, label in enumerate(labels):
        x = x0 + i * box_w
        pdf.rect(x, y0, box_w, label_h + seal_h)
        pdf.line(x, y0 + label_h, x + box_w, y0 + label_h)
        pdf.set_xy(x, y0)
        pdf.cell(box_w, label_h, label, align="C")
    pdf.set_xy(pdf.l_margin, y0)
    return y0 + label_h + seal_h


def _clean(value: str) -> str:
    """Text safe to lay out: no control characters but newlines; tabs as spaces; NFC (a decomposed
    ﾊﾟ or が prints as one character, as typed)."""
    value = str(value).replace("\r\n", "\n").replace("\t", "  ")
    return unicodedata.normalize("NFC", _CONTROL.sub("", value))


def _parts(value: str) -> list[str]:
    """A long answer in pieces of about ROW_CHARS characters, cut at a newline where one is near."""
    if len(value) <= ROW_CHARS:
        return [value]
    parts = []
    while len(value) > ROW_CHARS:
        cut = value.rfind("\n", ROW_CHARS // 2, ROW_CHARS)
        cut = cut + 1 if cut > 0 else ROW_CHARS
        parts.append(value[:cut].rstrip("\n"))
        value = value[cut:]
    if value:
        parts.append(value)
    return parts


def case_pdf(submission: Submission, *, printed_by: str = "") -> bytes:
    """The 決裁用 PDF of a case (see case_document). Raises FontUnavailable without a Japanese font."""
    return render(case_document(submission, printed_by=printed_by))


def receipt_pdf(submission: Submission) -> bytes:
    """The resident's 控え as PDF (see receipt_document). Raises FontUnavailable without a Japanese font."""
    return render(receipt_document(submission))


def case_pdf_filename(submission: Submission) -> str:
    return f"決裁用_{submission.display_receipt_number}.pdf"


def receipt_pdf_filename(submission: Submission) -> str:
    return f"申請控え_{submission.display_receipt_number}.pdf"


# ---------------------------------------------------------------------------------------------------
# Attachments: which is which after a 補正, and all of them as one ZIP


@dataclass
class CaseFile:
    attachment: Attachment
    label: str  # the field's label
    state: str  # "current": as sent and not changed since; "after": sent with a 補正; "before": replaced


def case_files(submission: Submission) -> list[CaseFile]:
    """Every attachment of a case, in form order then upload order, each told apart after a 補正:
    "before" (補正前: replaced by a correction, kept), "after" (補正後: came with a correction) or
    "current" (sent with the application and still its answer)."""
    attachments = list(submission.attachments.order_by("pk"))
    if not attachments:
        return []
    current = _attachment_ids(read_answers(submission))
    earlier: set[int] = set()
    for revision in submission.revisions.all():
        earlier |= _attachment_ids(read_revision(revision))
    labels, order = _field_labels(submission)
    files = []
    for item in attachments:
        if item.pk not in current:
            state = "before"
        elif earlier and item.pk not in earlier:
            state = "after"
        else:
            state = "current"
        files.append(CaseFile(item, labels.get(item.field_key, item.field_key), state))
    files.sort(
        key=lambda f: (order.get(f.attachment.field_key, len(order)), f.state != "before", f.attachment.pk)
    )
    return files


def _attachment_ids(answers: dict) -> set[int]:
    return {v["attachment"] for v in answers.values() if isinstance(v, dict) and "attachment" in v}


def _field_labels(submission: Submission) -> tuple[dict[str, str], dict[str, int]]:
    fields = [f for f in submission.form_version.spec.input_fields if f.type == "file"]
    return {f.key: f.label for f in fields}, {f.key: i for i, f in enumerate(fields)}


CASE_FILE_STATES = {
    "before": gettext_lazy("補正前"),
    "after": gettext_lazy("補正後"),
    "current": "",
}
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE_IN_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
NAME_CHARS = 120


def safe_name(name: str, *, fallback: str = "添付ファイル") -> str:
    """One path component that unpacks as itself on Windows, macOS and Linux: only the last part of
    whatever path the resident's browser sent (no ../ or C:\\ climbs out of the folder), NFC, no
    characters Windows refuses, no trailing dots or spaces, no reserved device names (CON, NUL, …),
    at most NAME_CHARS characters keeping the extension. Empty → `fallback`."""
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_IN_NAME.sub("_", name).strip().rstrip(". ")
    if name in ("", ".", ".."):
        name = fallback
    if _WINDOWS_RESERVED.match(name):
        name = f"_{name}"
    if len(name) > NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = f"{stem[: NAME_CHARS - len(ext) - 1]}.{ext}"
        else:
            name = name[:NAME_CHARS]
    return name


def _unique(path: str, taken: set[str]) -> str:
    """`path`, or `name (2).ext`, `name (3).ext`, … if taken (compared as Windows does, ignoring case)."""
    if path.casefold() not in taken:
        taken.add(path.casefold())
        return path
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    number = 2
    while True:
        candidate = f"{folder}/{stem} ({number}){'.' + ext if ext else ''}"
        if candidate.casefold() not in taken:
            taken.add(candidate.casefold())
            return candidate
        number += 1


class _Sink:
    """A write-only, unseekable stream for zipfile: what it is given waits here until yielded."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


# Already compressed: stored as they are (deflating them again costs CPU and saves nothing).
_STORED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/zip")
SUBMISSION_BATCH = 200


def attachments_zip(submissions: Iterable[Submission]) -> Iterator[bytes]:
    """All attachments of `submissions` as one ZIP file, produced piece by piece as it is iterated:
    memory stays flat (one 64 KiB read at a time), whatever the number or size of the files, and
    nothing is written to disk. Hand it to a StreamingHttpResponse.

    `submissions`: rows the caller has already authorised (one organization's, from an access_ helper);
    a queryset (read SUBMISSION_BATCH at a time through an iterator, only the columns needed: whatever
    select_related or only it has is replaced) or a list of rows.
    Paths in the ZIP: 受付番号/項目名/元のファイル名, and 受付番号/項目名（補正前）/… for a file a 補正
    replaced; UTF-8 names (flag bit 11 set, so Windows Explorer and macOS show the Japanese);
    duplicates become "name (2).pdf"; safe_name keeps every part inside its folder. Times in the ZIP
    are the 到達日時 in JST. A file missing from storage is left out and listed in
    読み込めなかったファイル.txt at the end of the ZIP.
    """
    sink = _Sink()
    taken: set[str] = set()
    unreadable: list[str] = []
    fields_of: dict[int, tuple[dict[str, str], dict[str, int]]] = {}  # per form version: labels, order
    with zipfile.ZipFile(sink, mode="w", allowZip64=True) as archive:
        for batch in _batches(submissions, SUBMISSION_BATCH):
            by_pk = {s.pk: s for s in batch}
            # Plain tuples, read through a server-side cursor where the database has one: a selection of
            # thousands of files never holds thousands of model instances.
            rows = (
                Attachment.objects.filter(
                    submission_id__in=list(by_pk), organization_id__in={s.organization_id for s in batch}
                )
                .order_by("submission_id", "pk")
                .values_list(*_FileRow._fields)
                .iterator(chunk_size=500)
            )
            for submission_id, group in itertools.groupby(rows, key=lambda row: row[0]):
                submission = by_pk[submission_id]
                if submission.form_version_id not in fields_of:
                    fields_of[submission.form_version_id] = _file_fields(submission.form_version_id)
                labels = fields_of[submission.form_version_id]
                for path, item in _zip_paths(submission, labels, [_FileRow(*row) for row in group], taken):
                    info = zipfile.ZipInfo(path, date_time=_zip_time(submission.submitted_at))
                    info.file_size = item.size
                    if item.content_type in _STORED_TYPES:
                        info.compress_type = zipfile.ZIP_STORED
                    else:
                        info.compress_type = zipfile.ZIP_DEFLATED  # zlib's default level
                    try:
                        source = envelope.open_file(submission.organization_id, _storage(), item.file)
                    except (FileNotFoundError, OSError, envelope.KeyUnavailable):
                        unreadable.append(path)
                        continue
                    # Sizes and checksums follow each file (data descriptor): nothing is seeked back to.
                    with source, archive.open(info, mode="w", force_zip64=item.size > 2**31) as target:
                        while chunk := source.read(READ_CHUNK):
                            target.write(chunk)
                            if len(sink.chunks) > 4:
                                yield sink.take()
                    yield sink.take()
        if unreadable:
            note = gettext("次のファイルは、保存先から読み込めなかったため含まれていません。") + "\n"
            archive.writestr(
                _unique("読み込めなかったファイル.txt", taken),
                (note + "\n".join(unreadable) + "\n").encode("utf-8-sig"),
            )
    yield sink.take()


class _FileRow(NamedTuple):
    submission_id: int
    pk: int
    field_key: str
    file: str  # the name in storage
    original_name: str
    content_type: str
    size: int


def _storage():
    return Attachment._meta.get_field("file").storage


def _batches(items: Iterable[Submission], size: int) -> Iterator[list[Submission]]:
    if hasattr(items, "select_related"):
        # Not the form versions: each would bring its whole form (tens of KB of JSON) again; they are
        # read once per version (_file_fields).
        items = (
            items.select_related(None)
            .only(
                "id", "organization_id", "form_version_id", "receipt_number", "submitted_at", "answers_data"
            )
            .iterator(chunk_size=size)
        )
    batch: list[Submission] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _file_fields(version_id: int) -> tuple[dict[str, str], dict[str, int]]:
    """The file fields of a form version: key → label, key → position."""
    version = FormVersion.objects.get(pk=version_id)
    fields = [f for f in version.spec.input_fields if f.type == "file"]
    return {f.key: f.label for f in fields}, {f.key: i for i, f in enumerate(fields)}


def _zip_paths(
    submission: Submission,
    fields: tuple[dict[str, str], dict[str, int]],
    attachments: list[_FileRow],
    taken: set[str],
) -> Iterator[tuple[str, _FileRow]]:
    labels, order = fields
    current = _attachment_ids(read_answers(submission))
    folder = submission.display_receipt_number
    attachments = sorted(attachments, key=lambda a: (order.get(a.field_key, len(order)), a.pk))
    for item in attachments:
        label = safe_name(labels.get(item.field_key, item.field_key), fallback=item.field_key or "_")
        if item.pk not in current:
            label = safe_name(gettext("%(label)s（補正前）") % {"label": label})
        yield _unique(f"{folder}/{label}/{safe_name(item.original_name)}", taken), item


def _zip_time(moment: datetime | None) -> tuple[int, int, int, int, int, int]:
    local = (moment or timezone.now()).astimezone(JST)
    if local.year < 1980:  # the ZIP format starts in 1980
        return (1980, 1, 1, 0, 0, 0)
    return (local.year, local.month, local.day, local.hour, local.minute, local.second)


def zip_filename(submission: Submission | None = None) -> str:
    """添付ファイル_4821-0395-76.zip for one case, 添付ファイル.zip for a selection."""
    if submission is None:
        return "添付ファイル.zip"
    return f"添付ファイル_{submission.display_receipt_number}.zip"
