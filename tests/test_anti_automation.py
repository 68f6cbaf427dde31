"""Anti-automation (#11 point 5). Status look-up attempts are counted in one statement before the code is
checked, so simultaneous guesses get at most the limit checked; one client's guesses at a 受付番号 lock out
that client, not the number's owner. The resident form's honeypot refuses a program that fills every box."""

import threading
import uuid

import pytest
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.submissions import counters, resident_views, services
from madoguchi.submissions.models import RateCounter
from tests.conftest import hidden_fields, make_submission, run_at_once

pytestmark = pytest.mark.django_db


def test_a_counter_counts_one_by_one_and_starts_again_after_its_window():
    key = counters.key_of("test", "192.0.2.1")
    assert [counters.hit(key, 60) for _ in range(3)] == [1, 2, 3]
    assert counters.count(key) == 3
    brief = counters.key_of("test", "a window that ends at once")
    assert counters.hit(brief, 0) == 1 and counters.hit(brief, 60) == 1  # the window had ended: a new one
    assert counters.hit(brief, 60) == 2
    counters.clear(key)
    assert counters.count(key) == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hits=st.lists(st.sampled_from(["a", "b", "c"]), max_size=30))
def test_each_key_counts_its_own_hits(hits):
    example = uuid.uuid4().hex  # the examples share one database transaction
    keys = {name: counters.key_of("prop", name, example) for name in "abc"}
    for name in hits:
        counters.hit(keys[name], 60)
    assert {name: counters.count(keys[name]) for name in "abc"} == {n: hits.count(n) for n in "abc"}


@pytest.mark.django_db(transaction=True)
def test_a_hundred_simultaneous_guesses_get_at_most_the_limit_checked(procedure, monkeypatch):
    target = make_submission(procedure).submission
    checked = []
    real = services.check_inquiry_code

    def counting(submission, code):
        checked.append(code)
        return real(submission, code)

    monkeypatch.setattr(services, "check_inquiry_code", counting)
    url = reverse("public:status")
    statuses = []
    start = threading.Barrier(20)

    def guess(n):
        close_old_connections()
        client = Client(REMOTE_ADDR="198.51.100.66")
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        for i in range(5):
            code = f"AAA{(n * 5 + i) % 10}-AAAA".replace("0", "A").replace("1", "B")
            response = client.post(url, {"receipt_number": target.receipt_number, "inquiry_code": code})
            statuses.append(response.status_code)
        close_old_connections()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 100
    assert len(checked) <= resident_views.LOOKUP_FAILURES_PER_RECEIPT
    assert statuses.count(429) >= 100 - resident_views.LOOKUP_FAILURES_PER_RECEIPT


def test_a_stranger_guessing_a_number_does_not_lock_out_its_owner(client, procedure):
    owned = make_submission(procedure)
    url = reverse("public:status")
    wrong = {"receipt_number": owned.submission.receipt_number, "inquiry_code": "AAAA-AAAA"}
    for _ in range(30):
        client.post(url, wrong, REMOTE_ADDR="203.0.113.99")
    assert client.post(url, wrong, REMOTE_ADDR="203.0.113.99").status_code == 429
    owner = Client()
    response = owner.post(
        url,
        {"receipt_number": owned.submission.receipt_number, "inquiry_code": owned.inquiry_code},
        REMOTE_ADDR="192.0.2.44",
    )
    assert response.status_code == 302 and response["Location"] == reverse("public:status_view")


def test_a_form_post_with_the_hidden_box_filled_is_refused_and_nothing_is_kept(client, procedure):
    """The honeypot: people never see the box (hidden, out of the tab order); a program filling every box
    gets the plain 400 page, and nothing of its post is kept."""
    from madoguchi.submissions.models import Submission
    from tests.conftest import SIGNUP_POST
    from tests.test_resident_flow import form_url, post_form

    page = client.get(form_url(procedure)).content.decode()
    assert '<div hidden><label for="id_website">' in page and 'tabindex="-1"' in page
    response = post_form(client, procedure, {**SIGNUP_POST, "_website": "http://spam.example/"})
    assert response.status_code == 400 and "送信内容を受け付けられません" in response.content.decode()
    assert not any(key.startswith("apply:") for key in client.session.keys())
    assert 'value="髙橋"' not in client.get(form_url(procedure)).content.decode()
    assert post_form(client, procedure, {**SIGNUP_POST, "_website": ""}).status_code == 302  # a person
    assert Submission.objects.count() == 0


def _confirmed_application(procedure, address: str) -> tuple[Client, dict]:
    """A new browser at `address` that has filled the form and reached the 確認画面: its submit button's post."""
    from tests.conftest import SIGNUP_POST
    from tests.test_resident_flow import confirmed_form, post_form

    browser = Client(REMOTE_ADDR=address)
    assert post_form(browser, procedure, SIGNUP_POST).status_code == 302
    return browser, confirmed_form(browser, procedure)


def test_one_client_cannot_take_every_seat_and_what_it_typed_is_kept(procedure, settings):
    """A program at one address sending application after application stops at the limit with a Japanese
    page (nothing received, the 確認画面 carried back for one button); another address applies as usual;
    and once the window has passed, the kept button sends the application."""
    from madoguchi.submissions.models import Submission
    from tests.test_resident_flow import confirm_url

    settings.SUBMISSIONS_PER_CLIENT = 3
    procedure.capacity = 10
    procedure.save(update_fields=["capacity"])
    for _ in range(3):
        browser, confirmed = _confirmed_application(procedure, "198.51.100.7")
        assert browser.post(confirm_url(procedure), confirmed).status_code == 302
    browser, confirmed = _confirmed_application(procedure, "198.51.100.7")
    refused = browser.post(confirm_url(procedure), confirmed)
    page = refused.content.decode()
    assert refused.status_code == 429 and "この申請は、まだ受け付けていません。" in page
    assert Submission.objects.count() == 3
    procedure.refresh_from_db()
    assert procedure.seats_taken == 3
    assert confirmed["confirmed"] in page and confirmed["token"] in page  # one button sends it later
    kept = page[page.index('data-testid="kept-answers"') :]
    assert "髙橋" in kept and "﨑子" in kept and "希望する回" in kept  # and what was typed is shown

    other, other_confirmed = _confirmed_application(procedure, "203.0.113.8")
    assert other.post(confirm_url(procedure), other_confirmed).status_code == 302
    assert Submission.objects.count() == 4

    RateCounter.objects.update(expires_at=timezone.now())  # the window has passed
    retried = browser.post(confirm_url(procedure), hidden_fields(page))
    assert retried.status_code == 302 and Submission.objects.count() == 5


def test_a_retry_of_a_received_application_gets_its_number_even_over_the_limit(procedure, settings):
    from madoguchi.submissions.models import Submission
    from tests.test_resident_flow import confirm_url

    settings.SUBMISSIONS_PER_CLIENT = 1
    browser, confirmed = _confirmed_application(procedure, "198.51.100.9")
    first = browser.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    again = browser.post(confirm_url(procedure), confirmed, follow=True)
    received = Submission.objects.get()
    assert again.status_code == 200 and received.display_receipt_number in again.content.decode()
    assert received.display_receipt_number in first


@pytest.mark.django_db(transaction=True)
def test_a_burst_from_one_client_stores_at_most_the_limit(procedure, settings):
    """Twenty applications sent at once from one address: the counter is one statement, so no more than
    the limit are received, on either database."""
    from madoguchi.submissions.models import Submission
    from tests.test_resident_flow import confirm_url

    settings.SUBMISSIONS_PER_CLIENT = 5
    ready = [_confirmed_application(procedure, "198.51.100.20") for _ in range(20)]
    statuses = []

    def send(browser, confirmed):
        def run():
            close_old_connections()
            statuses.append(browser.post(confirm_url(procedure), confirmed).status_code)
            close_old_connections()

        return run

    run_at_once(*(send(browser, confirmed) for browser, confirmed in ready))
    assert Submission.objects.count() == 5
    assert sorted(statuses) == [302] * 5 + [429] * 15
