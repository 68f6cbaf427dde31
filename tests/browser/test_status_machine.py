"""A decision, its confirmation, a message and a reopening at phone size; the resident reads each on the
status page with JavaScript off; an editor's e-mail text and its preview. Staff pages are checked with axe
(which needs JavaScript: the staff flows are plain form posts either way)."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.lib.receipt import format_inquiry_code
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from tests.browser.conftest import pass_second_factor
from tests.browser.test_correction import ANSWERS
from tests.browser.test_resident_and_staff import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(context, live_server, username):
    page = context.new_page()
    page.goto(f"{live_server.url}/staff/login/")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill("madoguchi-demo-2026")
    page.get_by_role("button", name="ログイン").click()
    pass_second_factor(page, username)
    return page


def test_admin_decides_writes_and_reopens_and_the_resident_reads_it_without_javascript(
    transactional_db, live_server, browser, browser_context_args
):
    call_command("load_demo", verbosity=0)
    procedure = Procedure.objects.get(kind="signup")
    result = services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=ANSWERS,
        staged_files={},
        token="browser-status-machine",
        applicant_email=ANSWERS["email"],
    )
    receipt = result.submission.display_receipt_number

    staff = browser.new_context(**browser_context_args)
    page = login(staff, live_server, "tottori-admin")
    page.goto(f"{live_server.url}/staff/submissions/{result.submission.pk}/")
    page.get_by_label("申請者にメッセージを送る").fill("当日は筆記用具をお持ちください。")
    page.get_by_role("button", name="送る").click()
    expect(page.get_by_test_id("messages")).to_contain_text("当日は筆記用具をお持ちください。")

    page.get_by_label("お断りする").check()
    page.get_by_label("理由・申請者へのお知らせ").fill("定員に達したため、お受けできませんでした。")
    page.get_by_role("button", name="変更する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("「お断り」にしてよいですか")
    assert axe_violations(page) == []
    page.get_by_role("button", name="確定して「お断り」にする").click()
    expect(page.get_by_test_id("status")).to_have_text("お断り")

    page.get_by_label("戻す理由").fill("キャンセルが出たため、改めて受け付けます。")
    page.get_by_role("button", name="処理中に戻す").click()
    expect(page.get_by_test_id("status")).to_have_text("処理中")
    assert axe_violations(page) == []

    resident = browser.new_context(**browser_context_args, java_script_enabled=False)
    phone = resident.new_page()
    phone.goto(f"{live_server.url}/status/")
    phone.get_by_label("受付番号").fill(receipt.replace("-", ""))
    phone.get_by_label("問い合わせ番号").fill(format_inquiry_code(result.inquiry_code))
    phone.get_by_role("button", name="確認する").click()
    expect(phone.get_by_test_id("status")).to_have_text("処理中")
    expect(phone.get_by_test_id("messages")).to_contain_text("当日は筆記用具をお持ちください。")
    expect(phone.locator("ol.history")).to_contain_text("決定を取り消し、改めて処理しています")
    expect(phone.locator("ol.history")).to_contain_text("キャンセルが出たため、改めて受け付けます。")

    editor = browser.new_context(**browser_context_args)
    page = login(editor, live_server, "tottori-editor")
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/emails/")
    page.get_by_role("link", name="担当課からのメッセージ").click()
    page.get_by_label("本文").fill("{手続名}について、担当からのお知らせです。\n\n{本文}\n\n{氏名}様")
    page.get_by_role("button", name="プレビュー").click()
    expect(page.get_by_role("alert")).to_contain_text("「{氏名}」は使えない差し込み項目です")
    expect(page.get_by_label("本文")).to_have_value(
        "{手続名}について、担当からのお知らせです。\n\n{本文}\n\n{氏名}様"
    )
    page.get_by_label("本文").fill("{手続名}について、担当からのお知らせです。\n\n{本文}")
    page.get_by_role("button", name="プレビュー").click()
    expect(page.get_by_test_id("preview")).to_contain_text(
        f"{procedure.title}について、担当からのお知らせです。"
    )
    assert axe_violations(page) == []
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_text("メールの文面を保存しました")).to_be_visible()
