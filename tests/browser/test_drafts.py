"""At phone size, JavaScript off: a resident saves a half-filled form, opens the e-mailed link in a fresh
browser and finishes there; and a session that ends on the 確認画面 of a form with a file keeps every other
answer, asking only for the file again."""

import re

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Submission, SubmissionDraft
from tests.browser.test_resident_and_staff import axe_violations
from tests.conftest import make_procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
    b"\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8\x00\x00\x00\x00IEND\xaeB`\x82"
)

SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "note", "type": "long_text", "label": "相談したいこと", "required": True},
        {"key": "agree", "type": "consent", "label": "注意事項に同意します", "required": True},
    ],
}

FILE_SCHEMA = {
    "email_field": "email",
    "fields": [
        *SCHEMA["fields"][:3],
        {
            "key": "doc",
            "type": "file",
            "label": "本人確認書類の写し",
            "required": True,
            "allowed_types": ["png"],
        },
        SCHEMA["fields"][3],
    ],
}


def form_path(procedure) -> str:
    return f"/{procedure.organization.code}/procedures/{procedure.pk}/"


def test_a_draft_saved_on_one_phone_is_finished_on_another(
    tottori, live_server, browser, browser_context_args, settings
):
    settings.SITE_URL = live_server.url
    procedure = make_procedure(tottori, SCHEMA, title="子育て相談の予約")
    first = browser.new_context(**browser_context_args)  # JavaScript on here (axe runs in the page)
    page = first.new_page()
    page.goto(live_server.url + form_path(procedure))
    page.get_by_label("姓").fill("髙橋")
    page.get_by_label("名", exact=True).fill("﨑子")
    page.get_by_label("相談したいこと").fill("保育園の入園について\n相談したいです")
    page.get_by_role("button", name="一時保存する").click()
    # No address typed yet: the page asks for one.
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の一時保存")
    page.get_by_role("button", name="保存してメールを送る").click()
    expect(page.get_by_role("alert")).to_contain_text("メールアドレスを入力してください")
    assert axe_violations(page) == []
    page.get_by_label("メールアドレス").fill("sakiko@example.jp")
    page.get_by_role("button", name="保存してメールを送る").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("一時保存しました")
    expect(page.get_by_test_id("draft-saved")).to_contain_text("sakiko@example.jp")
    assert axe_violations(page) == []
    first.close()

    body = OutgoingEmail.objects.get(kind="draft").body
    link = re.search(r"https?://\S+", body).group(0)
    assert link.startswith(live_server.url + "/drafts/resume/?key=")

    second = browser.new_context(**browser_context_args, java_script_enabled=False)
    phone = second.new_page()
    phone.goto(link)
    expect(phone.get_by_text("一時保存した内容を読み込みました")).to_be_visible()
    expect(phone.get_by_label("姓")).to_have_value("髙橋")
    expect(phone.get_by_label("名", exact=True)).to_have_value("﨑子")
    expect(phone.get_by_label("相談したいこと")).to_have_value("保育園の入園について\n相談したいです")
    phone.get_by_label("メールアドレス").fill("sakiko@example.jp")
    phone.get_by_label("注意事項に同意します").check()
    phone.get_by_role("button", name="入力内容を確認する").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    phone.get_by_role("button", name="この内容で申し込む").click()
    receipt = phone.get_by_test_id("receipt-number").inner_text()
    assert re.fullmatch(r"\d{4}-\d{4}-\d{2}", receipt)
    assert not SubmissionDraft.objects.exists()
    # The link is spent once the application is sent.
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_have_text("一時保存した内容を開けません")
    second.close()
    checker = browser.new_context(**browser_context_args).new_page()
    checker.goto(link)
    expect(checker.get_by_role("heading", level=1)).to_have_text("一時保存した内容を開けません")
    assert axe_violations(checker) == []
    checker.context.close()


def test_a_session_ended_on_the_confirmation_page_keeps_every_answer_but_the_file(
    tottori, live_server, browser, browser_context_args, tmp_path
):
    procedure = make_procedure(tottori, FILE_SCHEMA, title="証明書の請求")
    picture = tmp_path / "免許証.png"
    picture.write_bytes(PNG)
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + form_path(procedure))
    page.get_by_label("姓").fill("山﨑")
    page.get_by_label("名", exact=True).fill("太郎")
    page.get_by_label("メールアドレス").fill("taro@example.jp")
    page.get_by_label("相談したいこと").fill("二通必要です")
    page.get_by_label("本人確認書類の写し").set_input_files(str(picture))
    page.get_by_label("注意事項に同意します").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")

    # Lunch: the session expires on the server and the browser drops its cookie (the CSRF cookie stays).
    Session.objects.all().delete()
    kept = [c for c in context.cookies() if c["name"] != "sessionid"]
    context.clear_cookies()
    context.add_cookies(kept)

    page.get_by_role("button", name="この内容で申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("証明書の請求")
    expect(page.get_by_text("添付ファイルの保存期限が切れました")).to_contain_text("「本人確認書類の写し」")
    expect(page.get_by_label("姓")).to_have_value("山﨑")
    expect(page.get_by_label("名", exact=True)).to_have_value("太郎")
    expect(page.get_by_label("メールアドレス")).to_have_value("taro@example.jp")
    expect(page.get_by_label("相談したいこと")).to_have_value("二通必要です")
    expect(page.get_by_label("注意事項に同意します")).to_be_checked()
    assert Submission.objects.count() == 0

    page.get_by_label("本人確認書類の写し").set_input_files(str(picture))
    page.get_by_role("button", name="入力内容を確認する").click()
    page.get_by_role("button", name="この内容で申し込む").click()
    expect(page.get_by_test_id("receipt-number")).to_be_visible()
    answers = read_answers(Submission.objects.get())
    assert answers["name"] == {"family": "山﨑", "given": "太郎"} and answers["note"] == "二通必要です"
    context.close()


def test_a_form_sent_while_the_site_is_saturated_is_kept_and_its_link_works(
    tottori, live_server, browser, browser_context_args, settings
):
    settings.SITE_URL = live_server.url
    procedure = make_procedure(tottori, SCHEMA, title="子育て相談の予約")
    context = browser.new_context(**browser_context_args)  # JavaScript on here (axe runs in the page)
    page = context.new_page()
    page.goto(live_server.url + form_path(procedure))
    page.get_by_label("姓").fill("髙橋")
    page.get_by_label("相談したいこと").fill("急ぎの相談です")
    settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 0  # every slot of the process taken
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("混雑しています")
    expect(page.get_by_test_id("busy")).to_contain_text("入力した内容はすべて一時保存しました")
    assert axe_violations(page) == []
    link = page.get_by_test_id("resume-link").get_attribute("href")
    settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS = 10
    context.close()

    fresh = browser.new_context(**browser_context_args, java_script_enabled=False)
    phone = fresh.new_page()
    phone.goto(link)
    expect(phone.get_by_label("姓")).to_have_value("髙橋")
    expect(phone.get_by_label("相談したいこと")).to_have_value("急ぎの相談です")
    fresh.close()
