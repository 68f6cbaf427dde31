"""The per-address submission limit as a resident meets it, in Chromium at phone width: over the limit the
確認画面's button leads to a page that says nothing was received yet and keeps the answers; once the window
has passed, its one button sends the application. With JavaScript (axe) and without."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from madoguchi.submissions.models import RateCounter, Submission
from tests.browser.test_resident_and_staff import axe_violations
from tests.conftest import make_procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_and_confirm(page, form_url: str) -> None:
    page.goto(form_url)
    page.get_by_label("姓").fill("髙橋")
    page.get_by_label("名", exact=True).fill("﨑子")
    page.get_by_label("ふりがな").fill("たかはし さきこ")
    page.get_by_label("電話番号").fill("0857-20-3111")
    page.get_by_label("メールアドレス").fill("sakiko@example.jp")
    page.get_by_label("午前").check()
    page.get_by_label("注意事項に同意します").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")


@pytest.mark.parametrize("javascript", [True, False])
def test_over_the_limit_nothing_is_received_nothing_is_lost_and_one_button_sends_it_later(
    javascript, live_server, browser, browser_context_args, tottori, settings
):
    settings.SUBMISSIONS_PER_CLIENT = 1
    procedure = make_procedure(tottori)
    form_url = f"{live_server.url}/{tottori.code}/procedures/{procedure.pk}/"
    context = browser.new_context(**browser_context_args, java_script_enabled=javascript)
    page = context.new_page()
    fill_and_confirm(page, form_url)
    page.get_by_role("button", name="この内容で申し込む").click()
    expect(page.get_by_test_id("receipt-number")).to_be_visible()

    second = context.new_page()  # another application from the same address
    fill_and_confirm(second, form_url)
    second.get_by_role("button", name="この内容で申し込む").click()
    expect(second.get_by_role("heading", level=1)).to_have_text("短い時間に多くの申請がありました")
    expect(second.get_by_test_id("too-many")).to_contain_text("まだ受け付けていません")
    assert Submission.objects.count() == 1
    if javascript:
        assert axe_violations(second) == []
        assert second.evaluate("document.documentElement.scrollWidth") <= 360

    RateCounter.objects.update(expires_at=timezone.now())  # the window has passed
    second.get_by_role("button", name="もう一度送信する").click()
    expect(second.get_by_test_id("receipt-number")).to_be_visible()
    assert Submission.objects.count() == 2
    context.close()
