"""2段階認証 in Chromium, as a new admin meets it: the first login leads to the set-up page, the key shown on
the page goes into an authenticator app (here: the same RFC 6238 computation), the recovery codes are shown
once, and the next login asks for the code. At phone width with JavaScript and at desk width without; axe on
every page."""

import base64

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from madoguchi.accounts.models import Role
from tests.browser.test_resident_and_staff import axe_violations
from tests.browser.test_staff_accounts import DESK
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def app_code(secret_text: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key as typed from the page."""
    key = secret_text.replace(" ", "")
    key += "=" * (-len(key) % 8)
    totp = TOTP(base64.b32decode(key), step=30, t0=0, digits=6)
    totp.time = totp.time + 30 * steps_ahead
    return f"{totp.token():06d}"


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/staff/login/")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()


@pytest.mark.parametrize("width", ["phone", "desk"])
def test_a_new_admin_sets_up_the_app_and_is_asked_for_the_code_next_time(
    width, live_server, browser, browser_context_args, tottori
):
    username = f"kanri-{width}"
    make_user(username, tottori, Role.ADMIN)
    args = {**browser_context_args, **(DESK if width == "desk" else {})}
    javascript = width == "phone"
    context = browser.new_context(**args, java_script_enabled=javascript)
    page = context.new_page()
    log_in(page, live_server.url, username)
    expect(page.get_by_role("heading", level=1)).to_have_text("2段階認証")
    expect(page.locator("main")).to_contain_text("設定してから使い始めてください")
    if javascript:  # axe runs in the page: the phone run (the desk run has no JavaScript)
        assert axe_violations(page) == []
    page.get_by_role("button", name="設定を始める").click()
    expect(page.locator("main svg")).to_be_visible()  # the QR code
    if javascript:  # axe runs in the page: the phone run (the desk run has no JavaScript)
        assert axe_violations(page) == []
    if width == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    secret = page.get_by_test_id("totp-secret").inner_text()
    # A mistyped code first: the message is at the box, the key stays the same.
    page.get_by_label("確認コード（6桁の数字）").fill("000000")
    page.get_by_role("button", name="確認して設定する").click()
    expect(page.get_by_role("alert")).to_contain_text("確認コードが正しくありません")
    assert page.get_by_test_id("totp-secret").inner_text() == secret
    if javascript:  # axe runs in the page: the phone run (the desk run has no JavaScript)
        assert axe_violations(page) == []
    # The right code at once: taken (no waiting while setting up).
    page.get_by_label("確認コード（6桁の数字）").fill(app_code(secret))
    page.get_by_role("button", name="確認して設定する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("回復コード")
    codes = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    assert len(codes) == 10
    if javascript:  # axe runs in the page: the phone run (the desk run has no JavaScript)
        assert axe_violations(page) == []
    page.get_by_role("link", name="控えました。続ける").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("手続一覧")
    context.close()

    # The next login, on another browser: the code after the password.
    again = browser.new_context(**args, java_script_enabled=javascript)
    page = again.new_page()
    log_in(page, live_server.url, username)
    expect(page.get_by_role("heading", level=1)).to_have_text("確認コードの入力")
    if javascript:  # axe runs in the page: the phone run (the desk run has no JavaScript)
        assert axe_violations(page) == []
    page.get_by_label("確認コード").fill(app_code(secret, steps_ahead=1))
    page.get_by_role("button", name="確認してログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("手続一覧")
    again.close()
