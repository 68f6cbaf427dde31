"""JIS X 8341-3:2016 AA (WCAG 2.x A and AA): axe-core finds no violation on any page type of residents or
staff, at a phone's width (360 × 640) and at a desk's (1280 × 800).

One browser, one database set up once per width, the pages loaded in sequence; every page's violations are
gathered and shown together, so a failure lists all of them at once.
"""

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from madoguchi.lib.receipt import format_inquiry_code
from madoguchi.notifications import services as notifications
from madoguchi.organizations.management.commands.load_demo import DEMO_PASSWORD
from madoguchi.organizations.models import Organization
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from tests.browser.conftest import pass_second_factor
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"phone": {"width": 360, "height": 640}, "desk": {"width": 1280, "height": 800}}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}

PAGED_SCHEMA = {
    "email_field": "email",
    "pages": [
        {"key": "who", "title": "申請する人", "fields": ["name", "email"]},
        {"key": "what", "title": "内容", "fields": ["note", "count"]},
    ],
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "note", "type": "long_text", "label": "ご意見", "required": True},
        {"key": "count", "type": "number", "label": "人数"},
    ],
}  # fmt: skip

SIGNUP_ANSWERS = {
    "name": {"family": "髙橋", "given": "﨑子"},
    "furigana": "たかはし\u3000さきこ",
    "phone": "0857-20-3111",
    "email": "sakiko@example.jp",
    "session": "12月10日（木）午前",
    "own_phone": "持っている",
    "agree": True,
}


def axe_violations(page) -> list[str]:
    """Each violation as 'rule: help (first targets)'; [] when the page passes."""
    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
    ]


def seed() -> dict:
    """The demo data, plus procedures of every shape and two submissions: one returned with a message
    (the resident's status page and 補正), one waiting (staff's case page)."""
    call_command("load_demo", verbosity=0)
    tottori = Organization.objects.get(code="312011")
    signup = Procedure.objects.get(kind="signup", organization=tottori)
    all_types = make_procedure(tottori, ALL_TYPES_SCHEMA, title="すべての項目の手続", kind="application")
    paged = make_procedure(tottori, PAGED_SCHEMA, title="ページのある手続", kind="application")
    closed = make_procedure(tottori, title="受付を終えた講座", closes_at=timezone.now() - timedelta(days=1))

    def submit(token):
        return services.submit(
            procedure=signup,
            version=signup.current_version,
            answers=SIGNUP_ANSWERS,
            staged_files={},
            token=token,
            applicant_email=SIGNUP_ANSWERS["email"],
        )

    returned = submit("a11y-returned")
    staff = tottori.memberships.get(user__username="tottori-admin").user
    services.transition(
        submission=returned.submission,
        to_status="returned",
        actor=staff,
        reason="電話番号がつながりませんでした。ご確認ください。",
    )
    notifications.send_message(
        submission=returned.submission, author=staff, body="ご不明な点はお電話ください。"
    )
    waiting = submit("a11y-waiting").submission
    return {
        "signup": signup,
        "all_types": all_types,
        "paged": paged,
        "closed": closed,
        "receipt": returned.submission.display_receipt_number,
        "inquiry_code": format_inquiry_code(returned.inquiry_code),
        "waiting": waiting,
        "survey": Procedure.objects.get(kind="survey"),
    }


def login(context, base: str, username: str):
    page = context.new_page()
    page.goto(f"{base}/staff/login/")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if "/staff/login/code/" in page.url:  # an admin: the code page is checked too
        if violations := axe_violations(page):
            raise AssertionError(f"code page: {violations}")
        pass_second_factor(page, username)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


def follow(page, pattern: str) -> None:
    """Go to the first link of the page whose address matches `pattern` (a regular expression)."""
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    href = next((h for h in hrefs if re.search(pattern, h)), None)
    assert href is not None, f"no link matching {pattern} on {page.url}"
    page.goto(re.match(r"https?://[^/]+", page.url).group(0) + href if href.startswith("/") else href)


def resident_pages(base: str, data: dict):
    """(name, how to get there) for every resident page type, in an order that works as a sequence."""
    signup, all_types, paged = data["signup"], data["all_types"], data["paged"]

    def form(procedure):
        return f"{base}/{procedure.organization.code}/procedures/{procedure.pk}/"

    def fill_signup(page):
        page.goto(form(signup))
        page.get_by_label("姓").fill("髙橋")
        page.get_by_label("名", exact=True).fill("﨑子")
        page.get_by_label("ふりがな").fill("たかはし さきこ")
        page.get_by_label("電話番号").fill("0857-20-3111")
        page.get_by_label("メールアドレス").fill("sakiko@example.jp")
        page.get_by_label("12月10日（木）午前").check()
        page.get_by_label("持っている").check()
        page.get_by_label("参加にあたっての注意事項に同意します").check()
        page.get_by_role("button", name="入力内容を確認する").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")

    def done(page):
        page.get_by_role("button", name="この内容で申し込む").click()
        expect(page.get_by_test_id("receipt-number")).to_be_visible()

    def form_errors(page):
        page.goto(form(all_types))
        page.locator("form button[type=submit].button-primary").last.click()
        expect(page.get_by_role("alert").first).to_be_visible()

    def paged_second(page):
        page.goto(form(paged))
        page.get_by_label("姓").fill("髙橋")
        page.get_by_label("名", exact=True).fill("﨑子")
        page.get_by_label("メールアドレス").fill("sakiko@example.jp")
        page.locator("form button[type=submit].button-primary").last.click()
        expect(page.get_by_label("ご意見")).to_be_visible()

    def status_view(page):
        page.goto(f"{base}/status/")
        page.get_by_label("受付番号").fill(data["receipt"])
        page.get_by_label("問い合わせ番号").fill(data["inquiry_code"])
        page.get_by_role("button", name="確認する").click()
        expect(page.get_by_test_id("status")).to_be_visible()

    def correction(page):
        page.get_by_role("link", name="内容を修正する").click()
        expect(page.get_by_label("姓")).to_have_value("髙橋")

    return [
        ("home", lambda page: page.goto(f"{base}/")),
        ("search results", lambda page: page.goto(f"{base}/?q=じゅうみんひょう")),
        ("search, nothing found", lambda page: page.goto(f"{base}/?q=存在しない手続")),
        ("organization", lambda page: page.goto(f"{base}/312011/")),
        ("form, every field type", lambda page: page.goto(form(all_types))),
        ("form, errors shown", form_errors),
        ("multi-page form, page 1", lambda page: page.goto(form(paged))),
        ("multi-page form, page 2", paged_second),
        ("確認画面", fill_signup),
        ("done", done),
        ("closed", lambda page: page.goto(form(data["closed"]))),
        ("status look-up", lambda page: page.goto(f"{base}/status/")),
        ("status view, history and messages", status_view),
        ("補正", correction),
        ("lost inquiry code", lambda page: page.goto(f"{base}/status/forgot/")),
        ("404", lambda page: page.goto(f"{base}/312011/procedures/999999/")),
        ("accessibility statement", lambda page: page.goto(f"{base}/accessibility/")),
        ("terms", lambda page: page.goto(f"{base}/terms/")),
        ("privacy", lambda page: page.goto(f"{base}/privacy/")),
        ("contact", lambda page: page.goto(f"{base}/312011/contact/")),
        ("staff login", lambda page: page.goto(f"{base}/staff/login/")),
        ("password reset", lambda page: page.goto(f"{base}/staff/password/forgot/")),
    ]


def staff_pages(base: str, data: dict):
    signup, all_types, paged, waiting = data["signup"], data["all_types"], data["paged"], data["waiting"]
    s = f"{base}/staff"

    def transition_confirm(page):
        page.goto(f"{s}/submissions/{waiting.pk}/")
        page.get_by_label("受け付ける（受付済みにする）").check()
        page.get_by_role("button", name="変更する").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("よいですか")

    def disclosure_found(page):
        page.goto(f"{s}/organizations/312011/privacy/")
        page.get_by_label("受付番号またはメールアドレス").fill(waiting.display_receipt_number)
        page.get_by_role("button", name="検索する").click()
        expect(page.get_by_role("button", name="開示データ（JSON）をダウンロード")).to_be_visible()

    def two_factor_new_phone(page):
        page.goto(f"{s}/account/two-factor/")
        page.get_by_role("button", name="別のスマートフォンに設定し直す").click()
        expect(page.locator("main svg")).to_be_visible()

    def links_error(page):
        page.goto(f"{s}/organizations/312011/links/")
        page.get_by_label("利用規約のページ").fill("http://example.jp/")
        page.get_by_role("button", name="保存する").click()
        expect(page.get_by_role("alert")).to_be_visible()

    def department_error(page):
        page.goto(f"{s}/organizations/312011/departments/")
        page.get_by_role("button", name="追加する").click()
        expect(page.get_by_role("alert")).to_be_visible()

    def go(path):
        return lambda page: page.goto(f"{s}{path}")

    def via(path, pattern):
        def visit(page):
            page.goto(f"{s}{path}")
            follow(page, pattern)

        return visit

    return [
        ("home", go("/")),
        ("inbox", go(f"/procedures/{signup.pk}/")),
        ("case detail", go(f"/submissions/{waiting.pk}/")),
        ("status change, confirmation", transition_confirm),
        ("export", go(f"/procedures/{signup.pk}/export/")),
        ("tally", go(f"/procedures/{signup.pk}/tally/")),
        ("counts", go("/organizations/312011/counts/")),
        ("indicators", go("/organizations/312011/indicators/")),
        ("new indicator", go("/organizations/312011/indicators/new/")),
        ("builder", go(f"/procedures/{all_types.pk}/build/")),
        ("builder settings", go(f"/procedures/{all_types.pk}/build/settings/")),
        ("builder, new field", go(f"/procedures/{all_types.pk}/build/fields/new/")),
        ("builder, field edit", go(f"/procedures/{all_types.pk}/build/fields/topics/")),
        ("builder pages", go(f"/procedures/{paged.pk}/build/pages/")),
        ("builder, page edit", go(f"/procedures/{paged.pk}/build/pages/who/")),
        ("builder preview", go(f"/procedures/{all_types.pk}/build/preview/")),
        ("versions", go(f"/procedures/{all_types.pk}/versions/")),
        ("e-mail texts", go(f"/procedures/{signup.pk}/emails/")),
        ("e-mail text", go(f"/procedures/{signup.pk}/emails/returned/")),
        ("templates", go("/templates/")),
        ("template", via("/templates/", r"^/staff/templates/\d+/$")),
        ("staff accounts", go("/organizations/312011/staff/")),
        ("staff member", via("/organizations/312011/staff/", r"^/staff/organizations/312011/staff/\d+/$")),
        ("invitation", go("/organizations/312011/staff/invite/")),
        ("departments", go("/organizations/312011/departments/")),
        ("department", via("/organizations/312011/departments/", r"/departments/\d+/$")),
        ("footer links", go("/organizations/312011/links/")),
        ("footer links, errors shown", links_error),
        ("2段階認証", go("/account/two-factor/")),
        ("保有個人情報の開示", go("/organizations/312011/privacy/")),
        ("保有個人情報の開示, found", disclosure_found),
        ("個人情報ファイル簿", go("/organizations/312011/privacy/register/")),
        ("2段階認証, setting up another phone", two_factor_new_phone),
        ("departments, errors shown", department_error),
        ("audit", go("/organizations/312011/audit/")),
        ("failed e-mails", go("/organizations/312011/emails/failed/")),
        ("my logins", go("/account/sessions/")),
        ("disposal lists", go("/organizations/312011/disposals/")),
        ("404", go("/procedures/999999/")),
    ]


def council_pages(base: str, council_id: int):
    c = f"{base}/staff/councils/{council_id}"

    def via(path, pattern):
        def visit(page):
            page.goto(f"{c}{path}")
            follow(page, pattern)

        return visit

    return [
        ("council", lambda page: page.goto(f"{c}/")),
        ("council, member counts", lambda page: page.goto(f"{c}/members/312011/")),
        ("council indicators", lambda page: page.goto(f"{c}/indicators/")),
        ("indicator", via("/indicators/", r"^/staff/indicators/\d+/$")),
        ("cost shares", lambda page: page.goto(f"{c}/cost-shares/")),
        ("cost share of a year", via("/cost-shares/", r"/cost-shares/\d+/\d+/$")),
        ("populations", lambda page: page.goto(f"{c}/populations/")),
        ("search synonyms", lambda page: page.goto(f"{c}/synonyms/")),
    ]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_type_passes_axe(transactional_db, live_server, browser, browser_context_args, width):
    from madoguchi.organizations.models import Council

    data = seed()
    base = live_server.url
    context_args = {**browser_context_args, "viewport": WIDTHS[width]}
    if width == "desk":
        context_args.update(is_mobile=False, has_touch=False, device_scale_factor=1)
    found: dict[str, list[str]] = {}

    def check(page, who: str, pages) -> None:
        for name, visit in pages:
            visit(page)
            if violations := axe_violations(page):
                found[f"{who}: {name} ({page.url})"] = violations

    resident = browser.new_context(**context_args)
    check(resident.new_page(), "resident", resident_pages(base, data))
    resident.close()

    staff = browser.new_context(**context_args)
    check(login(staff, base, "tottori-admin"), "staff", staff_pages(base, data))
    staff.close()

    secretariat = browser.new_context(**context_args)
    page = login(secretariat, base, "council")
    council = Council.objects.get()
    survey_tally = ("survey tally", lambda p: p.goto(f"{base}/staff/procedures/{data['survey'].pk}/tally/"))
    check(page, "secretariat", council_pages(base, council.pk))
    secretariat.close()

    prefecture = browser.new_context(**context_args)
    check(login(prefecture, base, "pref-admin"), "prefecture", [survey_tally])
    prefecture.close()

    assert found == {}, "\n".join(f"{page}\n  " + "\n  ".join(v) for page, v in found.items())
