"""A staff login ends after 30 minutes without a request and 10 hours after it began; expired sessions are
purged by `clearsessions`, their data with them (#11 point 2)."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse

from madoguchi.security import StaffSessionTimeoutMiddleware as Timeout
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _log_in(client, user):
    response = client.post(reverse("staff:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client.get(reverse("staff:home"))


def _shift(client, **seconds_ago):
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_a_staff_member_idle_for_longer_than_the_limit_is_logged_out_with_a_message(
    client, colleague, settings
):
    assert _log_in(client, colleague).status_code == 200
    _shift(client, **{Timeout.SEEN: settings.STAFF_IDLE_TIMEOUT + 5})
    response = client.get(reverse("staff:home"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("staff:login"))
    assert "しばらく操作がなかったため、ログアウトしました" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_use_keeps_the_login_alive_until_the_absolute_limit(client, colleague, settings):
    _log_in(client, colleague)
    _shift(client, **{Timeout.SEEN: settings.STAFF_IDLE_TIMEOUT - 60, Timeout.STARTED: 3600})
    assert client.get(reverse("staff:home")).status_code == 200
    # The request just made counts as use: the idle clock starts again.
    assert int(time.time()) - client.session[Timeout.SEEN] < 5
    _shift(client, **{Timeout.STARTED: settings.STAFF_ABSOLUTE_TIMEOUT + 1})
    response = client.get(reverse("staff:home"), follow=True)
    assert "ログインしてから長い時間がたったため" in response.content.decode()


def test_the_page_asked_for_is_opened_after_logging_in_again(client, owner, procedure, settings):
    _log_in(client, owner)
    _shift(client, **{Timeout.SEEN: settings.STAFF_IDLE_TIMEOUT + 5})
    inbox = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
    response = client.get(inbox)
    assert response.status_code == 302 and "next=" in response["Location"]
    again = client.post(response["Location"], {"username": owner.username, "password": PASSWORD})
    assert again["Location"] == inbox


def test_a_new_login_restarts_the_absolute_clock(client, owner, settings):
    _log_in(client, owner)
    _shift(client, **{Timeout.STARTED: settings.STAFF_ABSOLUTE_TIMEOUT - 10})
    client.post(reverse("staff:logout"))
    _log_in(client, owner)
    assert int(time.time()) - client.session[Timeout.STARTED] < 5


def test_expired_sessions_and_what_they_held_are_purged(client, owner, procedure):
    _log_in(client, owner)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date="2000-01-01T00:00:00Z")
    call_command("clearsessions")
    assert not Session.objects.filter(session_key=key).exists()
