"""「問い合わせ番号を忘れた方」: the 問い合わせ番号 is e-mailed to the address given with the submission, never
elsewhere; the page answers the same whether or not anything matched; limited; audited."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.lib.receipt import format_inquiry_code, format_receipt_number, inquiry_code_for
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.tasks import send_email
from madoguchi.submissions.verification_views import RECOVERY_PER_RECEIPT
from tests.conftest import SIGNUP_ANSWERS, make_submission

pytestmark = pytest.mark.django_db

URL = reverse("public:inquiry_recovery")


@pytest.fixture
def submission(procedure):
    return make_submission(procedure, dict(SIGNUP_ANSWERS)).submission


def ask(client, receipt: str, email: str):
    return client.post(URL, {"receipt_number": receipt, "email": email}, follow=True)


def recovery_mails():
    return OutgoingEmail.objects.filter(kind="inquiry_code")


def test_the_status_page_links_to_it(client):
    page = client.get(reverse("public:status")).content.decode()
    assert f'href="{URL}"' in page and "問い合わせ番号を忘れた方" in page


def test_the_code_goes_to_the_address_of_the_submission_written_as_it_is_sent(client, submission):
    response = ask(client, format_receipt_number(submission.receipt_number), "ＳＡＫＩＫＯ@example.jp")
    assert "問い合わせ番号をお送りしました" in response.content.decode()
    row = recovery_mails().get()
    assert row.to == "sakiko@example.jp" and row.submission_id == submission.pk
    code = format_inquiry_code(inquiry_code_for(submission.token))
    assert row.body == "" and code not in row.subject  # never stored, even while waiting
    assert row.display_subject == "問い合わせ番号のお知らせ"
    assert send_email.call(row.pk) == "sent"
    sent = mail.outbox[0]
    assert sent.to == ["sakiko@example.jp"]
    assert sent.subject.startswith("【問い合わせ番号のお知らせ】シニア向けスマートフォン教室")
    assert code in sent.body and format_receipt_number(submission.receipt_number) in sent.body
    row.refresh_from_db()
    assert row.body == ""
    # The code works on the status page.
    resident = Client()
    resident.post(
        reverse("public:status"), {"receipt_number": submission.receipt_number, "inquiry_code": code}
    )
    assert resident.get(reverse("public:status_view")).status_code == 200
    entry = AuditLog.objects.get(action="submission.inquiry_code_resent")
    assert entry.organization_id == submission.organization_id


@pytest.mark.parametrize(
    "receipt, email",
    [
        ("mine", "mallory@example.jp"),  # someone else's address: never sent there
        ("4821-0395-76", "sakiko@example.jp"),  # a number not given
    ],
)
def test_no_match_looks_exactly_like_a_match_and_sends_nothing(client, submission, receipt, email):
    receipt = submission.receipt_number if receipt == "mine" else receipt
    matched = ask(Client(), submission.receipt_number, "sakiko@example.jp").content.decode()
    recovery_mails().delete()
    unmatched = ask(client, receipt, email).content.decode()
    assert "お送りしました" in unmatched
    assert strip_tokens(unmatched) == strip_tokens(matched)
    assert not recovery_mails().exists()
    assert AuditLog.objects.filter(action="submission.inquiry_code_resent").count() == 1  # the match only


def strip_tokens(page: str) -> str:
    import re

    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_a_submission_without_an_address_sends_nothing_and_says_the_same(client, procedure):
    bare = make_submission(procedure, {**SIGNUP_ANSWERS, "email": ""}).submission
    assert bare.applicant_email == ""
    response = ask(client, bare.receipt_number, "sakiko@example.jp")
    assert "お送りしました" in response.content.decode()
    assert not recovery_mails().exists()


@pytest.mark.parametrize(
    "receipt, email, field",
    [("12345", "sakiko@example.jp", "receipt_number"), ("", "sakiko@example.jp", "receipt_number"),
     ("4821039576", "not-an-address", "email"), ("4821039576", "\x00", "email")],
)  # fmt: skip
def test_wrong_input_is_told_at_its_field_and_kept(client, receipt, email, field):
    response = client.post(URL, {"receipt_number": receipt, "email": email})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert ("receipt-error" if field == "receipt_number" else "recovery-email-error") in page
    assert f'value="{receipt}"' in page
    assert not recovery_mails().exists()


def test_asking_is_limited_per_receipt_number(client, submission):
    for _ in range(RECOVERY_PER_RECEIPT):
        ask(Client(), submission.receipt_number, "sakiko@example.jp")
    response = client.post(URL, {"receipt_number": submission.receipt_number, "email": "sakiko@example.jp"})
    assert response.status_code == 429
    assert "時間をおいて" in response.content.decode()
    assert recovery_mails().count() == RECOVERY_PER_RECEIPT
