"""At phone size (360×640), JavaScript off: the resident reads staff's message on the status page, replies,
staff see the reply marked 未返信, and the resident withdraws through the 「本当に取り下げますか」 step, coming
back once to find the reason still typed. The case page with the thread is checked with axe."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.lib.receipt import format_inquiry_code
from madoguchi.notifications import services as notify
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from madoguchi.submissions.models import Status, Submission
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


def test_the_resident_replies_and_withdraws_after_confirming(
    transactional_db, live_server, browser, browser_context_args
):
    call_command("load_demo", verbosity=0)
    procedure = Procedure.objects.get(kind="signup")
    result = services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=ANSWERS,
        staged_files={},
        token="browser-messages",
        applicant_email=ANSWERS["email"],
    )
    receipt = result.submission.display_receipt_number
    clerk = result.submission.organization.memberships.get(user__username="tottori-staff").user
    notify.send_message(
        submission=result.submission, author=clerk, body="駐車場はありません。公共交通機関でお越しください。"
    )

    resident = browser.new_context(**browser_context_args, java_script_enabled=False)
    phone = resident.new_page()
    assert phone.viewport_size == {"width": 360, "height": 640}
    phone.goto(f"{live_server.url}/status/")
    phone.get_by_label("受付番号").fill(receipt.replace("-", ""))
    phone.get_by_label("問い合わせ番号").fill(format_inquiry_code(result.inquiry_code))
    phone.get_by_role("button", name="確認する").click()
    expect(phone.get_by_test_id("status-explanation")).to_contain_text("担当課が申込みを確認し")
    expect(phone.get_by_test_id("messages")).to_contain_text("駐車場はありません。")

    phone.get_by_label("担当課にメッセージを送る").fill("承知しました。バスで伺います。")
    phone.get_by_role("button", name="メッセージを送る").click()
    expect(phone.locator(".messages")).to_contain_text("担当課にメッセージを送りました")
    thread = phone.get_by_test_id("messages").locator("li")
    expect(thread).to_have_count(2)
    expect(thread.nth(1)).to_contain_text("あなたから")
    expect(thread.nth(1)).to_contain_text("承知しました。バスで伺います。")

    staff = browser.new_context(**browser_context_args)
    desk = staff_login(staff, live_server, "tottori-staff")
    desk.goto(f"{live_server.url}/staff/submissions/{result.submission.pk}/")
    expect(desk.get_by_test_id("unanswered-reply")).to_have_text("未返信")
    expect(desk.get_by_test_id("messages")).to_contain_text("承知しました。バスで伺います。")
    assert axe_violations(desk) == []

    # 取下げ (a sign-up's キャンセル): the reason, the confirmation page, back once, then for real.
    phone.get_by_label("キャンセルの理由").fill("体調を崩したため")
    phone.get_by_role("button", name="申込をキャンセルする").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("本当にキャンセルしますか")
    expect(phone.get_by_test_id("withdraw-reason")).to_have_text("体調を崩したため")
    phone.get_by_role("link", name="キャンセルしないで戻る").click()
    expect(phone.get_by_label("キャンセルの理由")).to_have_value("体調を崩したため")
    assert Submission.objects.get(pk=result.submission.pk).status == Status.RECEIVED
    phone.get_by_role("button", name="申込をキャンセルする").click()
    phone.get_by_role("button", name="キャンセルする", exact=True).click()
    expect(phone.get_by_test_id("status")).to_have_text("キャンセル")
    expect(phone.get_by_test_id("reply-closed")).to_be_visible()
    assert OutgoingEmail.objects.filter(kind="withdrawn", to="sakiko@example.jp").count() == 1
