"""Brute force and credential stuffing on the staff login are stopped, and every login, failure and lockout
is in the audit log; an organization's admin lifts a lockout (#11 point 1)."""

import pytest
from django.conf import settings
from django.urls import reverse

from madoguchi.accounts.models import Role
from madoguchi.audit.models import AuditLog
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT


def _login(client, username, password, address="192.0.2.10"):
    return client.post(
        reverse("staff:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_300_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(client, tottori):
    make_user("tanaka", tottori, Role.PROCESSOR)
    statuses = [_login(client, "tanaka", f"wrong-{i}").status_code for i in range(300)]
    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its message
    assert set(statuses[LIMIT:]) == {429}
    refused = _login(client, "tanaka", PASSWORD)
    assert refused.status_code == 429
    assert "ログインを一時的に止めています" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Audited in 鳥取市's log: each failure up to the lockout, and the lockout.
    entries = AuditLog.objects.filter(organization=tottori)
    assert entries.filter(action="auth.login_failed").count() >= LIMIT
    assert entries.filter(action="auth.locked_out").exists()
    assert not entries.filter(action="auth.login").exists()
    assert "wrong-" not in str(list(entries.values_list("detail", flat=True)))  # no password kept


def test_one_client_trying_many_names_is_stopped_too(client, tottori):
    make_user("sato", tottori, Role.PROCESSOR)
    for i in range(LIMIT):
        _login(client, f"guess{i}", "password123", address="198.51.100.7")
    # A real name and its real password, from that client: refused as well.
    assert _login(client, "sato", PASSWORD, address="198.51.100.7").status_code == 429
    # From another client the same person logs in.
    assert _login(client, "sato", PASSWORD, address="192.0.2.99").status_code == 302
    unknown = AuditLog.objects.filter(organization=None, action="auth.login_failed")
    assert unknown.count() == LIMIT
    assert unknown.first().detail["username"].startswith("guess")


def test_in_an_office_network_one_colleagues_typos_lock_only_their_own_name(client, tottori, settings):
    """Staff behind one town-hall address: the client address is not counted there (STAFF_OFFICE_NETWORKS)."""
    settings.STAFF_OFFICE_NETWORKS = ["203.0.113.0/24"]
    make_user("yamada", tottori, Role.PROCESSOR)
    make_user("kimura", tottori, Role.PROCESSOR)
    for _ in range(LIMIT + 2):
        _login(client, "yamada", "nope", address="203.0.113.5")
    assert _login(client, "yamada", PASSWORD, address="203.0.113.5").status_code == 429
    assert _login(client, "kimura", PASSWORD, address="203.0.113.5").status_code == 302
    client.post(reverse("staff:logout"))
    # Many names from one address of the office: each name is counted on its own, none is locked early.
    for i in range(LIMIT):
        _login(client, f"guess{i}", "password123", address="203.0.113.6")
    assert _login(client, "kimura", PASSWORD, address="203.0.113.6").status_code == 302
    client.post(reverse("staff:logout"))
    # Outside the office networks the client address still counts.
    for i in range(LIMIT):
        _login(client, f"other{i}", "password123", address="198.51.100.9")
    assert _login(client, "kimura", PASSWORD, address="198.51.100.9").status_code == 429


def test_a_login_is_audited_in_the_users_organization(client, tottori):
    make_user("suzuki", tottori, Role.PROCESSOR)
    assert _login(client, "suzuki", PASSWORD).status_code == 302
    entry = AuditLog.objects.get(organization=tottori, action="auth.login")
    assert entry.actor.username == "suzuki" and entry.detail["client"] == "192.0.2.10"


def test_a_failure_below_the_limit_is_forgotten_after_a_success(client, tottori):
    make_user("ito", tottori, Role.PROCESSOR)
    for _ in range(LIMIT - 1):
        _login(client, "ito", "nope")
    assert _login(client, "ito", PASSWORD).status_code == 302
    client.post(reverse("staff:logout"))
    for _ in range(LIMIT - 1):
        _login(client, "ito", "nope")
    assert _login(client, "ito", PASSWORD).status_code == 302


def test_the_admin_of_the_organization_lifts_a_lockout(client, tottori, owner):
    user = make_user("kato", tottori, Role.PROCESSOR)
    for _ in range(LIMIT + 2):
        _login(client, "kato", "nope")
    assert _login(client, "kato", PASSWORD).status_code == 429
    membership = user.memberships.get(organization=tottori)
    client.force_login(owner)
    edit = client.get(
        reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    )
    assert "ロック中" in edit.content.decode()
    response = client.post(
        reverse("staff:staff_unlock", kwargs={"code": tottori.code, "membership_id": membership.pk}),
        follow=True,
    )
    assert "ロックを解除しました" in response.content.decode()
    assert AuditLog.objects.filter(organization=tottori, action="auth.unlock", actor=owner).exists()
    client.post(reverse("staff:logout"))
    assert _login(client, "kato", PASSWORD).status_code == 302


def test_the_operators_admin_login_is_protected_too(client):
    """The admin's login page sends the operator to the staff login (one lockout, one second factor)."""
    make_user("operator")
    redirect = client.get("/admin/login/?next=/admin/")
    assert redirect.status_code == 302
    login = redirect["Location"]
    assert login.startswith(reverse("staff:login")) and "next=%2Fadmin%2F" in login
    for _ in range(LIMIT):
        client.post(login, {"username": "operator", "password": "nope"}, REMOTE_ADDR="192.0.2.50")
    response = client.post(login, {"username": "operator", "password": PASSWORD}, REMOTE_ADDR="192.0.2.50")
    assert response.status_code == 429
    # A page of the admin without a login goes the same way.
    assert client.get("/admin/").status_code == 302


def test_the_audit_page_reads_the_login_entries_as_sentences(client, tottori, owner):
    make_user("yamada", tottori, Role.PROCESSOR)
    for _ in range(LIMIT):
        _login(client, "yamada", "nope")
    client.force_login(owner)
    page = client.get(reverse("staff:audit", kwargs={"code": tottori.code})).content.decode()
    assert "接続元 192.0.2.10 が ユーザー名「yamada」でログインしようとして失敗しました" in page
    assert "ユーザー名「yamada」と接続元 192.0.2.10 からのログインを止めました" in page
