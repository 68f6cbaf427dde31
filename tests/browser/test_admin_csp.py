"""The operator's admin under the strict Content-Security-Policy (#11 point 10): its pages load and work with
no violation (Chromium reports each refused script or style in the console)."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.organizations.management.commands.load_demo import DEMO_PASSWORD
from tests.browser.conftest import pass_second_factor
from tests.browser.test_staff_accounts import DESK

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_admin_runs_under_the_policy(live_server, browser, browser_context_args):
    call_command("load_demo", verbosity=0)
    context = browser.new_context(**{**browser_context_args, **DESK})
    page = context.new_page()
    refused = []
    page.on(
        "console",
        lambda m: refused.append((page.url, m.text)) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("ユーザー名").fill("admin")
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_factor(page, "admin")
    expect(page.locator("#site-name")).to_be_visible()
    for path in (
        "/admin/",
        "/admin/organizations/organization/",
        "/admin/organizations/organization/?q=鳥取",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        "/admin/procedures/procedure/",
        "/admin/notifications/outgoingemail/",
        "/admin/otp_totp/totpdevice/",
        "/admin/procedures/procedure/add/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "report-uri /csp-report/" in response.headers["content-security-policy"]
    # A change form with its widgets (date/time pickers, the related-object links) and a save.
    page.goto(f"{live_server.url}/admin/organizations/organization/?q=312011")
    page.locator("#result_list tbody a").first.click()
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".messagelist")).to_be_visible()
    assert refused == []
    context.close()
