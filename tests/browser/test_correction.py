"""差戻し and 補正 end to end at phone size: staff return an application, the resident corrects it with
JavaScript off, staff see it back in 処理待ち with what changed. Staff pages are checked with axe."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.lib.receipt import format_inquiry_code
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from tests.browser.test_resident_and_staff import axe_violations, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWERS = {
    "name": {"family": "髙橋", "given": "﨑子"},
    "furigana": "たかはし\u3000さきこ",
    "phone": "0857-20-3111",
    "email": "sakiko@example.jp",
    "session": "12月10日（木）午前",
    "own_phone": "持っている",
    "agree": True,
}


def test_staff_return_the_application_and_the_resident_corrects_it(
    transactional_db, live_server, browser, browser_context_args
):
    call_command("load_demo", verbosity=0)
    procedure = Procedure.objects.get(kind="signup")
    result = services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=ANSWERS,
        staged_files={},
        token="browser-correction",
        applicant_email=ANSWERS["email"],
    )
    receipt = result.submission.display_receipt_number

    staff = browser.new_context(**browser_context_args)
    page = staff_login(staff, live_server, "tottori-staff")
    assert axe_violations(page) == []
    page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込").click()
    assert axe_violations(page) == []
    page.get_by_role("link", name=receipt).click()
    page.get_by_label("差し戻す（返却中にする）").check()
    page.get_by_label("理由・申請者へのお知らせ").fill("電話番号がつながりませんでした。ご確認ください。")
    page.get_by_role("button", name="変更する").click()
    expect(page.get_by_test_id("status")).to_have_text("返却中")
    assert axe_violations(page) == []

    resident = browser.new_context(**browser_context_args, java_script_enabled=False)
    phone = resident.new_page()
    phone.goto(f"{live_server.url}/status/")
    phone.get_by_label("受付番号").fill(receipt.replace("-", ""))
    phone.get_by_label("問い合わせ番号").fill(format_inquiry_code(result.inquiry_code))
    phone.get_by_role("button", name="確認する").click()
    expect(phone.get_by_test_id("status")).to_have_text("返却中")
    expect(phone.locator("ol.history")).to_contain_text("電話番号がつながりませんでした")
    phone.get_by_role("link", name="内容を修正する").click()
    expect(phone.get_by_label("姓")).to_have_value("髙橋")
    expect(phone.get_by_label("電話番号")).to_have_value("0857-20-3111")
    phone.get_by_label("電話番号").fill("０９０－１２３４－５６７８")
    phone.get_by_role("button", name="入力内容を確認する").click()
    expect(phone.locator("dl.answers")).to_contain_text("090-1234-5678")
    phone.get_by_role("button", name="この内容で再提出する").click()
    expect(phone.get_by_test_id("status")).to_have_text("処理待ち")
    expect(phone.locator("dl.answers")).to_contain_text("090-1234-5678")
    resident.close()

    page.reload()
    expect(page.get_by_test_id("status")).to_have_text("処理待ち")
    expect(page.locator("dl.answers").first).to_contain_text("090-1234-5678")
    expect(page.get_by_text("補正前の内容")).to_be_visible()
    expect(page.locator("body")).to_contain_text("0857-20-3111")
    assert axe_violations(page) == []
    page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込").click()
    page.get_by_role("link", name="CSV・Excelに出力する").click()
    assert axe_violations(page) == []
    # The back office in English passes too.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert axe_violations(page) == []
    staff.close()
