"""The council's view in Debian's chromium on a phone-sized screen: the secretariat of the demo council
reads its members side by side, shows only those with little use, opens one member's 件数, then opens the
public open-data page and downloads a CSV without logging in. axe finds nothing on any of these pages, and
the strict CSP blocks nothing."""

import csv
import io

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def test_the_council_page_and_the_open_data_page_pass_axe(demo, live_server, page, tmp_path):
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server, "council")
    page.get_by_role("link", name="加入団体と件数").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("協議会")
    table = page.get_by_role("table", name="申請件数（加入団体別）")
    expect(table).to_be_visible()
    # The demo's 若桜町 has no procedure: named 利用なし in words, under the rule stated on the page.
    expect(table.get_by_role("row").filter(has_text="若桜町")).to_contain_text("利用なし")
    expect(page.get_by_text("中央値の10%")).to_be_visible()
    expect(page.get_by_role("img", name="月別の件数（同じ数値を下の表に示します）")).to_be_visible()
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "council.png"), full_page=True)

    page.get_by_label("利用が少ない団体だけ").check()
    page.get_by_label("並べ方").select_option(label="件数の少ない順")
    page.get_by_role("button", name="表示", exact=True).click()
    # Only the prefecture's survey has answers in the demo: every other member is listed, the prefecture not.
    rows = page.get_by_role("table", name="申請件数（加入団体別）").get_by_role("row")
    expect(rows.filter(has_text="若桜町")).to_have_count(1)
    expect(rows.filter(has_text="310000")).to_have_count(0)
    assert axe_violations(page) == []

    page.get_by_label("利用が少ない団体だけ").uncheck()
    page.get_by_role("button", name="表示", exact=True).click()
    page.get_by_role("link", name="鳥取県", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("鳥取県の件数")
    expect(page.get_by_role("table", name="手続別の件数")).to_contain_text("電子申請サービス利用者アンケート")
    assert axe_violations(page) == []

    page.get_by_role("navigation", name="現在位置").get_by_role("link").click()
    page.get_by_role("link", name="公開ページを開く").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("オープンデータ")
    expect(page.get_by_test_id("license")).to_contain_text("CC BY 4.0")
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "opendata.png"), full_page=True)

    # Without a session: the open data needs no login, and the site's first page links to it.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="利用件数などのオープンデータ").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("オープンデータ")
    # On the phone each dataset reads as a block: its files' links are on the screen, not beyond its edge.
    link = page.get_by_role("link", name="（CSV）").first
    box = link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]
    href = link.get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    body = response.body()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["年度", "年度（和暦）", "団体コード", "団体名"]
    assert blocked == []


def test_a_years_cost_shares_read_on_a_phone_without_scrolling_sideways(demo, live_server, page):
    log_in(page, live_server, "council")
    page.get_by_role("link", name="加入団体と件数").click()
    page.get_by_role("link", name="負担金（部会ごとの費用の分担）").click()
    page.get_by_role("list").filter(has_text="年度").get_by_role("link").first.click()
    if page.get_by_role("button", name="保存して計算する").count():  # a 年度 with no cost entered yet
        page.get_by_label("年間の費用（円）").fill("30,000,000")
        page.get_by_label("均等割（%）").fill("10")
        page.get_by_label("人口割（%）").fill("40")
        page.get_by_label("件数割（%）").fill("50")
        page.get_by_role("button", name="保存して計算する").click()
    table = page.get_by_role("table", name="負担額")
    expect(table).to_be_visible()
    amounts = page.get_by_test_id("share-amount")
    assert amounts.count() > 0
    width = page.viewport_size["width"]
    # Each member reads as a block: its share, named 負担額（円）, is on the screen at 360 px.
    for i in range(amounts.count()):
        box = amounts.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        expect(amounts.nth(i)).to_have_css("text-align", "left")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(table.get_by_role("row").nth(1).get_by_role("cell").last).to_contain_text(",")
    assert axe_violations(page) == []
