"""Paper: the 決裁用 PDF and the 控え as a clerk, a colleague, an outsider and the resident see them; the
attachments of a case (and of a selection) as one ZIP; 補正前 / 補正後 files told apart on the case page."""

import io
import re
import secrets
import zipfile
import zlib
from urllib.parse import unquote

import pypdfium2
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from fontTools.cffLib import CFFFontSet
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.lib.receipt import format_inquiry_code, inquiry_code_for
from madoguchi.submissions import paper, services
from madoguchi.submissions.models import Attachment, StagedUpload, Status, Submission
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_ANSWERS, make_procedure, make_submission

pytestmark = pytest.mark.django_db

RARE_NAME = {"family": "𠮷田", "given": "﨑子"}  # U+20BB7 is outside the BMP; 﨑 is an IBM extension


def pdf_text(body: bytes) -> str:
    """The text of every page, as Chrome's and Edge's PDF viewer (PDFium) reads it for copy and search."""
    document = pypdfium2.PdfDocument(body)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def embedded_fonts(body: bytes) -> list:
    """Every embedded font program in the PDF, parsed by fontTools (CFF or TrueType)."""
    fonts = []
    for kind, number in re.findall(rb"/(FontFile[23]?) (\d+) 0 R", body):
        start = body.index(b"\n%s 0 obj" % number) + 1
        header_end = body.index(b"stream\n", start) + len(b"stream\n")
        data = body[header_end : body.index(b"\nendstream", header_end)]
        if b"/FlateDecode" in body[start:header_end]:
            data = zlib.decompress(data)
        if kind == b"FontFile3":
            cff = CFFFontSet()
            cff.decompile(io.BytesIO(data), None)
            fonts.append(cff)
        else:
            fonts.append(TTFont(io.BytesIO(data)))
    return fonts


def has_glyph(body: bytes, char: str) -> bool:
    """Whether the embedded font holds a real outline for `char` (not .notdef, not empty)."""
    choice = paper.find_font()
    source = TTFont(str(choice.path), fontNumber=choice.index, lazy=True)
    glyph_name = source.getBestCmap().get(ord(char))
    if glyph_name is None:
        return False
    for font in embedded_fonts(body):
        if isinstance(font, CFFFontSet):
            top = font[font.fontNames[0]]
            if glyph_name in top.charset:
                charstring = top.CharStrings[glyph_name]
                charstring.decompile()
                return len(charstring.program) > 2
        elif glyph_name in font.getGlyphOrder():
            return font["glyf"][glyph_name].numberOfContours != 0
    return False


def stage(procedure, name: str, data: bytes, content_type="application/pdf") -> StagedUpload:
    key = secrets.token_hex(16)
    stored = default_storage.save(f"uploads/{procedure.organization_id}/{key}", ContentFile(data))
    return StagedUpload.objects.create(
        organization=procedure.organization,
        procedure=procedure,
        session_key_hash="0" * 64,
        storage_key=key,
        file=stored,
        original_name=name,
        content_type=content_type,
        size=len(data),
    )


ALL_ANSWERS = {
    "title": "住民票の写しの請求",
    "body": "一行目\n二行目の説明です。",
    "count": "2",
    "email": "takahashi@example.jp",
    "phone": "0857-20-3111",
    "address": {"postal_code": "680-8571", "address": "鳥取県鳥取市尚徳町１１６"},
    "name": {"family": "髙橋", "given": "﨑子"},
    "kana": "タカハシ　サキコ",
    "birthday": "1950-04-01",
    "gender": "甲",
    "topics": ["子育て", "防災"],
    "area": "東部",
    "agree": True,
}


@pytest.fixture
def file_procedure(tottori):
    return make_procedure(tottori, ALL_TYPES_SCHEMA, title="住民票の写しの郵送請求", kind="application")


def submit_with_file(procedure, name="住民票の写し.pdf", data=b"%PDF-1.4 first", answers=None):
    return services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=dict(answers or ALL_ANSWERS),
        staged_files={"doc": stage(procedure, name, data)},
        token=secrets.token_hex(8),
        applicant_email="takahashi@example.jp",
    ).submission


def correct_with_new_file(submission, colleague, name="住民票の写し.pdf", data=b"%PDF-1.4 second"):
    services.transition(
        submission=submission, to_status=Status.RETURNED, actor=colleague, reason="書類が読めません。"
    )
    submission.refresh_from_db()
    services.resubmit(
        submission=submission,
        answers={**ALL_ANSWERS, "title": "住民票の写しの請求（再提出）"},
        staged_files={"doc": stage(submission.procedure, name, data)},
    )
    submission.refresh_from_db()
    return submission


# --- The 決裁用 PDF ---------------------------------------------------------------------------------


def test_a_clerk_prints_the_case_for_approval_with_every_answer_and_rare_kanji_intact(
    client, colleague, submission
):
    client.force_login(colleague)
    response = client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert (
        unquote(disposition.split("filename*=UTF-8''")[1])
        == f"決裁用_{submission.display_receipt_number}.pdf"
    )
    text = pdf_text(response.content)
    for expected in (
        "鳥取市 生涯学習課",
        "シニア向けスマートフォン教室",
        submission.display_receipt_number,
        "処理待ち",
        "髙橋",
        "﨑子",
        "たかはし　さきこ",
        "0857-20-3111",
        "午前",
        "同意する",
        "起案者",
        "係長",
        "課長",
        "経過",
        "1 / 1",
        "colleague",
    ):
        assert expected in text, expected
    assert has_glyph(response.content, "髙") and has_glyph(response.content, "﨑")
    log = AuditLog.objects.get(action="submission.export", object_id=str(submission.pk))
    assert log.actor == colleague and log.detail == {"format": "pdf", "document": "case"}


def test_the_arrival_is_printed_in_jst_to_the_second(client, colleague, submission):
    client.force_login(colleague)
    Submission.objects.filter(pk=submission.pk).update(
        submitted_at=submission.submitted_at.replace(year=2026, month=3, day=31, hour=15, minute=0, second=7)
    )  # 15:00:07 UTC is 00:00:07 the next day in Japan (and the next 年度)
    response = client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk}))
    assert "2026年4月1日 00:00:07" in pdf_text(response.content)


def test_a_name_outside_the_bmp_survives_both_pdfs(client, colleague, procedure):
    submission = make_submission(procedure, {**SIGNUP_ANSWERS, "name": RARE_NAME}).submission
    client.force_login(colleague)
    for name in ("staff:submission_case_pdf", "staff:submission_receipt_pdf"):
        body = client.get(reverse(name, kwargs={"submission_id": submission.pk})).content
        assert "𠮷田\u3000﨑子" in pdf_text(body)
        assert has_glyph(body, "𠮷"), "the glyph of U+20BB7 is embedded"


def test_only_the_questions_the_resident_was_asked_are_printed(client, colleague, tottori):
    schema = {
        "fields": [
            {"key": "kind", "type": "single_choice", "label": "申請の種類", "options": ["新規", "更新"]},
            {
                "key": "old_number",
                "type": "short_text",
                "label": "前回の許可番号",
                "show_if": [{"field": "kind", "op": "equals", "value": "更新"}],
            },
        ]
    }
    procedure = make_procedure(tottori, schema, title="許可申請", kind="application")
    submission = make_submission(procedure, {"kind": "新規"}).submission
    client.force_login(colleague)
    text = pdf_text(
        client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk})).content
    )
    assert "申請の種類" in text and "新規" in text
    assert "前回の許可番号" not in text


def test_a_long_case_runs_onto_numbered_pages(client, colleague, tottori):
    fields = [{"key": f"q{i}", "type": "long_text", "label": f"質問{i}"} for i in range(50)]
    procedure = make_procedure(tottori, {"fields": fields}, title="長い申請", kind="application")
    answers = {f"q{i}": "鳥取県鳥取市東町一丁目２２０番地の髙橋です。" * 6 for i in range(50)}
    answers["q0"] = "長い説明。" * 400  # longer than a page: continued over rows
    submission = make_submission(procedure, answers).submission
    client.force_login(colleague)
    body = client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk})).content
    document = pypdfium2.PdfDocument(body)
    pages = len(document)
    document.close()
    assert pages >= 3
    text = pdf_text(body)
    assert f"1 / {pages}" in text and f"{pages} / {pages}" in text
    assert "質問49" in text and "（続き）" in text


def test_a_viewer_may_print_but_an_editor_who_sees_no_answers_may_not(client, viewer, editor, submission):
    url = reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk})
    client.force_login(viewer)
    assert client.get(url).status_code == 200
    client.force_login(editor)
    assert client.get(url).status_code == 403


def test_an_outsider_gets_404_on_every_paper_url_of_another_organization(client, outsider, file_procedure):
    submission = submit_with_file(file_procedure)
    client.force_login(outsider)
    for name in ("staff:submission_case_pdf", "staff:submission_receipt_pdf", "staff:submission_files_zip"):
        assert client.get(reverse(name, kwargs={"submission_id": submission.pk})).status_code == 404, name
    assert not AuditLog.objects.filter(
        object_id=str(submission.pk), action__startswith="submission.e"
    ).exists()


def test_signed_out_the_paper_urls_lead_to_the_login(client, submission):
    response = client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk}))
    assert response.status_code == 302 and "/staff/login/" in response["Location"]


def test_without_a_japanese_font_the_clerk_reads_why_in_japanese_instead_of_a_500(
    client, colleague, submission, settings
):
    settings.PDF_FONT_PATH = "/nonexistent/NotoSansCJK-Regular.ttc"
    client.force_login(colleague)
    response = client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk}))
    assert response.status_code == 503
    page = response.content.decode()
    assert "日本語フォント" in page and "PDF_FONT_PATH" in page
    assert not AuditLog.objects.filter(action="submission.export").exists()


def test_a_character_the_font_lacks_is_marked_not_dropped(submission):
    text = pdf_text(paper.render(paper.Document(
        title="控え", organization="鳥取市", facts=[("氏名", "髙橋\U000f0001")], rows=[]
    )))  # fmt: skip
    assert "髙橋〓" in text and "フォントにない文字" in text


# --- The 控え ---------------------------------------------------------------------------------------


def test_the_resident_downloads_the_receipt_copy_from_the_completion_page(client, procedure):
    result = make_submission(procedure, {**SIGNUP_ANSWERS, "name": RARE_NAME}, token="this-browser")
    submission = result.submission
    session = client.session
    session[f"apply:{procedure.pk}"] = {"submitted": submission.pk, "token": "this-browser"}
    session.save()
    done = client.get(reverse("public:done", kwargs={"code": "312011", "procedure_id": procedure.pk}))
    url = reverse("public:done_receipt_pdf", kwargs={"code": "312011", "procedure_id": procedure.pk})
    assert url in done.content.decode()
    assert "𠮷" not in url and submission.receipt_number not in url  # nothing personal in the URL
    response = client.get(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    for expected in (
        "申請控え",
        submission.display_receipt_number,
        "𠮷田",
        "﨑子",
        "sakiko@example.jp",
        "生涯学習課",
    ):
        assert expected in text, expected
    assert format_inquiry_code(inquiry_code_for(submission.token)) not in text
    assert "起案者" not in text  # no stamp boxes on the resident's copy
    log = AuditLog.objects.get(action="submission.export", object_id=str(submission.pk))
    assert log.actor is None and log.actor_label == "申請者"


def test_another_browser_gets_no_receipt_copy(client, submission, procedure):
    url = reverse("public:done_receipt_pdf", kwargs={"code": "312011", "procedure_id": procedure.pk})
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse(
        "public:organization", kwargs={"code": "312011"}
    )
    response = client.get(reverse("public:status_receipt_pdf"))
    assert response.status_code == 302 and response["Location"] == reverse("public:status")


def test_the_resident_downloads_the_receipt_copy_from_the_status_page(client, procedure):
    submission = make_submission(procedure).submission
    client.post(
        reverse("public:status"),
        {
            "receipt_number": submission.display_receipt_number,
            "inquiry_code": format_inquiry_code(inquiry_code_for(submission.token)),
        },
    )
    page = client.get(reverse("public:status_view")).content.decode()
    assert reverse("public:status_receipt_pdf") in page
    response = client.get(reverse("public:status_receipt_pdf"))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "髙橋" in text and "処理待ち" in text
    assert unquote(response["Content-Disposition"].split("''")[1]) == (
        f"申請控え_{submission.display_receipt_number}.pdf"
    )


def test_without_a_font_the_resident_is_told_the_application_is_received(client, procedure, settings):
    submission = make_submission(procedure).submission
    session = client.session
    session["status_submission"] = submission.pk
    session.save()
    settings.PDF_FONT_PATH = "/nonexistent/font.ttf"
    response = client.get(reverse("public:status_receipt_pdf"))
    assert response.status_code == 503
    assert "申請は受け付けられています" in response.content.decode()


def test_staff_can_print_the_residents_copy(client, colleague, submission):
    client.force_login(colleague)
    response = client.get(reverse("staff:submission_receipt_pdf", kwargs={"submission_id": submission.pk}))
    assert response.status_code == 200
    assert "申請控え" in pdf_text(response.content)
    assert AuditLog.objects.get(action="submission.export").detail == {"format": "pdf", "document": "receipt"}


# --- Attachments -------------------------------------------------------------------------------------


def test_a_clerk_downloads_every_attachment_of_a_case_as_one_zip(client, colleague, file_procedure):
    submission = submit_with_file(file_procedure, data=b"%PDF-1.4 " + b"x" * 200_000)
    client.force_login(colleague)
    detail = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    url = reverse("staff:submission_files_zip", kwargs={"submission_id": submission.pk})
    assert url in detail and "添付ファイルをまとめてダウンロード（ZIP、1件）" in detail
    response = client.get(url)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip" and "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    [info] = archive.infolist()
    assert info.filename == f"{submission.display_receipt_number}/書類/住民票の写し.pdf"
    assert info.flag_bits & 0x800, "UTF-8 flag set: Windows Explorer shows the Japanese name"
    assert archive.read(info) == b"%PDF-1.4 " + b"x" * 200_000
    log = AuditLog.objects.get(action="submission.attachment_download")
    assert log.detail == {"format": "zip", "attachments": [submission.attachments.get().pk]}


def test_after_a_correction_both_files_are_downloadable_and_told_apart(client, colleague, file_procedure):
    submission = correct_with_new_file(submit_with_file(file_procedure), colleague)
    old, new = submission.attachments.order_by("pk")
    client.force_login(colleague)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    files = page.split('data-testid="case-files"')[1].split("</ul>")[0]
    before = files.index("補正前")
    after = files.index("補正後")
    old_link = reverse("staff:attachment", kwargs={"submission_id": submission.pk, "attachment_id": old.pk})
    new_link = reverse("staff:attachment", kwargs={"submission_id": submission.pk, "attachment_id": new.pk})
    assert before < files.index(old_link) < after < files.index(new_link)
    for link, content in ((old_link, b"%PDF-1.4 first"), (new_link, b"%PDF-1.4 second")):
        assert b"".join(client.get(link).streaming_content) == content
    response = client.get(reverse("staff:submission_files_zip", kwargs={"submission_id": submission.pk}))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    receipt = submission.display_receipt_number
    assert {i.filename: archive.read(i) for i in archive.infolist()} == {
        f"{receipt}/書類/住民票の写し.pdf": b"%PDF-1.4 second",
        f"{receipt}/書類（補正前）/住民票の写し.pdf": b"%PDF-1.4 first",
    }
    text = pdf_text(
        client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk})).content
    )
    assert "補正前の内容" in text and "住民票の写しの請求（再提出）" in text


def test_file_names_from_residents_cannot_leave_their_folder_and_duplicates_are_kept_apart(file_procedure):
    names = [
        "../../etc/passwd",
        "C:\\Windows\\win.ini",
        "CON.pdf",
        "同じ名前.PDF",
        "同じ名前.pdf",
        "..",
        " .pdf. ",
    ]
    submissions = []
    for name in names:
        submission = submit_with_file(file_procedure, name=name, data=name.encode())
        submissions.append(submission)
    # one folder per 受付番号; pretend two share a folder to see duplicates disambiguated
    data = b"".join(paper.attachments_zip(Submission.objects.filter(pk__in=[s.pk for s in submissions])))
    archive = zipfile.ZipFile(io.BytesIO(data))
    got = sorted(archive.namelist())
    assert len(got) == len(names)
    for path in got:
        parts = path.split("/")
        assert len(parts) == 3 and ".." not in parts and all(parts), path
        assert "\\" not in path and ":" not in path
    assert any(p.endswith("/書類/passwd") for p in got)
    assert any(p.endswith("/書類/_CON.pdf") for p in got)
    taken: set[str] = set()
    first = paper._unique("4821-0395-76/書類/同じ名前.pdf", taken)
    second = paper._unique("4821-0395-76/書類/同じ名前.PDF", taken)
    assert (first, second) == ("4821-0395-76/書類/同じ名前.pdf", "4821-0395-76/書類/同じ名前 (2).PDF")


def test_a_selection_of_cases_zips_into_one_folder_each_and_skips_cases_without_files(
    colleague, file_procedure
):
    with_files = [submit_with_file(file_procedure, data=f"{i}".encode()) for i in range(3)]
    without = services.submit(
        procedure=file_procedure,
        version=file_procedure.current_version,
        answers=dict(ALL_ANSWERS),
        staged_files={},
        token=secrets.token_hex(8),
    ).submission
    chunks = list(paper.attachments_zip(Submission.objects.filter(organization=file_procedure.organization)))
    assert len(chunks) > 1, "streamed piece by piece"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    folders = {name.split("/")[0] for name in archive.namelist()}
    assert folders == {s.display_receipt_number for s in with_files}
    assert without.display_receipt_number not in folders


def test_a_file_missing_from_storage_is_listed_not_a_broken_zip(colleague, file_procedure):
    submission = submit_with_file(file_procedure)
    default_storage.delete(Attachment.objects.get(submission=submission).file.name)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(paper.attachments_zip([submission]))))
    assert archive.namelist() == ["読み込めなかったファイル.txt"]
    assert "住民票の写し.pdf" in archive.read("読み込めなかったファイル.txt").decode("utf-8-sig")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_file_name_becomes_one_safe_path_component(name):
    safe = paper.safe_name(name)
    assert safe and safe not in (".", "..")
    assert not set(safe) & set('/\\<>:"|?*') and not any(ord(c) < 32 for c in safe)
    assert len(safe) <= paper.NAME_CHARS
    assert safe == safe.rstrip(". ")
    zipfile.ZipInfo(f"4821-0395-76/書類/{safe}")  # a valid entry name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a.pdf", "A.PDF", "a (2).pdf", "写し.png", "写し"]), max_size=12))
def test_duplicate_names_always_become_distinct(names):
    taken: set[str] = set()
    paths = [paper._unique(f"x/書類/{n}", taken) for n in names]
    assert len({p.casefold() for p in paths}) == len(paths)


# --- The prepared font --------------------------------------------------------------------------------


@pytest.fixture
def prepared_font():
    choice = paper.find_font()
    if choice.path.stat().st_size < paper.LARGE_FONT_BYTES:
        pytest.fail("CI installs fonts-noto-cjk: its large collection is the font these tests expect")
    path = paper.prepared_font_path(choice)
    if not path.exists():
        paper.prepare_font(choice)  # about 8 s of CPU, once per machine
    return path


def test_with_the_prepared_font_names_print_the_same_and_their_glyphs_are_embedded(
    client, colleague, procedure, prepared_font
):
    submission = make_submission(procedure, {**SIGNUP_ANSWERS, "name": RARE_NAME}).submission
    assert paper._font_for(paper.case_document(submission)).path == prepared_font
    client.force_login(colleague)
    body = client.get(reverse("staff:submission_case_pdf", kwargs={"submission_id": submission.pk})).content
    text = pdf_text(body)
    assert "𠮷田\u3000﨑子" in text and "起案者" in text
    assert all(has_glyph(body, c) for c in "𠮷﨑田")


def test_a_character_outside_the_prepared_font_is_printed_with_the_whole_font(procedure, prepared_font):
    submission = make_submission(
        procedure, {**SIGNUP_ANSWERS, "name": {"family": "김", "given": "한나"}}
    ).submission
    document = paper.receipt_document(submission)
    assert paper._font_for(document).path == paper.find_font().path
    assert "김\u3000한나" in pdf_text(paper.render(document))


def test_without_the_prepared_font_the_whole_font_serves_and_preparing_starts(
    monkeypatch, submission, tmp_path
):
    started = []
    monkeypatch.setattr(paper, "prepared_font_path", lambda choice: tmp_path / "none.otf")
    monkeypatch.setattr(paper, "_prepare_in_background", started.append)
    document = paper.case_document(submission)
    assert paper._font_for(document) == paper.find_font()
    assert started == [paper.find_font()]
    assert "髙橋" in pdf_text(paper.render(document))
