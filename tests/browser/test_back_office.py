"""A clerk's day in the back office, at phone width and at desk width: a resident phones, the clerk finds her
case by typing her name's reading in katakana (she wrote it in hiragana), decides it after the confirmation
step, an admin takes the decision back with a reason, and the case is printed for 決裁 as a PDF."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from tests.browser.test_resident_and_staff import axe_violations, staff_login
from tests.test_paper import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESIDENT = {
    "name": {"family": "鳥取", "given": "花子"},
    "furigana": "とっとり\u3000はなこ",
    "phone": "0857-20-3111",
    "email": "hanako@example.jp",
    "session": "12月10日（木）午前",
    "own_phone": "持っている",
    "agree": True,
}
OTHER = {**RESIDENT, "name": {"family": "米子", "given": "次郎"}, "furigana": "よなご\u3000じろう"}


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 640}, {"width": 1280, "height": 800}])
def test_a_clerk_finds_a_case_by_its_kana_in_the_other_script_decides_it_reopens_it_and_prints_it(
    transactional_db, live_server, browser, browser_context_args, viewport
):
    call_command("load_demo", verbosity=0)
    procedure = Procedure.objects.get(kind="signup", organization__code="312011")
    for token, answers in (("phone-call", RESIDENT), ("someone-else", OTHER)):
        result = services.submit(
            procedure=procedure,
            version=procedure.current_version,
            answers=answers,
            staged_files={},
            token=token,
            applicant_email=answers["email"],
        )
        if token == "phone-call":
            hanako = result.submission
    receipt = hanako.display_receipt_number

    context = browser.new_context(**{**browser_context_args, "viewport": viewport})
    context.set_default_timeout(20_000)
    page = staff_login(context, live_server, "tottori-admin")
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/")
    # She wrote とっとり はなこ; the clerk types the reading in half-width katakana, without the space.
    page.get_by_label("検索（氏名・ふりがな・電話番号・メールアドレス・回答の語句）").fill("ﾄｯﾄﾘﾊﾅｺ")
    page.get_by_role("button", name="検索・絞り込み").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("鳥取 花子")
    assert "ﾄｯﾄﾘ" not in page.url and "%EF%BE" not in page.url  # the words stay out of the URL
    assert axe_violations(page) == []
    page.get_by_role("link", name=receipt).click()

    # Deciding asks first, on its own page.
    page.get_by_label("受け付ける（受付済みにする）").check()
    page.get_by_label("理由・申請者へのお知らせ").fill("参加を受け付けました。")
    page.get_by_role("button", name="変更する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("「受付済み」にしてよいですか")
    page.get_by_role("button", name="確定して「受付済み」にする").click()
    expect(page.get_by_test_id("status")).to_have_text("受付済み")

    # Taken back by the admin, with a reason the resident will read.
    page.get_by_label("戻す理由").fill("日程の確認が必要なため、改めて処理します。")
    page.get_by_role("button", name="処理中に戻す").click()
    expect(page.get_by_test_id("status")).to_have_text("処理中")
    assert axe_violations(page) == []

    with page.expect_download() as caught:
        page.get_by_test_id("case-pdf").click()
    download = caught.value
    assert download.suggested_filename == f"決裁用_{receipt}.pdf"
    text = pdf_text(open(download.path(), "rb").read())
    assert "鳥取" in text and "花子" in text and receipt in text
    assert "日程の確認が必要なため" in text  # the reopening is in the printed history
    context.close()
