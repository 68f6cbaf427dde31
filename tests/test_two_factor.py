"""2段階認証 (#11 point 1): admins and the operator set up an authenticator app at their first login and give a
code at every login after; an organization can ask it of all its staff; recovery codes work once; wrong and
replayed codes are refused with a Japanese message, slowed down and audited; an admin resets a colleague's.

These tests log in by the pages (password, then code), never with force_login."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.accounts import two_factor
from madoguchi.accounts.models import Role
from madoguchi.audit.models import AuditLog
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():06d}"


def _password(client: Client, user, next_url: str = "") -> str:
    """Log in with the password; the page the login then lands on (after its redirects)."""
    url = reverse("staff:login") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"username": user.username, "password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    return client.get(response["Location"])


def _set_up(client: Client, user) -> list[str]:
    """Set up the authenticator app by the pages (logging in first if need be); the recovery codes shown."""
    if "_auth_user_id" not in client.session:
        _password(client, user)
    client.post(reverse("staff:two_factor"), {"action": "start"})
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page = client.post(reverse("staff:two_factor"), {"action": "confirm", "code": _code(device)})
    assert page.status_code == 200, page.content.decode()
    return list(page.context["codes"])


def _unthrottle(user) -> None:
    """As if the waiting time after a wrong code had passed."""
    past = timezone.now() - timedelta(hours=1)
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=past)
    StaticDevice.objects.filter(user=user).update(throttling_failure_timestamp=past)


def test_an_admin_sets_up_the_app_at_the_first_login_and_reaches_nothing_before(owner, tottori):
    client = Client()
    response = client.post(reverse("staff:login"), {"username": "owner", "password": PASSWORD})
    # Every staff page and the operator's admin lead to the set-up page until it is done.
    for url in (
        reverse("staff:home"),
        reverse("staff:staff_list", kwargs={"code": tottori.code}),
        reverse("staff:audit", kwargs={"code": tottori.code}),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("staff:two_factor"))
    page = client.get(reverse("staff:two_factor")).content.decode()
    assert "管理者の方" in page and "設定を始める" in page
    client.post(reverse("staff:two_factor"), {"action": "start"})
    page = client.get(reverse("staff:two_factor")).content.decode()
    assert "<svg" in page  # the QR code, drawn on the server
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert two_factor.secret_text(device).replace(" ", "") in page.replace(" ", "")
    # A wrong code: a message at the box; nothing set up.
    wrong = client.post(reverse("staff:two_factor"), {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 400 and "確認コードが正しくありません" in wrong.content.decode()
    assert 'id="code-error"' in wrong.content.decode()  # the message is at the box
    assert not two_factor.is_enabled(owner)
    # The right code at once after a wrong one: taken (no waiting while setting up: the key is on the page).
    done = client.post(reverse("staff:two_factor"), {"action": "confirm", "code": _code(device)})
    codes = done.context["codes"]
    assert len(codes) == two_factor.RECOVERY_CODES and all(c in done.content.decode() for c in codes)
    assert client.get(reverse("staff:home")).status_code == 200
    assert AuditLog.objects.filter(organization=tottori, action="auth.two_factor_on", actor=owner).exists()


def test_every_later_login_asks_for_the_code_and_a_code_is_good_once(owner, tottori):
    _set_up(Client(), owner)
    device = TOTPDevice.objects.get(user=owner, confirmed=True)
    client = Client()
    landed = _password(client, owner)
    assert landed.status_code == 302 and landed["Location"].startswith(reverse("staff:two_factor_verify"))
    page = client.get(landed["Location"]).content.decode()
    assert "確認コード" in page and 'autocomplete="one-time-code"' in page
    wrong = client.post(reverse("staff:two_factor_verify"), {"code": "12345x"})
    assert wrong.status_code == 400 and "確認コードが正しくありません" in wrong.content.decode()
    assert client.get(reverse("staff:home")).status_code == 302
    entry = AuditLog.objects.filter(organization=tottori, action="auth.two_factor_failed").get()
    assert "12345" not in str(entry.detail)  # the typed code is never recorded
    _unthrottle(owner)
    # Typed in full width, with a space: forgiven. (The code of the next step: the set-up used this one.)
    code = _code(device, steps_ahead=1)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code[:3]) + " " + code[3:]
    ok = client.post(reverse("staff:two_factor_verify"), {"code": full_width, "next": reverse("staff:home")})
    assert ok.status_code == 302 and ok["Location"] == reverse("staff:home")
    assert client.get(reverse("staff:home")).status_code == 200
    # The same code again, on another login (a code seen over a shoulder): refused.
    other = Client()
    _password(other, owner)
    _unthrottle(owner)
    replay = other.post(reverse("staff:two_factor_verify"), {"code": code})
    assert replay.status_code == 400 and "すでに使われています" in replay.content.decode()
    assert other.get(reverse("staff:home")).status_code == 302


def test_wrong_codes_slow_down_the_next_try_and_a_burst_is_checked_one_at_a_time(owner):
    _set_up(Client(), owner)
    client = Client()
    _password(client, owner)
    assert client.post(reverse("staff:two_factor_verify"), {"code": "000001"}).status_code == 400
    # At once after a wrong code, even the right one waits: the page says how long.
    device = TOTPDevice.objects.get(user=owner)
    throttled = client.post(reverse("staff:two_factor_verify"), {"code": _code(device, 1)})
    assert throttled.status_code == 429
    assert "間違えたため" in throttled.content.decode() and "秒たってから" in throttled.content.decode()
    for _ in range(5):
        _unthrottle(owner)
        client.post(reverse("staff:two_factor_verify"), {"code": "000002"})
    device.refresh_from_db()
    assert device.throttling_failure_count == 6
    # Waiting doubles with each failure: 2⁵ = 32 seconds now.
    allowed, data = device.verify_is_allowed()
    assert not allowed
    assert 31 <= (data["locked_until"] - device.throttling_failure_timestamp).total_seconds() <= 32


@pytest.mark.django_db(transaction=True)
def test_simultaneous_wrong_codes_are_checked_one_after_another(tottori):
    """100 guesses sent together: the first wrong one starts the waiting time; the rest are not checked."""
    from tests.conftest import run_at_once

    user = make_user("kanri", tottori, Role.ADMIN)
    setup = Client()
    _password(setup, user)
    _set_up(setup, user)
    clients = []
    for _ in range(20):
        c = Client()
        _password(c, user)
        clients.append(c)
    statuses = []

    def guess(c, n):
        def run():
            from django.db import connection

            try:
                statuses.append(c.post(reverse("staff:two_factor_verify"), {"code": f"{n:06d}"}).status_code)
            finally:
                connection.close()

        return run

    run_at_once(*(guess(c, 100000 + i) for i, c in enumerate(clients)))
    assert sorted(set(statuses)) in ([400, 429], [429], [400])
    device = TOTPDevice.objects.get(user=user)
    # Each checked guess doubles the wait; far fewer than 20 could be checked inside one burst.
    assert device.throttling_failure_count <= 2
    assert statuses.count(400) == device.throttling_failure_count


def test_a_recovery_code_logs_in_once(owner, tottori):
    codes = _set_up(Client(), owner)
    client = Client()
    _password(client, owner)
    response = client.post(reverse("staff:two_factor_verify"), {"code": codes[0].upper()}, follow=True)
    assert "回復コードでログインしました" in response.content.decode()
    assert "残り9個" in response.content.decode()
    assert AuditLog.objects.filter(organization=tottori, action="auth.recovery_code_used").exists()
    again = Client()
    _password(again, owner)
    assert again.post(reverse("staff:two_factor_verify"), {"code": codes[0]}).status_code == 400
    # New codes replace the old ones.
    new = client.post(reverse("staff:two_factor"), {"action": "recovery_codes"}).context["codes"]
    assert StaticToken.objects.filter(device__user=owner).count() == 10 and codes[1] not in new
    _unthrottle(owner)
    assert again.post(reverse("staff:two_factor_verify"), {"code": codes[1]}).status_code == 400


def test_recovery_codes_are_stored_only_as_keyed_hashes_and_old_clear_ones_are_hashed_in_place(owner):
    """A copy of the database holds no recovery code (ASVS V6.5.2): only a keyed hash, which the code typed
    at login is compared with; codes stored in clear before are hashed by the migration and still work."""
    import importlib

    from django.apps import apps

    codes = _set_up(Client(), owner)
    stored = set(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True))
    assert not stored & set(codes) and len(stored) == 10
    assert all(len(token) == 16 and not any(code in token for code in codes) for token in stored)
    # A code stored in clear (before the migration): hashed in place, and it logs in once.
    StaticToken.objects.filter(device__user=owner).delete()
    device = StaticDevice.objects.get(user=owner)
    StaticToken.objects.create(device=device, token="abcd2345")
    migration = importlib.import_module("madoguchi.accounts.migrations.0005_recovery_codes_hashed")
    migration.hash_codes(apps, None)
    assert StaticToken.objects.get(device=device).token == two_factor.recovery_code_digest("abcd2345")
    client = Client()
    _password(client, owner)
    response = client.post(reverse("staff:two_factor_verify"), {"code": "ABCD 2345"}, follow=True)
    assert "回復コードでログインしました" in response.content.decode()
    assert not StaticToken.objects.filter(device=device).exists()


def test_a_processor_logs_in_with_the_password_alone_until_the_policy_asks(colleague, owner, tottori):
    client = Client()
    assert _password(client, colleague).status_code == 200
    admin = Client()
    _password(admin, owner)
    _set_up(admin, owner)
    response = admin.post(
        reverse("staff:two_factor_policy", kwargs={"code": tottori.code}),
        {"two_factor_required": "1"},
        follow=True,
    )
    assert "職員全員に2段階認証を求めるようにしました" in response.content.decode()
    tottori.refresh_from_db()
    assert tottori.two_factor_required
    assert AuditLog.objects.filter(organization=tottori, action="organization.two_factor_policy").exists()
    audit_page = admin.get(reverse("staff:audit", kwargs={"code": tottori.code})).content.decode()
    assert "職員全員に2段階認証を求めるようにしました" in audit_page
    # The next login of the processor goes to the set-up page.
    later = Client()
    landed = _password(later, colleague)
    assert landed.status_code == 302 and landed["Location"].startswith(reverse("staff:two_factor"))
    # A member who is not required to may turn it off; an admin may not.
    _set_up(later, colleague)
    refused = later.post(reverse("staff:two_factor"), {"action": "off"}, follow=True)
    assert "やめられません" in refused.content.decode() and two_factor.is_enabled(colleague)
    admin.post(reverse("staff:two_factor_policy", kwargs={"code": tottori.code}), {})
    later.post(reverse("staff:two_factor"), {"action": "off"})
    assert not two_factor.is_enabled(colleague)
    admin.post(reverse("staff:two_factor"), {"action": "off"})
    assert two_factor.is_enabled(owner)


def test_an_admin_resets_a_colleagues_second_factor(owner, colleague, tottori):
    _set_up(Client(), colleague)
    assert two_factor.is_enabled(colleague)
    admin = Client()
    _password(admin, owner)
    _set_up(admin, owner)
    membership = colleague.memberships.get(organization=tottori)
    edit_url = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    assert "2段階認証をリセットする" in admin.get(edit_url).content.decode()
    listing = admin.get(reverse("staff:staff_list", kwargs={"code": tottori.code})).content.decode()
    assert "設定済み" in listing
    response = admin.post(
        reverse(
            "staff:staff_two_factor_reset", kwargs={"code": tottori.code, "membership_id": membership.pk}
        ),
        follow=True,
    )
    assert "2段階認証をリセットしました" in response.content.decode()
    assert not two_factor.is_enabled(colleague)
    assert AuditLog.objects.filter(organization=tottori, action="auth.two_factor_reset", actor=owner).exists()
    # The colleague logs in with the password alone again.
    assert _password(Client(), colleague).status_code == 200


def test_the_operator_needs_the_second_factor_for_the_admin():
    operator = make_user("operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client = Client()
    landed = _password(client, operator, next_url="/admin/")
    assert landed.status_code == 302 and landed["Location"].startswith(reverse("staff:two_factor"))
    assert client.get("/admin/").status_code == 302
    _set_up(client, operator)
    assert client.get("/admin/").status_code == 200


def test_the_code_page_sends_nobody_off_site(owner):
    _set_up(Client(), owner)
    client = Client()
    _password(client, owner)
    device = TOTPDevice.objects.get(user=owner)
    response = client.post(
        reverse("staff:two_factor_verify"), {"code": _code(device, 1), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("staff:home")


@settings(max_examples=15, deadline=None)
@given(code=st.text(max_size=120))
def test_any_typed_code_gets_a_page_never_a_500(code):
    user = two_factor_user()
    client = Client()
    _password(client, user)
    response = client.post(reverse("staff:two_factor_verify"), {"code": code})
    assert response.status_code in (400, 429)
    assert "確認コード" in response.content.decode()


def two_factor_user():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="hyp").first()
    if user is None:
        user = make_user("hyp")
        device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
        assert device.pk
    _unthrottle(user)
    return user


def test_the_operators_admin_shows_no_secret_key_nor_recovery_code(client):
    operator = make_user("operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    member = make_user("yamada")
    device = TOTPDevice.objects.create(user=member, name="app", confirmed=True)
    static = StaticDevice.objects.create(user=member, name="回復コード", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd2345")
    client.force_login(operator)
    for url in (
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_static/staticdevice/{static.pk}/change/",
        "/admin/otp_totp/totpdevice/",
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert device.key not in page.content.decode() and "abcd2345" not in page.content.decode()
    # It can still be removed (a member who lost their phone).
    assert client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_an_invitation_says_when_the_second_factor_will_be_needed(owner, tottori):
    from madoguchi.accounts import services as staff_services
    from madoguchi.notifications.models import OutgoingEmail

    staff_services.invite_staff(
        actor=owner, organization=tottori, email="kanri@example.jp", name="甲", role="admin"
    )
    staff_services.invite_staff(
        actor=owner, organization=tottori, email="shori@example.jp", name="乙", role="viewer"
    )
    assert "2段階認証" in OutgoingEmail.objects.get(to="kanri@example.jp").body
    assert "2段階認証" not in OutgoingEmail.objects.get(to="shori@example.jp").body
