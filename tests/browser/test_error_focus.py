"""After a form comes back with errors, the focus is on its error summary, on residents' and staff pages
alike: a screen reader reads what is wrong first, and the next Tab reaches the link to the first field
in error (デジタル庁デザインシステム「エラーサマリー」)."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.procedures.models import Procedure
from tests.browser.conftest import log_in
from tests.conftest import make_submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => { const e = document.activeElement;
  return {cls: e.className, href: e.getAttribute('href'), text: e.textContent.trim().slice(0, 60)}; }"""


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def test_a_residents_failed_form_puts_the_focus_on_the_summary(demo, live_server, page):
    page.goto(f"{live_server.url}/312011/")
    page.get_by_role("link", name="住民票の写しの郵送請求").click()
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("入力内容を確認してください")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["href"].startswith("#")  # the link to the first field in error


def test_a_staff_pages_failed_form_puts_the_focus_on_the_summary(demo, live_server, page):
    log_in(page, live_server, "council")
    # No summary on a page that has no error: the focus stays where a page load leaves it.
    page.get_by_role("link", name="加入団体と件数").click()
    page.get_by_role("link", name="負担金（部会ごとの費用の分担）").click()
    page.get_by_role("link", name="構成団体の人口を見る・変える").click()
    assert "error-summary" not in page.evaluate(FOCUSED)["cls"]

    # The CSV import sent without a file: the summary has the focus and links to the file box.
    page.get_by_role("button", name="読み込む").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#id_file-error")).to_contain_text("人口のCSVファイルを選んでください。")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["href"] == "#id_file"

    # A population that is not a number: the same, and what was typed is kept.
    box = page.get_by_role("textbox").first
    box.fill("たくさん")
    page.get_by_role("button", name="保存する").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_role("textbox").first).to_have_value("たくさん")
    expect(page.get_by_role("textbox").first).to_have_attribute("aria-invalid", "true")

    # The largest population allowed shows whole in its box at 360 px.
    box = page.get_by_role("textbox").first
    box.fill("150,000,000")
    assert box.evaluate("input => input.scrollWidth <= input.clientWidth")


def test_an_action_refused_with_a_message_at_the_top_puts_the_focus_on_it(demo, live_server, page):
    log_in(page, live_server, "tottori-staff")
    procedure = Procedure.objects.get(organization__code="312011", kind="signup")
    make_submission(procedure, {"name": {"family": "髙橋", "given": "﨑子"}, "email": "sakiko@example.jp"})
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/")
    page.get_by_role("button", name="状態を変更する（確認へ進む）").click()  # nothing ticked
    refused = page.locator(".messages [role=alert]")
    expect(refused).to_be_focused()
    expect(refused).to_contain_text("申請を1件以上選んでから操作してください")
