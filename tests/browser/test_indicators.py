"""指標と進捗評価 in Debian's chromium on a phone-sized screen: 鳥取県's admin finds the FY2020 申請件数 rated ◎
and opens its page; the council's secretariat opens the counted indicator's monthly chart, mistypes a target
and reads why. axe finds nothing on any of these pages, and the strict CSP blocks nothing."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.stats.indicators import COUNTED_DEMO_NAME
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def test_the_prefectures_indicators_show_their_ratings_and_pass_axe(demo, live_server, page, tmp_path):
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server, "pref-admin")
    page.get_by_role("link", name="指標と進捗評価").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("指標と進捗評価")
    row = page.get_by_role("row").filter(has_text="電子申請システムの申請件数")
    expect(row).to_contain_text("237.7%")
    expect(row).to_contain_text("予定以上")
    assert axe_violations(page) == []

    row.get_by_role("link", name="電子申請システムの申請件数").click()
    chart = page.get_by_role(
        "img", name="年度ごとの実績値と目標値（電子申請システムの申請件数。同じ数値を下の表に示します）"
    )
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] <= 360
    table = page.get_by_role("table", name="電子申請システムの申請件数の年度ごとの値（単位：件）")
    # The mark is for the eye; a screen reader reads its word (予定以上) instead.
    year_row = table.get_by_role("row", name="令和2年度 18,000 42,800 237.7% 予定以上", exact=False)
    expect(year_row).to_contain_text("◎ 予定以上")
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "indicator.png"), full_page=True)
    assert blocked == []


def test_the_secretariat_reads_the_monthly_counts_and_a_bad_target_is_explained(demo, live_server, page):
    log_in(page, live_server, "council")
    page.get_by_role("link", name="加入団体と件数").first.click()
    page.get_by_role("link", name="協議会の指標と進捗評価").click()
    page.get_by_role("link", name=COUNTED_DEMO_NAME).click()
    expect(page.get_by_role("img", name="月別の件数", exact=False)).to_be_visible()
    expect(page.get_by_role("table", name="月別の申請件数", exact=False)).to_be_visible()
    assert axe_violations(page) == []

    form = page.locator("form").filter(has=page.get_by_role("button", name="目標値を保存する"))
    form.get_by_label("年度").fill("令和2年度")
    form.get_by_label("目標値").fill("0")
    page.get_by_role("button", name="目標値を保存する").click()
    expect(page.get_by_role("alert")).to_contain_text("目標値に0は設定できません")
    expect(form.get_by_label("目標値")).to_have_value("0")
    assert axe_violations(page) == []

    form.get_by_label("目標値").fill("１２０")
    page.get_by_role("button", name="目標値を保存する").click()
    expect(page.get_by_text("令和2年度の目標値を保存しました")).to_be_visible()


def test_the_secretariat_defines_an_indicator_without_javascript_errors_explained(demo, live_server, page):
    log_in(page, live_server, "council")
    page.goto(f"{live_server.url}/staff/")
    page.get_by_role("link", name="加入団体と件数").first.click()
    page.get_by_role("link", name="協議会の指標と進捗評価").click()
    page.get_by_role("link", name="指標を追加する").click()
    page.get_by_label("指標名").fill("基幹ネットワークの停止時間")
    page.get_by_label("単位").fill("")  # forgotten
    page.get_by_label("小さいほど良い").check()
    page.get_by_label("基準値", exact=False).first.fill("マイナス6")
    page.get_by_role("button", name="保存する").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("単位：入力してください")
    expect(alert).to_contain_text("基準値は数字で入力してください")
    expect(page.get_by_label("指標名")).to_have_value("基幹ネットワークの停止時間")
    assert axe_violations(page) == []

    page.get_by_label("単位").fill("分")
    page.get_by_label("基準値", exact=False).first.fill("6")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("基幹ネットワークの停止時間")
    expect(page.get_by_text("小さいほど良い")).to_be_visible()
    assert axe_violations(page) == []
