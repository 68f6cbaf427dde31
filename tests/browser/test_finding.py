"""Finding a procedure on a 360×640 phone (plain links and a GET form): the resident searches the demo by reading, then
browses by ライフイベント and 分類, and a municipality's page shows the prefecture's procedures. Every link
of the browsing is a tap target of 44 px or more, and axe finds nothing on these pages."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def test_a_resident_finds_a_procedure_by_reading_and_by_life_event(demo, live_server, page):
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="新しい手続")).to_be_visible()
    assert axe_violations(page) == []

    page.get_by_label("手続の名前やキーワードで探す").fill("じゅうみんひょう")
    page.get_by_role("button", name="検索").click()
    expect(page.get_by_role("heading", level=2, name="「じゅうみんひょう」の検索結果 1件")).to_be_visible()
    expect(page.get_by_role("link", name="住民票の写しの郵送請求")).to_be_visible()

    page.get_by_label("手続の名前やキーワードで探す").fill("スマホ")  # the demo council's synonym
    page.get_by_role("button", name="検索").click()
    expect(page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込")).to_be_visible()

    page.goto(f"{live_server.url}/")
    links = page.locator(".browse a")
    assert links.count() >= 4
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, links.nth(i).inner_text()
    page.locator(".browse").get_by_role("link", name="学び・催し").click()
    expect(
        page.get_by_role("heading", level=2, name="ライフイベント「学び・催し」の手続 1件")
    ).to_be_visible()
    expect(page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込")).to_be_visible()
    expect(page.get_by_role("link", name="住民票の写しの郵送請求")).to_have_count(0)

    page.goto(f"{live_server.url}/312011/")
    prefecture = page.locator(
        "section", has=page.get_by_role("heading", name="鳥取県の手続（鳥取市にお住まいの方も使えます）")
    )
    expect(prefecture.get_by_role("link", name="電子申請サービス利用者アンケート")).to_be_visible()
    page.locator(".browse").get_by_role("link", name="証明書").click()
    expect(page.get_by_role("link", name="住民票の写しの郵送請求")).to_be_visible()
    expect(page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込")).to_have_count(0)
    assert axe_violations(page) == []
