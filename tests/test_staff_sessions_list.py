"""A staff member sees where they are logged in and ends their other logins (#11 point 2): a shared office
PC left logged in, or a stolen cookie, stops working from their own page."""

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.accounts.models import Role, StaffSession
from madoguchi.audit.models import AuditLog
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def logged_in(username: str, agent: str, address: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=address)
    response = client.post(reverse("staff:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_a_member_sees_their_logins_and_ends_the_others(tottori):
    make_user("nakamura", tottori, Role.PROCESSOR)
    office = logged_in("nakamura", "Mozilla/5.0 (Windows NT 10.0) 庁内PC", "192.0.2.20")
    phone = logged_in("nakamura", "Mozilla/5.0 (iPhone)", "198.51.100.30")
    page = office.get(reverse("staff:my_sessions")).content.decode()
    assert "庁内PC" in page and "iPhone" in page and "198.51.100.30" in page
    assert page.index('data-testid="current-login"') < page.index("iPhone")  # this device first
    assert office.get(reverse("staff:home")).content.decode().count(reverse("staff:my_sessions")) == 1

    response = office.post(reverse("staff:my_sessions_end"), follow=True)
    assert "ほかの端末でのログインを1件終わらせました" in response.content.decode()
    # The phone's next request is anonymous: to the login page.
    refused = phone.get(reverse("staff:home"))
    assert refused.status_code == 302 and reverse("staff:login") in refused["Location"]
    assert office.get(reverse("staff:home")).status_code == 200  # this device stays logged in
    assert StaffSession.objects.count() == 1
    entry = AuditLog.objects.get(action="auth.sessions_ended")
    assert entry.organization == tottori and entry.detail == {"count": 1}


def test_one_login_is_ended_and_another_members_login_cannot_be(tottori):
    make_user("ogawa", tottori, Role.PROCESSOR)
    make_user("hayashi", tottori, Role.PROCESSOR)
    mine = logged_in("ogawa", "A", "192.0.2.1")
    other_device = logged_in("ogawa", "B", "192.0.2.2")
    theirs = logged_in("hayashi", "C", "192.0.2.3")
    their_login = StaffSession.objects.get(user__username="hayashi")
    response = mine.post(reverse("staff:my_sessions_end"), {"login": their_login.pk})
    assert response.status_code == 404
    assert theirs.get(reverse("staff:home")).status_code == 200
    assert mine.post(reverse("staff:my_sessions_end"), {"login": "x\x00"}).status_code == 404
    my_other = StaffSession.objects.get(user__username="ogawa", user_agent="B")
    assert mine.post(reverse("staff:my_sessions_end"), {"login": my_other.pk}).status_code == 302
    assert other_device.get(reverse("staff:home")).status_code == 302


def test_logging_out_removes_the_login_and_an_expired_session_is_not_listed(tottori):
    from django.contrib.sessions.models import Session

    make_user("mori", tottori, Role.PROCESSOR)
    first = logged_in("mori", "A", "192.0.2.1")
    second = logged_in("mori", "B", "192.0.2.2")
    first.post(reverse("staff:logout"))
    assert list(StaffSession.objects.values_list("user_agent", flat=True)) == ["B"]
    third = logged_in("mori", "C", "192.0.2.3")
    Session.objects.filter(session_key=second.session.session_key).delete()  # expired and cleared
    page = third.get(reverse("staff:my_sessions")).content.decode()
    assert "ほかの端末でのログインはありません" in page
    assert list(StaffSession.objects.values_list("user_agent", flat=True)) == ["C"]


def test_the_pages_need_a_login():
    assert Client().get(reverse("staff:my_sessions")).status_code == 302
    assert Client().post(reverse("staff:my_sessions_end")).status_code == 302


def test_an_admin_ends_every_login_of_a_colleague(tottori, owner):
    make_user("nakamura", tottori, Role.PROCESSOR)
    office = logged_in("nakamura", "Mozilla/5.0 (Windows NT 10.0) 庁内PC", "192.0.2.20")
    phone = logged_in("nakamura", "Mozilla/5.0 (iPhone)", "198.51.100.30")
    admin = Client()
    admin.force_login(owner)
    membership = tottori.memberships.get(user__username="nakamura")
    edit = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    assert "この職員のログインをすべて終わらせる" in admin.get(edit).content.decode()
    url = reverse("staff:staff_end_sessions", kwargs={"code": tottori.code, "membership_id": membership.pk})
    response = admin.post(url, follow=True)
    assert "ログインを2件終わらせました" in response.content.decode()
    for client in (office, phone):
        refused = client.get(reverse("staff:home"))
        assert refused.status_code == 302 and reverse("staff:login") in refused["Location"]
    entry = AuditLog.objects.get(action="auth.sessions_ended_by_admin")
    assert entry.organization == tottori and entry.actor == owner and entry.detail == {"count": 2}
    assert admin.get(reverse("staff:home")).status_code == 200  # the admin's own login stays
    # Their own logins are ended from 「ログイン中の端末」, not here.
    own = reverse(
        "staff:staff_end_sessions",
        kwargs={"code": tottori.code, "membership_id": tottori.memberships.get(user=owner).pk},
    )
    assert admin.post(own).status_code == 404
