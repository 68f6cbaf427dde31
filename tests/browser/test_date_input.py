"""At phone size: a birth date given in 年・月・日 boxes with an era, and an address from its 郵便番号, with
JavaScript off (plain posts) and on (the page's script fills in without a round trip)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_resident_and_staff import axe_violations
from tests.conftest import make_procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "birthday", "type": "date", "label": "生年月日", "required": True, "past_only": True},
        {"key": "address", "type": "address", "label": "住所", "required": True},
    ]
}
POSTAL = "郵便番号（ハイフンはあってもなくても構いません）"


@pytest.fixture
def procedure(tottori):
    return make_procedure(tottori, SCHEMA, title="転入の届出", kind="application")


def open_form(browser, browser_context_args, live_server, procedure, *, js: bool):
    context = browser.new_context(**browser_context_args, java_script_enabled=js)
    page = context.new_page()
    page.goto(f"{live_server.url}/{procedure.organization.code}/procedures/{procedure.pk}/")
    page.get_by_label("姓", exact=True).fill("鳥取")
    page.get_by_label("名", exact=True).fill("花子")
    return page


def test_a_birth_date_in_era_boxes_and_an_address_chosen_among_towns_without_javascript(
    browser, browser_context_args, live_server, procedure
):
    page = open_form(browser, browser_context_args, live_server, procedure, js=False)
    page.get_by_label("元号").select_option("昭和")
    page.get_by_label("年", exact=True).fill("５５")
    page.get_by_label("月", exact=True).fill("13")
    page.get_by_label("日", exact=True).fill("1")
    page.get_by_label(POSTAL).fill("452-0961")
    page.get_by_role("button", name="住所を検索").click()
    expect(page.locator("#address-notice")).to_contain_text("町域が66件あります")
    expect(page.locator("#birthday-error")).to_have_count(0)  # the lookup judges nothing else yet
    expect(page.get_by_label("元号")).to_have_value("昭和")
    expect(page.get_by_label("年", exact=True)).to_have_value("５５")
    expect(page.get_by_label("月", exact=True)).to_have_value("13")
    expect(page.get_by_label("住所", exact=True)).to_have_value("")
    page.get_by_label(re.compile("この郵便番号の町域")).select_option("愛知県清須市春日稲荷")
    page.get_by_role("button", name="この町域を住所に入れる").click()
    expect(page.get_by_label("住所", exact=True)).to_have_value("愛知県清須市春日稲荷")
    page.get_by_label("住所", exact=True).press("End")
    page.get_by_label("住所", exact=True).type("1-2")
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.locator("#birthday-error")).to_contain_text("月は1から12までの数字で入力してください")
    expect(page.get_by_label("住所", exact=True)).to_have_value("愛知県清須市春日稲荷1-2")
    page.get_by_label("月", exact=True).fill("4")
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page).to_have_url(re.compile(r"/confirm/$"))
    expect(page.locator("body")).to_contain_text("1980年4月1日（昭和55年4月1日）")
    expect(page.locator("body")).to_contain_text("〒452-0961 愛知県清須市春日稲荷1-2")


def test_the_script_offers_the_towns_and_fills_one_without_leaving_the_page(
    browser, browser_context_args, live_server, procedure
):
    page = open_form(browser, browser_context_args, live_server, procedure, js=True)
    url = page.url
    page.get_by_label(POSTAL).fill("４５２０９６１")
    page.get_by_role("button", name="住所を検索").click()
    towns = page.get_by_label(re.compile("この郵便番号の町域"))
    expect(towns).to_be_visible()
    expect(towns.locator("option")).to_have_count(67)  # 「選んでください」 and the 66
    assert axe_violations(page) == []
    expect(page.get_by_label("住所", exact=True)).to_have_value("")  # nothing guessed
    towns.select_option("愛知県清須市春日一番割")
    page.get_by_role("button", name="この町域を住所に入れる").click()
    expect(page.get_by_label("住所", exact=True)).to_have_value("愛知県清須市春日一番割")
    assert page.url == url
    page.get_by_label(POSTAL).fill("680-8570")
    page.get_by_label("住所", exact=True).fill("")
    page.get_by_role("button", name="住所を検索").click()
    expect(page.get_by_label("住所", exact=True)).to_have_value("鳥取県鳥取市東町")
    expect(page.get_by_label("住所", exact=True)).to_be_focused()
    expect(towns).to_be_hidden()
    page.get_by_label("年", exact=True).fill("令和2年2月29日")  # typed freely into the year box
    page.get_by_label("住所", exact=True).fill("鳥取県鳥取市東町1丁目220")
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.locator("body")).to_contain_text("2020年2月29日（令和2年2月29日）")


def test_the_era_year_month_and_day_boxes_share_one_line_on_a_phone(
    browser, browser_context_args, live_server, procedure
):
    page = open_form(browser, browser_context_args, live_server, procedure, js=True)
    assert page.viewport_size["width"] == 360
    boxes = [
        page.locator(f"#birthday{suffix}").bounding_box() for suffix in ("__era", "", "__month", "__day")
    ]
    tops = [box["y"] for box in boxes]
    assert max(tops) - min(tops) < 10, boxes  # one row: 元号 年 月 日, none wrapped under the others
    assert all(box["height"] >= 44 for box in boxes)  # still a finger's size
    assert all(box["x"] + box["width"] <= 360 for box in boxes)
