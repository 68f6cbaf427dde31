"""職員の管理 in chromium: 鳥取市's admin invites a colleague at phone width and at desk width, the
colleague sets a password from the mailed link and logs in. Every new page is checked with axe."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.notifications.models import OutgoingEmail
from tests.browser.test_resident_and_staff import axe_violations, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {
    "viewport": {"width": 1280, "height": 800},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
}
LINK = re.compile(r"https?://[^/\s]+(/staff/password/set/\S+)")


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def invite(page, *, email: str, name: str, role: str) -> None:
    page.get_by_role("link", name="職員の管理").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("職員の管理")
    assert axe_violations(page) == []
    page.get_by_role("link", name="職員を招待する").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("職員の招待")
    assert axe_violations(page) == []

    # A mistake first: explained next to the field, what was typed is kept.
    page.get_by_label("メールアドレス").fill(email.replace("@", "＠＠"))
    page.get_by_label("氏名").fill(name)
    page.get_by_role("radio", name=re.compile(f"^{role}")).check()
    page.get_by_label("市民生活部 市民課").check()
    page.get_by_role("button", name="招待のメールを送る").click()
    expect(page.get_by_role("alert")).to_contain_text("入力内容を確認してください（1件）")
    expect(page.get_by_text("メールアドレスの形式が正しくありません").first).to_be_visible()
    expect(page.get_by_label("氏名")).to_have_value(name)
    expect(page.get_by_label("市民生活部 市民課")).to_be_checked()
    assert axe_violations(page) == []

    page.get_by_label("メールアドレス").fill(email)
    page.get_by_role("button", name="招待のメールを送る").click()
    expect(page.locator(".notice-success")).to_contain_text(f"{email} を{role}として登録し")
    row = page.get_by_test_id("member").filter(has_text=email)
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("市民生活部 市民課")
    expect(row).to_contain_text("招待中（パスワード未設定）")
    assert axe_violations(page) == []


def set_password_and_log_in(context, live_server, email: str) -> None:
    body = OutgoingEmail.objects.filter(to=email).latest("id").body
    page = context.new_page()
    page.goto(live_server.url + LINK.search(body).group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("パスワードの設定")
    assert "token" not in page.url
    assert axe_violations(page) == []
    page.get_by_label("新しいパスワード", exact=True).fill("kumo-no-ue-7142")
    page.get_by_label("新しいパスワード（確認のためもう一度）").fill("kumo-no-ue-7142")
    page.get_by_role("button", name="パスワードを設定する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("パスワードを設定しました")
    assert axe_violations(page) == []
    page.get_by_role("link", name="ログイン画面へ").click()
    page.get_by_label("ユーザー名").fill(email)
    page.get_by_label("パスワード").fill("kumo-no-ue-7142")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("手続一覧")
    expect(page.locator("main")).to_contain_text("鳥取市")


def test_admin_invites_a_colleague_at_phone_width(demo, live_server, browser, browser_context_args):
    admin = browser.new_context(**browser_context_args)
    page = staff_login(admin, live_server, "tottori-admin")
    invite(page, email="hanako@city.tottori.lg.jp", name="鳥取　花子", role="閲覧者")
    # The page fits the phone: nothing but the table scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_role("link", name="鳥取　花子").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("鳥取　花子")
    assert axe_violations(page) == []
    page.get_by_role("link", name="鳥取市の職員から外す").click()
    expect(page.get_by_role("button", name="職員から外す")).to_be_visible()
    assert axe_violations(page) == []
    admin.close()

    invitee = browser.new_context(**browser_context_args)
    set_password_and_log_in(invitee, live_server, "hanako@city.tottori.lg.jp")
    invitee.close()


def test_admin_invites_a_colleague_at_desk_width(demo, live_server, browser, browser_context_args):
    admin = browser.new_context(**{**browser_context_args, **DESK})
    page = staff_login(admin, live_server, "tottori-admin")
    invite(page, email="taro@city.tottori.lg.jp", name="因幡　太郎", role="処理担当者")
    admin.close()

    invitee = browser.new_context(**{**browser_context_args, **DESK})
    forgot = invitee.new_page()
    forgot.goto(f"{live_server.url}/staff/login/")
    forgot.get_by_role("link", name="パスワードを忘れた方").click()
    expect(forgot.get_by_role("heading", level=1)).to_have_text("パスワードを忘れた方")
    assert axe_violations(forgot) == []
    forgot.get_by_label("メールアドレス").fill("taro@city.tottori.lg.jp")
    forgot.get_by_role("button", name="リンクを送る").click()
    expect(forgot.get_by_role("heading", level=1)).to_have_text("メールを確認してください")
    assert axe_violations(forgot) == []
    set_password_and_log_in(invitee, live_server, "taro@city.tottori.lg.jp")
    invitee.close()
