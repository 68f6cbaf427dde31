"""What a file must be before it is attached: beyond its extension and its first bytes (intake.check_upload).

- An image (JPEG, PNG) is opened by Pillow, which reads only its header: a picture of more than
  MAX_IMAGE_PIXELS pixels is refused before anything is decoded (a decompression bomb of a few kilobytes can
  declare a billion pixels and take a staff PC's memory when opened), and so is a header Pillow cannot read.
  100 megapixels is twice what a phone camera takes at its largest common setting (48 MP).
- A .docx or .xlsx must be a real Office Open XML package (ECMA-376 Part 2): a ZIP that opens, holds
  `[Content_Types].xml` and the main part of its kind (`word/document.xml`, `xl/workbook.xml`), declares no
  more than MAX_PACKAGE_BYTES uncompressed in no more than MAX_PACKAGE_ENTRIES entries (a ZIP bomb), and
  carries no macro project (`vbaProject.bin`: a macro-enabled file renamed to .docx/.xlsx).

- With settings.CLAMD_ADDRESS set, every file is scanned by ClamAV (lib/clamd.py) and refused when it is
  infected or when the scan cannot be done (fail closed).

Each check raises japanese.InputError with a message for the resident, in the page language.
"""

from __future__ import annotations

import io
import warnings
import zipfile

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext
from PIL import Image, UnidentifiedImageError

from madoguchi.lib import japanese as ja

MAX_IMAGE_PIXELS = 100_000_000
MAX_PACKAGE_BYTES = 200 * 1024 * 1024
MAX_PACKAGE_ENTRIES = 5_000
OFFICE_MAIN_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}


def check_content(ext: str, upload: UploadedFile) -> None:
    """Refuse an upload whose content is not safe to store for staff to open. `ext` is the normalised
    extension (jpg, png, docx, xlsx, pdf, heic); kinds without a check here pass. The file is left at 0.

    Raises japanese.InputError.
    """
    try:
        if ext in ("jpg", "png"):
            _check_image(upload)
        elif ext in OFFICE_MAIN_PART:
            _check_office_package(ext, upload)
        upload.seek(0)
        _scan_for_viruses(upload)
    finally:
        upload.seek(0)


def _scan_for_viruses(upload: UploadedFile) -> None:
    """ClamAV through clamd, when settings.CLAMD_ADDRESS is set (lib/clamd.py); failing closed."""
    import logging

    from madoguchi.lib import clamd

    try:
        clamd.scan(upload)
    except clamd.Infected as exc:
        logging.getLogger(__name__).warning("upload refused: clamd found %s", exc)
        raise ja.InputError(
            gettext("このファイルからウイルスが見つかったため、添付できません。別のファイルを選んでください")
        ) from None
    except clamd.ScanUnavailable as exc:
        logging.getLogger(__name__).error("upload refused: virus scan unavailable (%s)", exc)
        raise ja.InputError(
            gettext(
                "ファイルの安全確認がいまできないため、添付できません。時間をおいてもう一度お試しください"
                "（ほかの入力内容はそのまま残っています）"
            )
        ) from None


def _check_image(upload: UploadedFile) -> None:
    too_many_pixels = ja.InputError(
        gettext(
            "画像の画素数が多すぎます。1億画素以下の画像にしてください"
            "（スマートフォンの通常の設定で撮った写真なら添付できます）"
        )
    )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(upload) as image:  # reads the header only; refuses beyond Pillow's own limit
                width, height = image.size
    except Image.DecompressionBombError:
        raise too_many_pixels from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ja.InputError(
            gettext("画像として読み取れないファイルです。写真を撮り直すか、別のファイルを選んでください")
        ) from None
    if width * height > MAX_IMAGE_PIXELS:
        raise too_many_pixels


def _check_office_package(ext: str, upload: UploadedFile) -> None:
    kind = ext.upper()
    not_office = ja.InputError(
        gettext("%(type)s のファイルとして開けません。保存し直したファイルを選んでください") % {"type": kind}
    )
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as package:
            entries = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise not_office from None
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or OFFICE_MAIN_PART[ext] not in names:
        raise not_office
    if len(entries) > MAX_PACKAGE_ENTRIES or sum(entry.file_size for entry in entries) > MAX_PACKAGE_BYTES:
        raise ja.InputError(
            gettext("%(type)s のファイルの中身が大きすぎます。PDFにするか、分けて添付してください")
            % {"type": kind}
        )
    if any(name.rsplit("/", 1)[-1].lower() == "vbaproject.bin" for name in names):
        raise ja.InputError(
            gettext("マクロを含むファイルは添付できません。マクロのない形式で保存し直してください")
        )


# PDF active content ------------------------------------------------------------------------------------

# What a PDF can do when opened (ISO 32000-1 §12.6 actions, §7.11.4 embedded files, XFA forms, rich media).
# A key of a dictionary, or the value of its /S (an action's type) or /Type, names each. An /OpenAction that
# only opens a page at a zoom (every PDF writer adds one) is not active; one that runs JavaScript is found by
# its action's /S.
ACTIVE_KEYS = {
    "/JavaScript": "javascript",
    "/JS": "javascript",
    "/Launch": "launch",
    "/EmbeddedFile": "embedded_file",
    "/EmbeddedFiles": "embedded_file",
    "/XFA": "xfa",
    "/RichMedia": "rich_media",
}
MAX_PDF_OBJECTS = 200_000


def pdf_active_content(data: bytes) -> list[str]:
    """The kinds of active content a PDF holds, sorted: javascript, launch, embedded_file, xfa,
    rich_media; ["unreadable"] when pypdf cannot read it (it is still taken: a scanner's odd output is common,
    but staff are told). Every indirect object is read, those inside compressed object streams included, so a
    name hidden in a stream is found. `data` is the whole file (at most the field's size limit).
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError
    from pypdf.generic import DictionaryObject, NameObject

    found: set[str] = set()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        numbers = [number for table in reader.xref.values() for number in table] + list(reader.xref_objStm)
        for number in numbers[:MAX_PDF_OBJECTS]:
            found |= _active_in(reader.get_object(number), DictionaryObject, NameObject)
        found |= _active_in(reader.trailer.get("/Root"), DictionaryObject, NameObject)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        return ["unreadable"]
    return sorted(found)


def _active_in(obj, dictionary_type, name_type) -> set[str]:
    try:
        obj = obj.get_object() if obj is not None else None
    except Exception:
        return set()
    if not isinstance(obj, dictionary_type):
        return set()
    found = {ACTIVE_KEYS[key] for key in obj.keys() if key in ACTIVE_KEYS}
    for key in ("/S", "/Type", "/Subtype"):
        value = obj.get(key)
        if isinstance(value, name_type) and str(value) in ACTIVE_KEYS:
            found.add(ACTIVE_KEYS[str(value)])
    return found


def active_content_labels(kinds: str) -> list[str]:
    """The staff-facing words for a stored `active_content` value (comma-separated kinds), in the page
    language; "unreadable" is not active content and has a warning of its own (staff_views)."""
    labels = {
        "javascript": gettext("JavaScript（開くと動くプログラム）"),
        "launch": gettext("ほかのプログラムを起動する指示"),
        "embedded_file": gettext("埋め込まれたファイル"),
        "xfa": gettext("XFAフォーム"),
        "rich_media": gettext("埋め込まれた動画・Flash"),
    }
    return [labels.get(kind, kind) for kind in kinds.split(",") if kind and kind != "unreadable"]
