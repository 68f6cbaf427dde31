"""At phone size: a resident verifies an address, opens the e-mailed link on another phone,
applies there with the address fixed; a second application with the same address is told the first 受付番号;
the lost 問い合わせ番号 is asked for. No axe violation on any of these pages."""

import re

import pytest
from playwright.sync_api import expect

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions.models import Submission
from tests.browser.test_resident_and_staff import axe_violations
from tests.conftest import make_procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "agree", "type": "consent", "label": "注意事項に同意します", "required": True},
    ],
}


def ask_for_link(page, live_server, procedure, address: str) -> str:
    page.goto(f"{live_server.url}/{procedure.organization.code}/procedures/{procedure.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("メールアドレスの確認")
    page.get_by_label("メールアドレス").fill(address)
    page.get_by_role("button", name="確認メールを送る").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("確認メールを送りました")
    body = OutgoingEmail.objects.filter(kind="verification").latest("id").body
    return re.search(r"https?://\S+", body).group(0)


def apply_with_link(browser, browser_context_args, link: str) -> str:
    context = browser.new_context(**browser_context_args)
    phone = context.new_page()
    phone.goto(link)
    assert axe_violations(phone) == []
    phone.get_by_role("button", name="確認して入力を始める").click()
    expect(phone.get_by_text("メールアドレスを確認しました")).to_be_visible()
    expect(phone.get_by_label("メールアドレス")).to_have_value("sakiko@example.jp")
    expect(phone.get_by_label("メールアドレス")).to_have_attribute("readonly", "")
    assert axe_violations(phone) == []
    phone.get_by_label("姓").fill("髙橋")
    phone.get_by_label("名", exact=True).fill("﨑子")
    phone.get_by_label("注意事項に同意します").check()
    phone.get_by_role("button", name="入力内容を確認する").click()
    phone.get_by_role("button", name="この内容で申し込む").click()
    html = phone.content()
    context.close()
    return html


def test_verify_on_one_phone_apply_on_another_and_once_only(
    tottori, live_server, browser, browser_context_args, settings
):
    settings.SITE_URL = live_server.url
    procedure = make_procedure(
        tottori,
        SCHEMA,
        title="プレミアム商品券の申込",
        requires_email_verification=True,
        duplicate_rule="email",
    )
    first = browser.new_context(**browser_context_args)
    page = first.new_page()
    page.goto(f"{live_server.url}/{tottori.code}/procedures/{procedure.pk}/")
    page.get_by_role("button", name="確認メールを送る").click()
    expect(page.get_by_role("alert")).to_contain_text("メールアドレス")
    assert axe_violations(page) == []
    link = ask_for_link(page, live_server, procedure, "sakiko@example.jp")
    assert axe_violations(page) == []
    done = apply_with_link(browser, browser_context_args, link)
    submission = Submission.objects.get()
    assert submission.applicant_email == "sakiko@example.jp"
    assert submission.display_receipt_number in done

    # The spent link says so and offers a new one.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("確認用のリンクを使えません")
    assert axe_violations(page) == []
    # A second application with the same address: told the first 受付番号, nothing received.
    second = apply_with_link(
        browser, browser_context_args, ask_for_link(page, live_server, procedure, "sakiko@example.jp")
    )
    assert f"受付番号 {submission.display_receipt_number}" in second and 'value="髙橋"' in second
    assert Submission.objects.count() == 1
    first.close()


def test_the_lost_inquiry_code_is_asked_for_from_the_status_page(tottori, live_server, page):
    page.goto(f"{live_server.url}/status/")
    page.get_by_role("link", name="問い合わせ番号を忘れた方").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("問い合わせ番号を忘れた方")
    assert axe_violations(page) == []
    page.get_by_label("受付番号").fill("4821-0395-76")
    page.get_by_label("メールアドレス").fill("sakiko@example.jp")
    page.get_by_label("受付番号").press("Enter")
    expect(page.get_by_text("問い合わせ番号をお送りしました")).to_be_visible()
    assert axe_violations(page) == []
