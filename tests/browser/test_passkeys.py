"""パスキー in Chromium, with Chromium's virtual authenticator standing in for a PC's fingerprint reader: an
admin who has the authenticator app adds a passkey on the 2段階認証 page, logs out, and at the next login
passes the second factor with the passkey instead of the 6-digit code. At phone width, axe on both pages."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from madoguchi.accounts.models import Role
from madoguchi.audit.models import AuditLog
from tests.browser.conftest import pass_second_factor
from tests.browser.test_resident_and_staff import axe_violations
from tests.browser.test_two_factor import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def virtual_authenticator(context, page) -> None:
    """A platform authenticator that verifies the user at once (as a fingerprint would), for this page."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_an_admin_adds_a_passkey_and_logs_in_with_it_instead_of_the_code(
    live_server, browser, browser_context_args, tottori
):
    user = make_user("passkey-admin", tottori, Role.ADMIN)
    TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    virtual_authenticator(context, page)
    base = live_server.url.replace("127.0.0.1", "localhost")  # WebAuthn needs a domain, not an address
    log_in(page, base, "passkey-admin")
    pass_second_factor(page, "passkey-admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("手続一覧")

    page.goto(f"{base}/staff/account/two-factor/")
    expect(page.locator("main")).to_contain_text("追加したパスキーはありません。")
    page.get_by_role("button", name="パスキーを追加する").click()
    add = page.get_by_role("button", name="この端末のパスキーを追加する")
    expect(add).to_be_visible()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    add.click()
    expect(page.get_by_test_id("passkey-list")).to_contain_text("パスキー 1")
    expect(page.locator("main")).to_contain_text("パスキーを追加しました")
    assert WebAuthnCredential.objects.filter(user=user, confirmed=True).count() == 1
    assert AuditLog.objects.filter(organization=tottori, action="auth.passkey_added").exists()

    # The next login: the passkey instead of the code.
    page.get_by_role("button", name="ログアウト").click()
    log_in(page, base, "passkey-admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("確認コードの入力")
    passkey = page.get_by_role("button", name="パスキーで確認する")
    expect(passkey).to_be_visible()
    assert axe_violations(page) == []
    passkey.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("手続一覧")
    assert WebAuthnCredential.objects.get(user=user).last_used_at is not None
    context.close()
