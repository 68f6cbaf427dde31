"""E-mail verification before a form (Procedure.requires_email_verification): a one-time link through the
outbox, opened in any browser; the verified address is the submission's, and the server insists on it."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.notifications.models import EmailVerification, OutgoingEmail
from madoguchi.notifications.tasks import send_email
from madoguchi.submissions.models import Submission
from madoguchi.submissions.verification_views import SENDS_PER_ADDRESS_PER_HOUR
from tests.conftest import SIGNUP_POST, hidden_fields, make_procedure

pytestmark = pytest.mark.django_db

NO_EMAIL_SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "note", "type": "short_text", "label": "ご意見"},
    ]
}


@pytest.fixture
def verified_signup(tottori):
    return make_procedure(tottori, title="給付金の申請", requires_email_verification=True)


def urls(procedure) -> dict[str, str]:
    kwargs = {"code": procedure.organization.code, "procedure_id": procedure.pk}
    return {name: reverse(f"public:{name}", kwargs=kwargs) for name in ("form", "confirm", "verify_start")}


def ask_for_link(client, procedure, email="sakiko@example.jp"):
    return client.post(urls(procedure)["verify_start"], {"email": email})


def link_in_last_email() -> str:
    email = OutgoingEmail.objects.filter(kind="verification").latest("id")
    return re.search(r"https?://\S+/verify/\?t=\S+", email.body).group(0)


def open_link(client, link: str):
    """Open the e-mailed link and press its button, as a resident does."""
    path = link.split("://", 1)[1].partition("/")[2]
    page = client.get("/" + path)
    assert page.status_code == 200, page.content.decode()
    return client.post(reverse("public:verify_open"), hidden_fields(page.content.decode()), follow=True)


def test_the_form_first_asks_for_an_address_and_the_link_goes_through_the_outbox(client, verified_signup):
    response = client.get(urls(verified_signup)["form"])
    assert response.status_code == 302 and response["Location"] == urls(verified_signup)["verify_start"]
    page = client.get(response["Location"]).content.decode()
    assert "メールアドレスの確認" in page and 'autocomplete="email"' in page
    response = ask_for_link(client, verified_signup, "ｓａｋｉｋｏ＠Example.JP")
    assert response.status_code == 302
    assert "sakiko@example.jp" in client.get(response["Location"]).content.decode()
    row = OutgoingEmail.objects.get(kind="verification")
    assert row.to == "sakiko@example.jp" and "給付金の申請" in row.subject
    # The token is kept hashed: the verification row never holds the link's secret.
    link = link_in_last_email()
    token = link.rsplit("t=", 1)[1]
    stored = EmailVerification.objects.get()
    assert token not in stored.token_hash and stored.used_at is None
    # Sent by the worker like every other mail, Japanese subject and all; the outbox keeps no body after.
    assert send_email.call(row.pk) == "sent"
    assert mail.outbox[0].subject == "【メールアドレスの確認】給付金の申請"
    assert link in mail.outbox[0].body and mail.outbox[0].to == ["sakiko@example.jp"]
    row.refresh_from_db()
    assert row.body == ""


def test_the_link_opens_the_form_in_another_browser_with_the_address_fixed(client, verified_signup):
    ask_for_link(client, verified_signup)
    other_device = Client()
    response = open_link(other_device, link_in_last_email())
    page = response.content.decode()
    assert "メールアドレスを確認しました" in page
    assert re.search(
        r'name="email" value="sakiko@example.jp" type="email" autocomplete="email" readonly', page
    )
    # A different address typed (or forged) into the form is replaced by the verified one.
    other_device.post(
        urls(verified_signup)["form"],
        {"version": verified_signup.current_version_id, **SIGNUP_POST, "email": "mallory@example.jp"},
    )
    confirm = other_device.get(urls(verified_signup)["confirm"]).content.decode()
    assert "sakiko@example.jp" in confirm and "mallory" not in confirm
    other_device.post(urls(verified_signup)["confirm"], hidden_fields(confirm))
    submission = Submission.objects.get()
    assert submission.applicant_email == "sakiko@example.jp"
    assert EmailVerification.objects.get().used_at is not None


def test_without_an_email_field_the_verified_address_becomes_the_applicants(client, tottori):
    procedure = make_procedure(tottori, NO_EMAIL_SCHEMA, requires_email_verification=True)
    ask_for_link(client, procedure, "taro@example.jp")
    open_link(client, link_in_last_email())
    client.post(
        urls(procedure)["form"],
        {"version": procedure.current_version_id, "name__family": "山田", "name__given": "太郎"},
    )
    confirm = client.get(urls(procedure)["confirm"]).content.decode()
    client.post(urls(procedure)["confirm"], hidden_fields(confirm))
    assert Submission.objects.get().applicant_email == "taro@example.jp"
    assert OutgoingEmail.objects.filter(kind="receipt", to="taro@example.jp").exists()


def test_a_link_is_used_once_and_a_used_or_expired_one_offers_a_new_one(client, verified_signup):
    ask_for_link(client, verified_signup)
    link = link_in_last_email()
    open_link(Client(), link)
    stranger = Client()
    path = "/" + link.split("://", 1)[1].partition("/")[2]
    page = stranger.get(path)
    assert page.status_code == 410
    text = page.content.decode()
    assert "すでに使われています" in text and "確認メールをもう一度送る" in text
    assert 'value="sakiko@example.jp"' in text  # the button sends to the same address again
    # Expired.
    ask_for_link(client, verified_signup, "hanako@example.jp")
    EmailVerification.objects.filter(email="hanako@example.jp").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    expired = Client().get("/" + link_in_last_email().split("://", 1)[1].partition("/")[2])
    assert expired.status_code == 410 and "有効期限が過ぎています" in expired.content.decode()


@pytest.mark.parametrize("token", ["", "forged", "x" * 500, "\x00", "../../etc"])
def test_a_forged_link_is_a_clear_page_never_a_500(client, verified_signup, token):
    for response in (
        client.get(reverse("public:verify_open"), {"t": token}),
        client.post(reverse("public:verify_open"), {"t": token}),
    ):
        assert response.status_code == 404
        assert "リンクは正しくありません" in response.content.decode()


def test_sending_is_limited_per_address_and_per_browser(client, verified_signup):
    for _ in range(SENDS_PER_ADDRESS_PER_HOUR):
        assert ask_for_link(client, verified_signup).status_code == 302
    response = ask_for_link(client, verified_signup)
    assert response.status_code == 429
    page = response.content.decode()
    assert "時間をおいて" in page and 'value="sakiko@example.jp"' in page and 'aria-invalid="true"' in page
    # Another address from the same browser: the browser has asked too often as well.
    assert ask_for_link(client, verified_signup, "taro@example.jp").status_code == 429
    # Another browser, another address: unaffected.
    assert ask_for_link(Client(), verified_signup, "taro@example.jp").status_code == 302
    assert OutgoingEmail.objects.filter(kind="verification").count() == SENDS_PER_ADDRESS_PER_HOUR + 1


@pytest.mark.parametrize("typed", ["", "not-an-address", "a@", "\x00@example.jp"])
def test_a_wrong_address_is_told_at_the_field_and_kept(client, verified_signup, typed):
    response = ask_for_link(client, verified_signup, typed)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="verify-email-error"' in page and 'aria-invalid="true"' in page
    assert not OutgoingEmail.objects.filter(kind="verification").exists()


def test_a_submit_without_a_verified_session_is_refused_and_nothing_typed_is_lost(client, verified_signup):
    ask_for_link(client, verified_signup)
    open_link(client, link_in_last_email())
    client.post(urls(verified_signup)["form"], {"version": verified_signup.current_version_id, **SIGNUP_POST})
    confirmed = hidden_fields(client.get(urls(verified_signup)["confirm"]).content.decode())
    # The same signed 確認画面 posted from a browser that never verified (its session lost, or forged).
    stranger = Client()
    response = stranger.post(urls(verified_signup)["confirm"], confirmed)
    assert response.status_code == 302 and response["Location"] == urls(verified_signup)["verify_start"]
    assert "メールアドレスを確認してから送信できます" in stranger.get(response["Location"]).content.decode()
    assert not Submission.objects.exists()
    # Verified again in that browser, the form has every answer back.
    ask_for_link(stranger, verified_signup)
    page = open_link(stranger, link_in_last_email()).content.decode()
    assert 'value="髙橋"' in page and 'value="﨑子"' in page and "午前" in page


def test_a_form_posted_after_the_verification_was_lost_keeps_what_was_typed(client, verified_signup):
    response = client.post(
        urls(verified_signup)["form"], {"version": verified_signup.current_version_id, **SIGNUP_POST}
    )
    assert response["Location"] == urls(verified_signup)["verify_start"]
    ask_for_link(client, verified_signup)
    page = open_link(client, link_in_last_email()).content.decode()
    assert 'value="髙橋"' in page and 'value="０８５７－２０－３１１１"' in page


def test_a_procedure_without_verification_opens_the_form_directly(client, procedure):
    assert client.get(urls(procedure)["form"]).status_code == 200
    assert client.get(urls(procedure)["verify_start"])["Location"] == urls(procedure)["form"]
