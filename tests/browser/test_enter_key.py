"""Enter in a text box presses the form's main action, never another button of the page: not the header's
language switch (which belongs to the page's form so that nothing typed is lost), not 「住所を検索」, 「追加する」
or 「一時保存する」. Phone size, JavaScript on (as most residents have it) and off."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.lib.receipt import format_inquiry_code
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from tests.browser.test_correction import ANSWERS as DEMO_ANSWERS
from tests.browser.test_resident_and_staff import staff_login
from tests.conftest import make_procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "address", "type": "address", "label": "住所"},
        {
            "key": "members",
            "type": "group",
            "label": "世帯員",
            "item_label": "世帯員",
            "min_items": 0,
            "fields": [{"key": "member_name", "type": "short_text", "label": "世帯員の氏名"}],
        },
        {"key": "phone", "type": "phone", "label": "電話番号", "required": True},
    ]
}
PAGED = {
    **SCHEMA,
    "pages": [
        {"key": "first", "title": "申請する人", "fields": ["name", "address", "members"]},
        {"key": "second", "title": "連絡先", "fields": ["phone"]},
    ],
}


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def resident(request, browser, browser_context_args):
    context = browser.new_context(**browser_context_args, java_script_enabled=request.param)
    yield context.new_page()
    context.close()


def url_of(procedure, live_server) -> str:
    return f"{live_server.url}/{procedure.organization.code}/procedures/{procedure.pk}/"


def test_enter_on_the_form_goes_to_the_confirmation_page(tottori, live_server, resident):
    procedure = make_procedure(tottori, SCHEMA, title="転入の届出", kind="application", draft_days=7)
    resident.goto(url_of(procedure, live_server))
    expect(resident.get_by_role("button", name="一時保存する")).to_be_visible()
    resident.get_by_label("姓", exact=True).fill("鳥取")
    resident.get_by_label("名", exact=True).fill("花子")
    resident.get_by_label("電話番号").fill("0857-26-7111")
    resident.get_by_label("電話番号").press("Enter")
    expect(resident).to_have_url(re.compile(r"/confirm/$"))
    expect(resident.locator("html")).to_have_attribute("lang", "ja")
    expect(resident.locator("body")).to_contain_text("0857-26-7111")


def test_enter_on_a_page_of_a_paged_form_goes_to_the_next_page(tottori, live_server, resident):
    procedure = make_procedure(tottori, PAGED, title="ページのある届出", kind="application")
    resident.goto(url_of(procedure, live_server))
    resident.get_by_label("姓", exact=True).fill("鳥取")
    resident.get_by_label("名", exact=True).fill("花子")
    resident.get_by_label("名", exact=True).press("Enter")
    expect(resident).to_have_url(re.compile(r"\?page=second$"))
    expect(resident.get_by_label("電話番号")).to_be_visible()
    expect(resident.locator("html")).to_have_attribute("lang", "ja")
    assert resident.locator("[name=members__count]").count() == 0  # no 世帯員 added on the way


def test_enter_in_the_postal_code_box_does_not_look_up_but_goes_on(tottori, live_server, resident):
    procedure = make_procedure(tottori, SCHEMA, title="転入の届出", kind="application")
    resident.goto(url_of(procedure, live_server))
    resident.get_by_label("姓", exact=True).fill("鳥取")
    resident.get_by_label("名", exact=True).fill("花子")
    resident.get_by_label("電話番号").fill("0857-26-7111")
    resident.get_by_label("住所", exact=True).fill("鳥取県鳥取市東町1丁目220")
    resident.get_by_label("郵便番号（ハイフンはあってもなくても構いません）").fill("680-8570")
    resident.get_by_label("郵便番号（ハイフンはあってもなくても構いません）").press("Enter")
    expect(resident).to_have_url(re.compile(r"/confirm/$"))


def returned_application(tottori):
    procedure = make_procedure(tottori, SCHEMA, title="転入の届出", kind="application")
    answers = {"name": {"family": "鳥取", "given": "花子"}, "phone": "0857-26-7111"}
    result = services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=answers,
        staged_files={},
        token="enter-key",
        applicant_email="",
    )
    submission = result.submission
    services.transition(
        submission=submission, to_status="returned", actor=None, reason="電話番号をご確認ください"
    )
    return submission, format_inquiry_code(result.inquiry_code)


def test_enter_looks_up_the_status_and_enter_in_a_correction_goes_to_its_confirmation(
    tottori, live_server, resident
):
    submission, inquiry = returned_application(tottori)
    resident.goto(f"{live_server.url}/status/")
    resident.get_by_label("受付番号").fill(submission.display_receipt_number)
    resident.get_by_label("問い合わせ番号").fill(inquiry)
    resident.get_by_label("問い合わせ番号").press("Enter")
    expect(resident.get_by_test_id("status")).to_have_text("返却中")
    resident.get_by_role("link", name="内容を修正する").click()
    resident.get_by_label("電話番号").fill("090-1234-5678")
    resident.get_by_label("電話番号").press("Enter")
    expect(resident.locator("body")).to_contain_text("090-1234-5678")
    expect(resident.get_by_role("button", name="この内容で再提出する")).to_be_visible()
    expect(resident.locator("html")).to_have_attribute("lang", "ja")


def test_enter_on_staff_forms_presses_their_main_action(live_server, browser, browser_context_args):
    call_command("load_demo", verbosity=0)
    procedure = Procedure.objects.get(kind="signup")
    page = staff_login(browser.new_context(**browser_context_args), live_server, "tottori-staff")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    result = services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers=DEMO_ANSWERS,
        staged_files={},
        token="enter-key-staff",
        applicant_email=DEMO_ANSWERS["email"],
    )
    receipt = result.submission.display_receipt_number
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/")
    page.get_by_label("受付番号").fill(receipt.replace("-", ""))
    page.get_by_label("受付番号").press("Enter")
    expect(page.get_by_role("link", name=receipt)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def test_enter_on_the_builder_s_field_form_saves_it(live_server, browser, browser_context_args):
    call_command("load_demo", verbosity=0)
    procedure = Procedure.objects.get(kind="signup")
    page = staff_login(browser.new_context(**browser_context_args), live_server, "tottori-admin")
    key = next(
        f.key
        for f in procedure.current_version.spec.fields
        if f.type in ("short_text", "phone", "email", "furigana")
    )
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/build/fields/{key}/")
    page.get_by_label("項目名（質問文）").fill("お名前")
    page.get_by_label("項目名（質問文）").press("Enter")
    expect(page).not_to_have_url(re.compile(r"/fields/"))
    procedure.refresh_from_db()
    assert next(f for f in procedure.draft_schema["fields"] if f["key"] == key)["label"] == "お名前"
