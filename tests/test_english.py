"""The resident pages and the staff back office in English: chosen by the browser or by the switcher in the
header, with no JavaScript.

Japanese stays the default. What staff wrote (titles, labels, options) is shown as written. What the system
produces for others does not follow the page: e-mails to residents are in the language the resident applied
in, and the CSV and Excel exports and the texts it stores (history reasons, audit rows) stay Japanese.
"""

import ast
import csv
import gettext
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from madoguchi.audit.models import AuditLog
from madoguchi.lib.japanese import fiscal_year, format_fiscal_year
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions import services
from madoguchi.submissions.models import Status, StatusChange, Submission
from tests.conftest import (
    ALL_TYPES_SCHEMA,
    SIGNUP_ANSWERS,
    SIGNUP_POST,
    hidden_fields,
    make_procedure,
    make_submission,
)
from tests.test_resident_flow import all_types_post, confirm_url, form_url, post_form

pytestmark = pytest.mark.django_db

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
CATALOGUE = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES"


def english_client(**defaults) -> Client:
    return Client(**ENGLISH, **defaults)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_japanese_is_the_default_without_a_language_header(client, procedure, council):
    page = client.get("/").content.decode()
    assert '<html lang="ja">' in page
    assert "オンラインでできる手続" in page and "市町村から探す" in page
    assert "Services you can apply for online" not in page


@pytest.mark.parametrize("header", ["en", "en-GB,en;q=0.9", "en-US,ja;q=0.5"])
def test_home_page_is_in_english_when_the_browser_prefers_it(procedure, council, header):
    page = Client(HTTP_ACCEPT_LANGUAGE=header).get("/", {"q": "スマートフォン"}).content.decode()
    assert '<html lang="en">' in page
    assert "Services you can apply for online" in page
    assert "1 result for “スマートフォン”" in page
    assert "Find by municipality" in page
    assert "Check application status" in page
    # Names of places, councils and services are shown as they are.
    assert "シニア向けスマートフォン教室" in page and "鳥取市" in page
    assert (
        "このサービスは" not in page
        and "This service is run jointly by 鳥取県自治体ICT共同化推進協議会" in page
    )


def test_an_unsupported_language_falls_back_to_japanese(procedure):
    page = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/").content.decode()
    assert '<html lang="ja">' in page and "オンラインでできる手続" in page


def test_form_page_is_in_english_and_keeps_the_labels_staff_wrote(procedure):
    page = english_client().get(form_url(procedure)).content.decode()
    assert "1. Fill in" in page and "2. Check" in page
    assert "Family name" in page and "Given name" in page
    assert '<span class="required">Required</span>' in page
    assert ">Continue</button>" in page
    for label in (
        "氏名",
        "ふりがな",
        "電話番号",
        "メールアドレス",
        "希望する回",
        "注意事項に同意します",
        "午前",
    ):
        assert label in page
    assert "シニア向けスマートフォン教室" in page
    assert "入力内容を確認する" not in page and "必須" not in page


def test_validation_errors_are_in_english_and_keep_what_was_typed(tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    resident = english_client()
    data = all_types_post(name__family="", name__given="", address__postal="68-857")
    response = post_form(resident, procedure, data, follow=True)
    page = response.content.decode()
    assert response.status_code == 400
    assert "<title>Error: 全項目 – fill in the form" in page
    assert "There are problems with 2 answers" in page
    assert ">Enter “氏名”</a>" in page  # the label as staff wrote it (once), the message in English
    assert "住所: Enter a postal code of 7 digits, like 680-8570" in page
    assert '<span class="visually-hidden">Error: </span>' in page
    assert "入力してください" not in page and "入力内容を確認してください" not in page
    assert 'value="68-857"' in page and 'value="鳥取市東町一丁目220"' in page


def test_one_error_reads_in_the_singular(procedure):
    response = post_form(english_client(), procedure, {**SIGNUP_POST, "phone": "12345"}, follow=True)
    page = response.content.decode()
    assert "There is a problem with 1 answer" in page
    assert "Enter a phone number of 10 or 11 digits starting with 0, like 0857-26-7111" in page


def test_bad_file_is_explained_in_english(tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("a.exe", b"MZ" + b"0" * 50)
    page = post_form(
        english_client(), procedure, {**all_types_post(), "doc": upload}, follow=True
    ).content.decode()
    assert "This type of file cannot be attached. Choose a PDF or PNG file" in page
    assert "PDF or PNG, up to 1 MB" in page


def test_confirmation_and_completion_pages_are_in_english(procedure):
    resident = english_client()
    assert post_form(resident, procedure, SIGNUP_POST).status_code == 302
    page = resident.get(confirm_url(procedure)).content.decode()
    assert "<h1>Check your answers</h1>" in page
    assert "Your booking is not complete yet." in page
    assert ">Book your place</button>" in page
    assert "Go back and change your answers" in page
    assert "<dt>氏名</dt><dd>髙橋\u3000﨑子</dd>" in page  # staff's label, the resident's answer
    assert Submission.objects.count() == 0

    page = resident.post(confirm_url(procedure), hidden_fields(page), follow=True).content.decode()
    submission = Submission.objects.get()
    assert "<h1>Booking received</h1>" in page
    receipt = submission.display_receipt_number
    assert (
        f'<dt>Reference number</dt><dd class="receipt-number" data-testid="receipt-number">{receipt}</dd>'
        in page
    )
    assert "<dt>Inquiry code</dt>" in page
    assert "We will send a confirmation to the email address you gave." in page
    assert "お申込みを受け付けました" not in page


def test_status_page_shows_the_status_and_messages_in_english(client, procedure, colleague):
    from madoguchi.submissions import services

    post_form(client, procedure, SIGNUP_POST)
    page = client.get(confirm_url(procedure)).content.decode()
    page = client.post(confirm_url(procedure), hidden_fields(page), follow=True).content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', page).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', page).group(1)

    resident = english_client()
    wrong = resident.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": "AAAA-AAAA"})
    assert (
        "We could not find an application with that reference number and inquiry code."
        in wrong.content.decode()
    )
    resident.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": code})
    submission = Submission.objects.get()
    services.transition(
        submission=submission, to_status=Status.RETURNED, actor=colleague, reason="写しが不鮮明"
    )
    page = resident.get(reverse("public:status_view")).content.decode()
    assert (
        '<strong class="status status-returned" data-testid="status">Returned for correction</strong>' in page
    )
    assert "写しが不鮮明" in page  # the reason the department wrote
    assert "Correct your answers" in page and "Cancel booking" in page  # a sign-up is cancelled

    response = resident.post(reverse("public:status_withdraw"), {"reason": ""}, follow=True)
    assert "Enter a reason for withdrawing." in response.content.decode()


def test_closed_procedure_says_so_in_english(procedure):
    from madoguchi.procedures.models import Procedure

    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.CLOSED)
    page = english_client().get(form_url(procedure)).content.decode()
    assert "This service is closed for applications." in page


def test_language_switcher_works_without_javascript(procedure):
    resident = Client(enforce_csrf_checks=True)
    page = resident.get("/312011/").content.decode()
    switcher = re.search(r'<form class="language-switch".*?</form>', page, re.S).group(0)
    assert 'method="post" action="/i18n/setlang/"' in switcher
    assert '<input type="hidden" name="next" value="/312011/">' in switcher
    assert (
        '<button type="submit" class="link-button" name="language" value="en" lang="en">English</button>'
        in switcher
    )
    assert 'aria-current="true">日本語</span>' in switcher

    response = resident.post(
        "/i18n/setlang/", {"csrfmiddlewaretoken": csrf_token(page), "language": "en", "next": "/312011/"}
    )
    assert response.status_code == 302 and response["Location"] == "/312011/"
    page = resident.get("/312011/").content.decode()
    assert '<html lang="en">' in page and "Online services from 鳥取市" in page
    # The choice is kept: the next pages are in English too, with a way back to Japanese.
    page = resident.get(form_url(procedure)).content.decode()
    assert ">Continue</button>" in page
    assert 'name="switch_language" value="ja" lang="ja">日本語</button>' in page

    resident.post(
        "/i18n/setlang/",
        {"csrfmiddlewaretoken": csrf_token(page), "language": "ja", "next": form_url(procedure)},
    )
    page = resident.get(form_url(procedure)).content.decode()
    assert '<html lang="ja">' in page and ">入力内容を確認する</button>" in page


def test_switcher_choice_wins_over_the_browser_language(procedure):
    resident = english_client()
    resident.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    page = resident.get("/").content.decode()
    assert '<html lang="ja">' in page and "オンラインでできる手続" in page


def test_switcher_never_sends_the_resident_to_another_site(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_switcher_keeps_the_search_on_the_page(client, procedure):
    page = client.get("/", {"q": "教室"}).content.decode()
    assert '<input type="hidden" name="next" value="/?q=%E6%95%99%E5%AE%A4">' in page


def test_e_mails_are_in_the_language_the_resident_used(procedure, colleague, mailoutbox):
    from madoguchi.notifications.tasks import send_email

    resident = english_client()
    post_form(resident, procedure, SIGNUP_POST)
    resident.post(
        confirm_url(procedure), hidden_fields(resident.get(confirm_url(procedure)).content.decode())
    )
    submission = Submission.objects.get()
    receipt = submission.display_receipt_number
    assert send_email.call(OutgoingEmail.objects.get(kind="receipt").pk) == "sent"  # written as it is sent
    [email] = mailoutbox
    assert email.subject == f"[Received] シニア向けスマートフォン教室 (reference number {receipt})"
    assert "We have received your application." in email.body and "\nInquiry code: " in email.body
    assert "（" not in email.body and "：" not in email.body  # no Japanese punctuation in English
    assert "髙橋" not in email.body  # answers are not sent by e-mail
    # A Japanese-speaking staff member moves it: the resident is still written to in English.
    services.transition(submission=submission, to_status=Status.IN_REVIEW, actor=colleague)
    status = OutgoingEmail.objects.get(kind="status_in_review")
    assert status.subject.startswith("[In progress] ") and "“In progress”" in status.body
    assert "申請の状態" not in status.body


def staff_client(user, language: str = "en") -> Client:
    staff = Client(HTTP_ACCEPT_LANGUAGE=language)
    staff.force_login(user)
    return staff


def inbox_url(procedure) -> str:
    return reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})


def detail_url(submission) -> str:
    return reverse("staff:submission", kwargs={"submission_id": submission.pk})


def transition_url(submission) -> str:
    return reverse("staff:transition", kwargs={"submission_id": submission.pk})


def test_staff_back_office_stays_japanese_by_default(client, owner, procedure, submission):
    page = client.get(reverse("staff:login")).content.decode()
    assert '<html lang="ja">' in page and "<h1>職員ログイン</h1>" in page
    client.force_login(owner)
    page = client.get(reverse("staff:home")).content.decode()
    assert '<html lang="ja">' in page and "<h1>手続一覧</h1>" in page
    assert "（あなたの役割：管理者）" in page and "<td>公開中</td>" in page
    page = client.get(inbox_url(procedure)).content.decode()
    assert "すべて 1件" in page and "処理待ち 1件" in page and ">到達日（から）</label>" in page
    page = client.get(detail_url(submission)).content.decode()
    assert "処理を開始する（処理中にする）" in page and "<h2>内部メモ <span" in page
    assert "Waiting" not in page and "Internal notes" not in page


def test_staff_can_switch_to_english_and_back_without_javascript(colleague, procedure):
    staff = Client(enforce_csrf_checks=True)
    page = staff.get(reverse("staff:login")).content.decode()
    switcher = re.search(r'<form class="language-switch".*?</form>', page, re.S).group(0)
    assert 'method="post" action="/i18n/setlang/"' in switcher
    assert 'name="language" value="en" lang="en">English</button>' in switcher
    staff.post(
        "/i18n/setlang/",
        {"csrfmiddlewaretoken": csrf_token(page), "language": "en", "next": reverse("staff:login")},
    )
    page = staff.get(reverse("staff:login")).content.decode()
    assert '<html lang="en">' in page and "<h1>Staff sign-in</h1>" in page
    assert ">Username</label>" in page and ">Password</label>" in page and ">Sign in</button>" in page

    staff.force_login(colleague)
    page = staff.get(inbox_url(procedure)).content.decode()
    assert '<html lang="en">' in page and ">Sign out</button>" in page
    assert 'name="language" value="ja" lang="ja">日本語</button>' in page
    staff.post(
        "/i18n/setlang/",
        {"csrfmiddlewaretoken": csrf_token(page), "language": "ja", "next": inbox_url(procedure)},
    )
    page = staff.get(inbox_url(procedure)).content.decode()
    assert '<html lang="ja">' in page and ">ログアウト</button>" in page


def test_staff_login_error_is_in_english(colleague):
    page = (
        english_client()
        .post(reverse("staff:login"), {"username": "colleague", "password": "wrong"})
        .content.decode()
    )
    assert "The username or password is not correct." in page
    assert "ユーザー名" not in page


def test_staff_home_and_inbox_are_in_english(owner, colleague, procedure):
    waiting = make_submission(procedure).submission
    in_progress = make_submission(procedure).submission
    services.transition(submission=in_progress, to_status=Status.IN_REVIEW, actor=colleague)
    staff = staff_client(owner)

    page = staff.get(reverse("staff:home")).content.decode()
    assert '<html lang="en">' in page and "<h1>Services</h1>" in page
    assert "(your role: Administrator)" in page
    assert "Activity record (audit log)" in page
    assert '<th scope="col">Service</th><th scope="col">Publication</th>' in page
    assert '<th scope="col" class="num">Waiting</th><th scope="col" class="num">In progress</th>' in page
    assert "<td>Published</td>" in page
    assert "Staff pages: viewing and exporting applicants’ personal information is recorded." in page
    assert "シニア向けスマートフォン教室" in page  # the title as staff wrote it
    assert "手続一覧" not in page and "処理待ち" not in page and "公開中" not in page

    page = staff.get(inbox_url(procedure)).content.decode()
    assert '<nav aria-label="Breadcrumb" class="breadcrumbs"><ol><li><a href="/staff/">Services</a>' in page
    assert ">All (2)</a>" in page and ">Waiting (1)</a>" in page and ">In progress (1)</a>" in page
    assert '<label for="f-status" class="sublabel">Status</label>' in page
    assert '<option value="">All</option><option value="received">Waiting</option>' in page
    assert '<option value="returned">Returned for correction</option>' in page
    assert ">Received from</label>" in page and ">Received until</label>" in page
    assert ">Reference number</label>" in page and ">Search and filter</button>" in page
    assert "Export to CSV or Excel" in page
    assert '<th scope="col">Date and time received</th>' in page and '<th scope="col">Assignee</th>' in page
    assert '<span class="status status-in_review">In progress</span>' in page
    assert '<span class="status status-received">Waiting</span>' in page
    assert waiting.display_receipt_number in page
    assert "受付番号" not in page and "絞り込む" not in page

    page = staff.get(inbox_url(procedure), {"from": "あした", "receipt": "12"}).content.decode()
    assert "Received from: Enter a date like 2026-04-01, 2026/4/1 or 令和8年4月1日" in page
    assert "Reference number: enter the 10 digits (for example, 4821-0395-76)" in page
    assert "No applications match." in page


def test_staff_detail_page_and_its_actions_are_in_english(colleague, procedure, submission):
    staff = staff_client(colleague)
    page = staff.get(detail_url(submission)).content.decode()
    assert f"<h1>Reference number {submission.display_receipt_number}</h1>" in page
    assert (
        '<dt>Status</dt><dd><strong class="status status-received" data-testid="status">Waiting</strong>'
        in page
    )
    assert "<dt>Form</dt><dd>Version 1</dd>" in page and "<dt>Assignee</dt><dd>Unassigned</dd>" in page
    assert '<legend class="label">Change the status</legend>' in page
    assert ">Start processing (mark as in progress)</label>" in page
    assert ">Return for correction (reason required)</label>" in page
    assert ">Decline (reason required) (asks for confirmation)</label>" in page  # a sign-up's words
    assert ">Reason and message to the applicant</label>" in page
    assert ">Change status</button>" in page and ">Change assignee</button>" in page
    assert '<h2>Internal notes <span class="meta">(not shown to the applicant)</span></h2>' in page
    assert "There are no notes." in page and ">Add note</button>" in page
    assert "<dt>氏名</dt><dd>髙橋\u3000﨑子</dd>" in page  # the label staff wrote, the resident's answer
    # The receipt e-mail, written by the worker as it sends it, is listed by its kind until then.
    assert "Receipt notice: <strong" in page and "Waiting to be sent" in page
    assert "状態を変更する" not in page and "内部メモ" not in page

    page = staff.post(transition_url(submission), {"to": Status.RETURNED}, follow=True).content.decode()
    assert (
        "Enter a reason to change the status to “Returned for correction” (the applicant will see it)."
        in page
    )
    page = staff.post(transition_url(submission), {"to": "nowhere"}, follow=True).content.decode()
    assert "The new status is not valid." in page
    page = staff.post(transition_url(submission), {"to": Status.IN_REVIEW}, follow=True).content.decode()
    assert "The status has been changed to “In progress”." in page
    assert "Waiting → <strong>In progress</strong> (colleague)" in page
    assert "<strong>Waiting</strong> (Applicant)" in page

    note_url = reverse("staff:add_note", kwargs={"submission_id": submission.pk})
    page = staff.post(note_url, {"body": ""}, follow=True).content.decode()
    assert "Enter the note." in page
    page = staff.post(note_url, {"body": "本人確認済み"}, follow=True).content.decode()
    assert "The internal note has been added." in page and "本人確認済み" in page

    assign_url = reverse("staff:assign", kwargs={"submission_id": submission.pk})
    page = staff.post(assign_url, {"assignee": "nobody"}, follow=True).content.decode()
    assert "Only case officers who can handle this service can be the assignee." in page
    page = staff.post(assign_url, {"assignee": "colleague"}, follow=True).content.decode()
    assert "The assignee has been changed." in page


def test_answers_before_a_correction_are_shown_in_english(colleague, procedure, submission):
    services.transition(submission=submission, to_status=Status.IN_REVIEW, actor=colleague)
    services.transition(
        submission=submission, to_status=Status.RETURNED, actor=colleague, reason="写しが不鮮明"
    )
    with translation.override("en"):
        services.resubmit(
            submission=submission, answers={**SIGNUP_ANSWERS, "phone": "0857-00-0000"}, staged_files={}
        )
    page = staff_client(colleague).get(detail_url(submission)).content.decode()
    assert "<h2>Answers before correction</h2>" in page
    assert "Answers changed when resubmitted on " in page
    assert "<dt>電話番号</dt><dd>0857-20-3111</dd>" in page
    # What staff wrote is shown as written; the reason the system stores reads in the page's language.
    assert "写しが不鮮明" in page and "Corrected and resubmitted" in page and "補正して再提出" not in page
    assert list(StatusChange.objects.filter(submission=submission).values_list("reason", flat=True))[-2:] == [
        "写しが不鮮明",
        "補正して再提出",
    ]


def test_staff_export_page_is_in_english(colleague, procedure):
    make_submission(procedure, {**SIGNUP_ANSWERS, "name": {"family": "𠮷田", "given": "﨑子"}})
    make_submission(procedure)
    staff = staff_client(colleague)
    b"".join(staff.get(reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})).streaming_content)
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    b"".join(staff.get(url, {"encoding": "cp932"}).streaming_content)
    page = staff.get(reverse("staff:export", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert "<h1>Export applications</h1>" in page
    assert (
        "Export all 2 applications for シニア向けスマートフォン教室 (鳥取市). Exports are recorded." in page
    )
    assert ">Excel file (.xlsx)</a>" in page and ">CSV (UTF-8 with BOM)</a>" in page
    assert ">CSV (Shift_JIS)</a>" in page
    assert "<h2>Recent exports</h2>" in page
    assert "colleague: CSV<strong> (for Excel, Shift_JIS, 2 applications, 1 character replaced: 𠮷)" in page
    assert "colleague: CSV (for Excel, UTF-8, 2 applications)" in page
    assert "出力" not in page and "置き換えた文字" not in page


def test_audit_page_labels_actions_in_english(owner, colleague, procedure, submission):
    staff = staff_client(colleague)
    staff.get(detail_url(submission))
    staff.post(transition_url(submission), {"to": Status.IN_REVIEW})
    staff.post(reverse("staff:assign", kwargs={"submission_id": submission.pk}), {"assignee": "colleague"})
    url = reverse("staff:audit", kwargs={"code": "312011"})
    page = staff_client(owner).get(url).content.decode()
    assert '<h1>Activity record <span class="meta">鳥取市</span></h1>' in page
    assert '<option value="submission.view">Viewing an application</option>' in page
    assert '<th scope="col">Date and time</th><th scope="col">Action</th><th scope="col">Details</th>' in page
    receipt = submission.display_receipt_number
    assert (
        f'<td class="nowrap">Viewing an application</td><td>colleague viewed reference number {receipt}</td>'
        in page
    )
    assert (
        f'<td class="nowrap">Status change</td><td>colleague changed the status of reference number {receipt}'
        " from “Waiting” to “In progress”</td>"
    ) in page  # the statuses in the page's language
    assert '<td class="nowrap">Assignee change</td><td>colleague assigned reference number' in page
    assert "申請内容の閲覧" not in page and "submission.assign<" not in page
    page = staff_client(owner).get(url, {"action": "submission.transition"}).content.decode()
    assert '<option value="submission.transition" selected>Status change</option>' in page
    assert "Viewing an application</td>" not in page


def test_council_dashboard_is_in_english(secretariat, council, procedure):
    make_submission(procedure)
    url = reverse("staff:council", kwargs={"council_id": council.pk})
    year = fiscal_year(timezone.now())
    wareki = format_fiscal_year(year)  # 令和8年度 for 2026
    page = staff_client(secretariat).get(url).content.decode()
    assert '<label class="sublabel" for="fy">Fiscal year</label>' in page
    assert f'<option value="{year}" selected>Fiscal year {year} ({wareki})</option>' in page
    assert f">Applications in fiscal year {year} ({wareki}), by member organization</caption>" in page
    assert '<th scope="col">Organization code</th><th scope="col">Organization</th>' in page
    assert '<th scope="row" colspan="2">Total</th><td class="num">1</td>' in page
    assert ">Show</button>" in page and "鳥取市" in page and "年度の申請件数" not in page

    page = staff_client(secretariat, "ja").get(url).content.decode()
    assert f'<option value="{year}" selected>{wareki}</option>' in page
    assert f">{wareki}の申請件数（加入団体別）</caption>" in page


def test_exports_and_emails_stay_japanese_for_an_english_staff_member(colleague, procedure):
    first = make_submission(procedure).submission
    second = make_submission(procedure).submission
    staff = staff_client(colleague)
    page = staff.post(transition_url(first), {"to": Status.IN_REVIEW}, follow=True).content.decode()
    assert "The status has been changed to “In progress”." in page
    staff.post(transition_url(second), {"to": Status.IN_REVIEW})
    staff.post(
        transition_url(second), {"to": Status.COMPLETED, "confirmed": "1"}
    )  # after the confirmation page

    in_review = OutgoingEmail.objects.get(submission=first, kind="status_in_review")
    assert (
        in_review.subject
        == f"【処理中】シニア向けスマートフォン教室（受付番号 {first.display_receipt_number}）"
    )
    assert "申請の状態が「処理中」になりました。" in in_review.body
    completed = OutgoingEmail.objects.get(submission=second, kind="status_completed")
    assert completed.subject.startswith("【受付済み】")  # a sign-up's word for 完了, in Japanese
    assert "「受付済み」" in completed.body
    assert "In progress" not in in_review.body and "Completed" not in completed.body
    assert AuditLog.objects.filter(action="submission.transition").first().detail == {
        "from": "in_review",
        "to": "completed",
    }

    response = staff.get(reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk}))
    # The rows are made while the response streams, after the view has returned: still in Japanese.
    with translation.override("en"):
        data = b"".join(response.streaming_content)
        assert translation.get_language() == "en"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["受付番号", "到達日時", "状態", "フォームの版"]
    assert "氏名（姓）" in rows[0] and "氏名（名）" in rows[0]
    assert [row[2] for row in rows[1:]] == ["処理中", "受付済み"]  # a sign-up's words
    assert rows[1][rows[0].index("注意事項に同意します")] == "同意する"

    response = staff.get(reverse("staff:export_xlsx", kwargs={"procedure_id": procedure.pk}))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["受付番号", "到達日時", "状態", "フォームの版"]
    assert [sheet.cell(row=r, column=3).value for r in (2, 3)] == ["処理中", "受付済み"]
    assert sheet.title == "申請一覧"


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural and msgstr[...] joined, and their flags."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and "msgid" in entry:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": set()}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def test_english_catalogue_is_complete_and_compiled():
    entries = po_entries(CATALOGUE / "django.po")
    messages = [e for e in entries if e["msgid"]]
    assert len(messages) > 150
    assert not [e for e in entries if "fuzzy" in e["flags"]]
    untranslated = [
        e["msgid"]
        for e in messages
        if not all(value for key, value in e.items() if key == "msgstr" or key.startswith("msgstr["))
    ]
    assert untranslated == []
    # The .mo is committed too (a fresh machine has no gettext tools) and matches the .po.
    with (CATALOGUE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for e in messages:
        msgid = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            assert compiled.ngettext(msgid, e["msgid_plural"], 2) == e["msgstr[1]"], e["msgid"]
        else:
            assert compiled.gettext(msgid) == e["msgstr"], e["msgid"]


def test_switching_language_on_a_form_keeps_what_was_typed(procedure):
    resident = Client(enforce_csrf_checks=True)
    page = resident.get(form_url(procedure)).content.decode()
    assert 'form="apply-form" name="switch_language" value="en"' in page  # the switch sends the form itself
    typed = {**SIGNUP_POST, "phone": "0857-20", "switch_language": "en"}
    response = resident.post(
        form_url(procedure),
        {**typed, "version": procedure.current_version_id, "csrfmiddlewaretoken": csrf_token(page)},
    )
    assert response.status_code == 302 and response["Location"] == form_url(procedure)
    page = resident.get(form_url(procedure)).content.decode()
    assert '<html lang="en">' in page
    assert 'value="髙橋"' in page and 'value="0857-20"' in page  # kept, and not yet judged
    assert "There is a problem" not in page and 'role="alert"' not in page


def test_answers_read_in_english_on_the_confirmation_page_and_stay_japanese_in_the_export(tottori, colleague):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    resident = english_client()
    assert post_form(resident, procedure, all_types_post()).status_code == 302
    page = resident.get(confirm_url(procedure)).content.decode()
    assert "Agreed" in page and "同意する" not in page
    assert "1 May 2019" in page and "令和元年" not in page
    assert "子育て, 介護" in page  # the options staff wrote, joined the English way
    resident.post(confirm_url(procedure), hidden_fields(page))
    staff = staff_client(colleague)
    data = staff.get(reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk}))
    text = b"".join(data.streaming_content).decode("utf-8-sig")
    assert "同意する" in text and "子育て、介護" in text and "Agreed" not in text


def test_switching_language_shows_the_same_errors_in_the_new_language(procedure):
    resident = Client()
    page = post_form(resident, procedure, {**SIGNUP_POST, "phone": "12345"}, follow=True).content.decode()
    assert 'role="alert"' in page and "電話番号" in page
    post_form(resident, procedure, {**SIGNUP_POST, "phone": "12345", "switch_language": "en"})
    page = resident.get(form_url(procedure)).content.decode()
    assert '<html lang="en">' in page and 'role="alert"' in page and 'value="12345"' in page
    assert "There is a problem with 1 answer" in page and "入力内容を確認してください" not in page


def test_a_file_removed_before_switching_language_stays_removed(tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    resident = Client()
    png = SimpleUploadedFile(
        "写真.png",
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
            b"\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8\x00\x00\x00\x00IEND\xaeB`\x82"
        ),
        content_type="image/png",
    )
    post_form(resident, procedure, {**all_types_post(count="百"), "doc": png})
    assert "写真.png" in resident.get(form_url(procedure)).content.decode()
    post_form(resident, procedure, {**all_types_post(), "doc__remove": "1", "switch_language": "en"})
    assert "写真.png" not in resident.get(form_url(procedure)).content.decode()
    assert post_form(resident, procedure, all_types_post()).status_code == 302
    assert "写真.png" not in resident.get(confirm_url(procedure)).content.decode()


def test_audit_names_actions_without_a_user_in_the_page_language(owner, procedure, submission):
    services.withdraw(submission=submission, reason="都合")
    page = staff_client(owner).get(reverse("staff:audit", kwargs={"code": "312011"})).content.decode()
    assert (
        '<td class="nowrap">Withdrawal by the applicant</td><td>Applicant withdrew reference number' in page
    )
    assert "申請者</td>" not in page and "システム</td>" not in page


def test_a_refused_character_is_quoted_the_english_way(procedure):
    page = post_form(english_client(), procedure, {**SIGNUP_POST, "furigana": "たかはしs"}, follow=True)
    page = page.content.decode()
    assert "(“s” cannot be used)" in page and "「s」" not in page


def test_switching_language_on_the_status_page_keeps_the_withdrawal_reason_and_withdraws_nothing(procedure):
    from tests.test_resident_flow import submit_and_look_up

    resident, submission = submit_and_look_up(Client(), procedure, SIGNUP_POST)
    page = resident.get(reverse("public:status_view")).content.decode()
    assert 'form="withdraw-form" name="switch_language" value="en"' in page
    response = resident.post(
        reverse("public:status_withdraw"), {"reason": "日程が合わなくなりました", "switch_language": "en"}
    )
    assert response["Location"].endswith("#withdraw")
    page = resident.get(reverse("public:status_view")).content.decode()
    assert '<html lang="en">' in page and ">日程が合わなくなりました</textarea>" in page
    submission.refresh_from_db()
    assert submission.status == Status.RECEIVED
