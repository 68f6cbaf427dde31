"""Hostile uploads: an image that declares more pixels than any camera takes (a decompression bomb), an image
whose header cannot be read, a ZIP or a macro file renamed .docx/.xlsx, a ZIP bomb. Each is refused at the
field with a Japanese message, the other answers kept; real files of each kind are attached."""

import io
import struct
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from PIL import Image

from madoguchi.lib import japanese as ja
from madoguchi.submissions import upload_checks
from madoguchi.submissions.intake import check_upload
from madoguchi.submissions.models import StagedUpload
from tests.conftest import make_procedure
from tests.test_resident_flow import post_form

pytestmark = pytest.mark.django_db

SCHEMA = {
    "fields": [
        {"key": "title", "type": "short_text", "label": "件名", "required": True},
        {"key": "doc", "type": "file", "label": "書類", "allowed_types": ["jpg", "png", "docx", "xlsx"]},
    ]
}


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height pixels, with one tiny compressed row: a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def real_image(kind: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 100, 50)).save(out, kind)
    return out.getvalue()


def package(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


DOCX = {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>", "word/document.xml": b"<w/>"}


def real_xlsx() -> bytes:
    out = io.BytesIO()
    book = Workbook()
    book.active["A1"] = "世帯員"
    book.save(out)
    return out.getvalue()


def file_field():
    from madoguchi.procedures.formspec import FormSpec

    return FormSpec.model_validate(SCHEMA).fields[1]


def refused(name: str, content: bytes) -> str | None:
    """The message the field gives for this file, or None when it is taken."""
    try:
        check_upload(file_field(), SimpleUploadedFile(name, content))
    except ja.InputError as exc:
        return str(exc)
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1))
def test_an_image_is_refused_exactly_when_it_declares_more_pixels_than_the_limit(width, height):
    message = refused("写真.png", png_declaring(width, height))
    if width * height > upload_checks.MAX_IMAGE_PIXELS:
        assert message is not None and "画素数が多すぎます" in message, message
    else:
        assert message is None


def test_the_limit_sits_between_a_phone_photo_and_a_bomb():
    assert refused("写真.png", png_declaring(8064, 6048)) is None  # 48 MP, a phone's largest common setting
    assert refused("写真.png", png_declaring(10_001, 10_000)) is not None
    assert "1億画素以下" in refused("写真.png", png_declaring(100_000, 100_000))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("写真.jpg", real_image("JPEG")),
        ("写真.png", real_image("PNG")),
        ("申請書.docx", package(DOCX)),
        ("世帯.xlsx", real_xlsx()),
    ],
)
def test_real_files_of_each_kind_are_taken(name, content):
    assert refused(name, content) is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("写真.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200, "画像として読み取れないファイルです"),
        ("写真.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "画像として読み取れないファイルです"),
        ("申請書.docx", package({"a.txt": b"x"}), "DOCX のファイルとして開けません"),
        ("申請書.docx", package({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}), "DOCX"),
        ("世帯.xlsx", package(DOCX), "XLSX 形式ではありません"),
        ("申請書.docx", package({**DOCX, "word/vbaProject.bin": b"\xd0\xcf"}), "マクロを含むファイル"),
        ("世帯.xlsx", package({"[Content_Types].xml": b"", "xl/workbook.xml": b"", "xl/vbaProject.bin": b""}), "マクロ"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_what_it_claims_is_refused_in_japanese(name, content, message):
    assert message in (refused(name, content) or "")


def test_a_zip_bomb_is_refused_by_what_it_declares(monkeypatch):
    monkeypatch.setattr(upload_checks, "MAX_PACKAGE_BYTES", 10_000)
    assert refused("申請書.docx", package({**DOCX, "word/media/a.bin": b"\x00" * 10_001})) is not None
    assert refused("申請書.docx", package({**DOCX, "word/media/a.bin": b"\x00" * 9_000})) is None
    monkeypatch.setattr(upload_checks, "MAX_PACKAGE_ENTRIES", 5)
    many = {**DOCX, **{f"word/media/{n}.bin": b"" for n in range(3)}}
    assert "大きすぎます" in refused("申請書.docx", package(many))


def test_a_bomb_sent_through_the_form_is_refused_at_the_field_and_the_other_answers_stay(client, tottori):
    procedure = make_procedure(tottori, SCHEMA, title="書類の提出")
    bomb = SimpleUploadedFile("写真.png", png_declaring(50_000, 50_000), content_type="image/png")
    response = post_form(client, procedure, {"title": "髙橋の申請", "doc": bomb}, follow=True)
    page = response.content.decode()
    assert response.status_code == 400 and "画素数が多すぎます" in page
    assert 'value="髙橋の申請"' in page
    assert not StagedUpload.objects.exists()
    photo = SimpleUploadedFile("写真.png", real_image("PNG"), content_type="image/png")
    response = post_form(client, procedure, {"title": "髙橋の申請", "doc": photo}, follow=True)
    assert response.status_code == 200 and "写真.png" in response.content.decode()  # the 確認画面
    assert StagedUpload.objects.count() == 1


# PDFs with active content ------------------------------------------------------------------------------

PDF_SCHEMA = {
    "fields": [
        {"key": "title", "type": "short_text", "label": "件名", "required": True},
        {"key": "doc", "type": "file", "label": "書類", "allowed_types": ["pdf"]},
    ]
}


def plain_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica")
    pdf.cell(text="application")
    return bytes(pdf.output())


def rewritten(change) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain_pdf())))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_javascript(writer):
    from pypdf.actions import JavaScript

    writer.add_open_action(JavaScript("app.alert('x');"))


@pytest.mark.parametrize(
    ("content", "kinds"),
    [
        (plain_pdf, []),
        (lambda: rewritten(with_javascript), ["javascript"]),
        (lambda: rewritten(lambda w: w.add_attachment("run.exe", b"MZ")), ["embedded_file"]),
        (lambda: b"%PDF-1.4\n" + b"0" * 100, ["unreadable"]),
    ],
)
def test_a_pdfs_active_content_is_found(content, kinds):
    assert upload_checks.pdf_active_content(content()) == kinds


def test_staff_are_warned_before_opening_a_pdf_that_runs_javascript(client, tottori, colleague):
    from django.urls import reverse

    from madoguchi.submissions.models import Attachment, Submission
    from tests.test_resident_flow import confirm_url, confirmed_form

    procedure = make_procedure(tottori, PDF_SCHEMA, title="書類の提出")
    upload = SimpleUploadedFile("申請書.pdf", rewritten(with_javascript), content_type="application/pdf")
    post_form(client, procedure, {"title": "申請", "doc": upload})
    assert client.post(confirm_url(procedure), confirmed_form(client, procedure)).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.active_content == "javascript"  # the file is taken, and marked
    staff = client.__class__()
    staff.force_login(colleague)
    page = staff.get(
        reverse("staff:submission", kwargs={"submission_id": Submission.objects.get().pk})
    ).content.decode()
    assert "このPDFには開くと動く内容があります" in page and "JavaScript" in page
    # A plain PDF carries no warning.
    other = client.__class__()
    post_form(other, procedure, {"title": "申請", "doc": SimpleUploadedFile("b.pdf", plain_pdf())})
    other.post(confirm_url(procedure), confirmed_form(other, procedure))
    plain = Submission.objects.exclude(attachments=attachment).get()
    page = staff.get(reverse("staff:submission", kwargs={"submission_id": plain.pk})).content.decode()
    assert "このPDFには開くと動く内容があります" not in page and "正しく読み取れませんでした" not in page
    # A PDF that cannot be read through is said to be so, not to run something.
    broken = client.__class__()
    post_form(
        broken, procedure, {"title": "申請", "doc": SimpleUploadedFile("c.pdf", b"%PDF-1.4\n" + b"0" * 100)}
    )
    broken.post(confirm_url(procedure), confirmed_form(broken, procedure))
    unread = Submission.objects.order_by("-pk").first()
    page = staff.get(reverse("staff:submission", kwargs={"submission_id": unread.pk})).content.decode()
    assert "このPDFは正しく読み取れませんでした" in page and "このPDFには開くと動く内容があります" not in page
