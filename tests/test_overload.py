"""Under overload, no lost form: beyond MADOGUCHI_MAX_CONCURRENT_REQUESTS a process answers 503 at once; a
resident's post of the form or the 確認画面 is kept as a draft whose resume link is on the 混雑 page."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from madoguchi.lib.receipt import stored_token
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.overload import ConcurrencyLimitMiddleware
from madoguchi.submissions import drafts
from madoguchi.submissions.models import Submission, SubmissionDraft
from tests.conftest import SIGNUP_POST, hidden_fields, make_procedure

pytestmark = pytest.mark.django_db

NO_EMAIL_SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "note", "type": "long_text", "label": "ご意見"},
    ],
}


def form_url(procedure):
    return reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


def confirm_url(procedure):
    return reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


def link_on(page: str) -> str:
    url = re.search(r'data-testid="resume-link">([^<]+)<', page).group(1).replace("&amp;", "&")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def saturated(settings):
    settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 0
    return settings


def test_other_requests_get_a_short_503_but_health_checks_answer(client, procedure, saturated):
    for url in ("/", form_url(procedure), reverse("public:status")):
        response = client.get(url)
        assert response.status_code == 503 and response["Retry-After"] == "30"
        assert "混雑しています" in response.content.decode()
        # No icon to fetch: a browser would otherwise ask for /favicon.ico, one more request while saturated.
        assert '<link rel="icon" href="data:,">' in response.content.decode()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready["Content-Type"] == "application/json" and "混雑" not in ready.content.decode()


def test_a_form_posted_while_saturated_is_kept_as_a_draft_and_resumed(client, procedure, saturated):
    response = client.post(form_url(procedure), {"version": procedure.current_version_id, **SIGNUP_POST})
    page = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "混雑しています" in page and "入力した内容はすべて一時保存しました" in page
    assert "sakiko@example.jp 宛てに" in page
    assert Submission.objects.count() == 0
    draft = SubmissionDraft.objects.get()
    assert draft.email == "sakiko@example.jp"
    assert OutgoingEmail.objects.get(kind="draft").to == "sakiko@example.jp"
    link = link_on(page)

    saturated.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 10
    # The same browser finds everything in its form; another opens the link shown.
    assert 'value="髙橋"' in client.get(form_url(procedure)).content.decode()
    other = Client()
    assert other.get(link).status_code == 302
    assert 'value="﨑子"' in other.get(form_url(procedure)).content.decode()
    assert (
        other.post(form_url(procedure), {"version": procedure.current_version_id, **SIGNUP_POST}).status_code
        == 302
    )
    done = other.post(
        confirm_url(procedure), hidden_fields(other.get(confirm_url(procedure)).content.decode())
    )
    assert done["Location"].endswith("/done/")
    assert Submission.objects.count() == 1 and not SubmissionDraft.objects.exists()


def test_without_an_email_the_busy_page_shows_the_link_and_can_send_it(client, tottori, saturated):
    procedure = make_procedure(tottori, NO_EMAIL_SCHEMA)
    response = client.post(
        form_url(procedure),
        {"version": procedure.current_version_id, "name__family": "佐藤", "note": "長い意見"},
    )
    page = response.content.decode()
    assert response.status_code == 503 and not OutgoingEmail.objects.exists()
    link = link_on(page)
    assert 'autocomplete="email"' in page
    # The address sent from that page: the e-mail carries the same link as the page.
    sent = client.post(
        reverse("public:draft", kwargs={"code": tottori.code, "procedure_id": procedure.pk}),
        {**hidden_fields(page), "email": "sato@example.jp"},
    )
    assert sent.status_code == 302
    email = OutgoingEmail.objects.get(kind="draft")
    assert email.to == "sato@example.jp" and link.split("key=")[1] in email.body

    saturated.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 10
    other = Client()
    other.get(link)
    page = other.get(form_url(procedure)).content.decode()
    assert 'value="佐藤"' in page and "長い意見" in page


def test_a_confirmation_page_sent_while_saturated_is_kept_and_sent_again_later(client, procedure, settings):
    client.post(form_url(procedure), {"version": procedure.current_version_id, **SIGNUP_POST})
    confirmed = hidden_fields(client.get(confirm_url(procedure)).content.decode())
    settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 0
    response = client.post(confirm_url(procedure), confirmed)
    page = response.content.decode()
    assert response.status_code == 503 and "まだ受け付けていません" in page
    assert Submission.objects.count() == 0
    assert drafts.draft_content(SubmissionDraft.objects.get()).token == confirmed["token"]
    retry = hidden_fields(page[page.index("もう一度送信する") - 2000 :])
    assert retry["confirmed"] == confirmed["confirmed"]

    settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 10
    done = client.post(confirm_url(procedure), {"token": retry["token"], "confirmed": retry["confirmed"]})
    assert done["Location"].endswith("/done/")
    assert Submission.objects.get().token == stored_token(confirmed["token"])
    assert not SubmissionDraft.objects.exists()


def test_a_busy_post_still_needs_its_csrf_token(procedure, saturated):
    client = Client(enforce_csrf_checks=True)
    response = client.post(form_url(procedure), {"version": procedure.current_version_id, **SIGNUP_POST})
    assert response.status_code == 403 and not SubmissionDraft.objects.exists()


def test_a_held_slot_makes_the_next_request_busy_and_is_given_back(settings):
    settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 1
    factory = RequestFactory()
    seen = {}

    def view(request):
        if request.path == "/first":
            second = factory.get("/second")
            middleware(second)  # arrives while the first holds the only slot
            seen["second busy"] = getattr(second, "madoguchi_busy", False)
            seen["active"] = middleware.active
        return None

    middleware = ConcurrencyLimitMiddleware(view)
    first = factory.get("/first")
    middleware(first)
    assert seen == {"second busy": True, "active": 1}
    assert not getattr(first, "madoguchi_busy", False)
    assert middleware.active == 0
    third = factory.get("/third")
    middleware(third)
    assert not getattr(third, "madoguchi_busy", False)
