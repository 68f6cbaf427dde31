"""集計 in Debian's chromium on a phone-sized screen: 鳥取県's admin opens the demo survey's tally from its
inbox, reads the charts and tables, narrows the period, and downloads the CSV; axe finds nothing, and the
strict CSP blocks nothing on the page."""

import csv
import io

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.organizations.management.commands.load_demo import DEMO_PASSWORD
from tests.browser.conftest import pass_second_factor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def test_the_survey_tally_reads_on_a_phone_and_passes_axe(demo, live_server, page, tmp_path):
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/staff/")
    page.get_by_label("ユーザー名").fill("pref-admin")
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_factor(page, "pref-admin")
    page.get_by_role("link", name="電子申請サービス利用者アンケート", exact=True).click()
    page.get_by_role("link", name="集計（アンケートの結果）").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("集計")
    expect(page.get_by_test_id("respondents")).to_have_text("回答者数 36人 （すべての期間）")
    chart = page.get_by_role(
        "img", name="「電子申請サービスの使いやすさ」の回答の件数と割合（同じ数値を下の表に示します）"
    )
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] <= 360  # scaled to the phone's width
    table = page.get_by_role("table", name="「使った機器」の回答（件数と割合）")
    expect(table.get_by_role("row", name="スマートフォン 27 75.0")).to_be_visible()
    expect(page.get_by_text("割合の合計は100%を超えることがあります")).to_be_visible()
    assert axe_violations(page) == []
    page.locator("section.panel").first.screenshot(path=str(tmp_path / "tally.png"))

    # A period the clerk mistyped: explained, kept in the box, nothing counted.
    page.get_by_label("到達日（から）").fill("2026/2/30")
    page.get_by_role("button", name="集計する").click()
    expect(page.get_by_role("alert")).to_contain_text("到達日（から）")
    expect(page.get_by_label("到達日（から）")).to_have_value("2026/2/30")
    assert axe_violations(page) == []

    page.get_by_label("到達日（から）").fill("2000/1/1")
    page.get_by_role("button", name="集計する").click()
    expect(page.get_by_test_id("respondents")).to_contain_text("回答者数 36人")
    with page.expect_download() as download:
        page.get_by_role("link", name="選択式の質問の集計をCSVで出力する（UTF-8・BOM付き）").click()
    data = open(download.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["回答者数", "", "36", ""]
    assert blocked == []
