"""End to end in Debian's chromium at a phone-sized viewport.

The resident submits the demo sign-up with JavaScript switched off; a staff member processes it and
exports CSV in both encodings and an Excel file made by the worker, and the files are read back with
the applicant's name intact.
"""

import csv
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.organizations.management.commands.load_demo import DEMO_PASSWORD
from tests.browser.conftest import pass_second_factor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def excel_text(cell: str) -> str:
    """What Excel shows for a cell written as ="…" (kept as text)."""
    return cell[2:-1] if cell.startswith('="') and cell.endswith('"') else cell


def axe_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def staff_login(context, live_server, username: str):
    page = context.new_page()
    page.goto(f"{live_server.url}/staff/")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_factor(page, username)
    return page


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", verbosity=0)


def test_resident_signs_up_and_staff_processes_and_exports(
    demo, live_server, browser, browser_context_args, monkeypatch
):
    resident = browser.new_context(**browser_context_args, java_script_enabled=False)
    page = resident.new_page()
    page.goto(f"{live_server.url}/312011/")
    page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("シニア向けスマートフォン教室 参加申込")

    # First try with a mistake: the page explains it in Japanese and keeps what was typed.
    page.get_by_label("姓").fill("髙橋")
    page.get_by_label("名", exact=True).fill("﨑子")
    page.get_by_label("ふりがな").fill("タカハシ　サキコ")
    page.get_by_label("電話番号").fill("0857-20-311")
    page.get_by_label("メールアドレス").fill("ｓａｋｉｋｏ＠example.jp")
    page.get_by_label("12月10日（木）午前").check()
    page.get_by_label("持っている").check()
    page.get_by_label("参加にあたっての注意事項に同意します").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("alert")).to_contain_text("入力内容を確認してください（1件）")
    expect(page.get_by_label("姓")).to_have_value("髙橋")

    page.get_by_label("電話番号").fill("０８５７－２０－３１１１")
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    # Back from the 確認画面 shows the form with the corrected answer, not a "resend?" page.
    page.go_back()
    expect(page.get_by_label("電話番号")).to_have_value("０８５７－２０－３１１１")
    expect(page.get_by_role("alert")).to_have_count(0)
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    expect(page.locator("dl.answers")).to_contain_text("髙橋\u3000﨑子")
    expect(page.locator("dl.answers")).to_contain_text("たかはし\u3000さきこ")
    expect(page.locator("dl.answers")).to_contain_text("0857-20-3111")
    page.get_by_role("button", name="この内容で申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申込みを受け付けました")
    receipt = page.get_by_test_id("receipt-number").inner_text()
    assert re.fullmatch(r"\d{4}-\d{4}-\d{2}", receipt)
    page.screenshot(path=str(pytest_screenshot_dir() / "resident-done.png"), full_page=True)
    # Back and submit again: the same receipt number, not a second application.
    page.go_back()
    expect(page.get_by_test_id("receipt-number")).to_have_text(receipt)
    resident.close()

    staff = browser.new_context(**browser_context_args)
    page = staff_login(staff, live_server, "tottori-staff")
    page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込").click()
    expect(page.get_by_role("link", name="すべて 1件")).to_be_visible()
    page.get_by_role("link", name=receipt).click()
    expect(page.locator("dl.answers")).to_contain_text("髙橋\u3000﨑子")
    page.get_by_label("処理を開始する（処理中にする）").check()
    page.get_by_role("button", name="変更する").click()
    expect(page.get_by_test_id("status")).to_have_text("処理中")
    # A sign-up is accepted (受付済み), after a confirmation page that needs no JavaScript.
    page.get_by_label("受け付ける（受付済みにする）").check()
    page.get_by_label("理由・申請者へのお知らせ").fill("参加を受け付けました。当日お待ちしています。")
    page.get_by_role("button", name="変更する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("「受付済み」にしてよいですか")
    page.get_by_role("button", name="確定して「受付済み」にする").click()
    expect(page.get_by_test_id("status")).to_have_text("受付済み")
    assert axe_violations(page) == []

    page.get_by_role("link", name="シニア向けスマートフォン教室 参加申込").click()
    page.get_by_role("link", name="CSV・Excelに出力する").click()
    files = {}
    for label, encoding in (("CSV（UTF-8・BOM付き）", "utf-8-sig"), ("CSV（Shift_JIS）", "cp932")):
        with page.expect_download() as download:
            page.get_by_role("link", name=label, exact=True).click()
        data = open(download.value.path(), "rb").read()
        files[encoding] = list(csv.DictReader(io.StringIO(data.decode(encoding))))
    assert data[:3] != b"\xef\xbb\xbf"  # the Shift_JIS file has no BOM
    for rows in files.values():
        assert len(rows) == 1
        assert rows[0]["氏名（姓）"] == "髙橋" and rows[0]["氏名（名）"] == "﨑子"
        assert (
            excel_text(rows[0]["受付番号"]) == receipt and rows[0]["状態"] == "受付済み"
        )  # a sign-up's word

    # Too many rows for an Excel file built while the page waits: the worker makes it, staff download it.
    from openpyxl import load_workbook

    from madoguchi.submissions import exports
    from madoguchi.submissions.models import ExportFile
    from madoguchi.submissions.tasks import build_export_file

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS_IN_REQUEST", 0)
    page.reload()
    page.get_by_role("button", name="Excelファイル（.xlsx）を作成する").click()
    expect(page.get_by_test_id("export-file-status")).to_have_text("作成待ち")
    assert axe_violations(page) == []
    assert build_export_file.call(ExportFile.objects.get().pk) == "done"  # what the worker does
    page.get_by_role("link", name="この一覧を更新する").click()
    expect(page.get_by_test_id("export-file-status")).to_have_text("作成済み")
    with page.expect_download() as download:
        page.get_by_role("link", name="ダウンロード（.xlsx、1件）").click()
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    header, row = ([c.value for c in r] for r in sheet.iter_rows(max_row=2))
    assert row[header.index("氏名（姓）")] == "髙橋" and row[header.index("受付番号")] == receipt
    staff.close()


def test_resident_pages_pass_axe(demo, live_server, page):
    """axe-core needs JavaScript, so the accessibility check runs in a normal context."""
    page.goto(f"{live_server.url}/")
    assert axe_violations(page) == []
    page.get_by_role("link", name="鳥取市").click()
    assert axe_violations(page) == []
    page.get_by_role("link", name="住民票の写しの郵送請求").click()
    assert axe_violations(page) == []
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("alert").first).to_contain_text("入力内容を確認してください")
    assert axe_violations(page) == []
    # A photo over the limit is refused on the phone itself, before a long upload.
    big = {
        "name": "免許証.jpg",
        "mimeType": "image/jpeg",
        "buffer": b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024),
    }
    page.get_by_label("本人確認書類の写し").set_input_files(big)
    expect(page.locator("#id_document-too-large")).to_contain_text("10MBまでのファイルを選んでください")
    assert page.get_by_label("本人確認書類の写し").evaluate("input => input.files.length") == 0
    page.goto(f"{live_server.url}/status/")
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/staff/login/")
    assert axe_violations(page) == []
    # The same pages in English, chosen with the switcher in the header.
    page.goto(f"{live_server.url}/312011/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert axe_violations(page) == []
    page.get_by_role("link", name="住民票の写しの郵送請求").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(page) == []


def pytest_screenshot_dir():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "test-results"
    path.mkdir(exist_ok=True)
    return path
