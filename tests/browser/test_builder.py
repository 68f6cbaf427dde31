"""The builder in Debian's chromium, tried as a new member of staff would.

An editor of 若桜町, a town with no procedures yet, copies a template from the council's library, renames
it, changes one option, adds a rule (the allergy question only for those tasting the emergency food) and
publishes it, counting every click and every input typed in (19 of the 25 allowed); a resident then applies
on a small phone with JavaScript on (the question hides and shows) and again with it off (the question is
explained, and its answer is not stored). Every builder page passes axe at phone
and desktop width, the field controls work from the keyboard, and unsaved edits are never lost silently.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from madoguchi.accounts.models import Role
from madoguchi.organizations.models import CouncilMembership, Organization
from madoguchi.procedures import services
from madoguchi.procedures.library import load_library
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Submission
from tests.conftest import PASSWORD, make_procedure, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "総合防災訓練の参加申込み"  # a template of the bundled library
NEW_TITLE = "若桜町総合防災訓練の参加申込み"
OLD_OPTION = "自家用車（駐車場に限りがあります）"
ALLERGY = "食物アレルギー（非常食を試食する場合）"
NEW_OPTION = "自家用車（若桜町役場の駐車場をご利用ください）"
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "is_mobile": False, "has_touch": False}

AXE = Axe()


# Setup through the real services -------------------------------------------------------------------


@pytest.fixture
def wakasa(council, pref):
    """若桜町: a member of the council that has never used the system (no procedures, no 所属)."""
    town = Organization.objects.create(
        code="313254", kind="municipality", name="若桜町", name_kana="ワカサチョウ", prefecture=pref
    )
    CouncilMembership.objects.create(council=council, organization=town)
    return town


@pytest.fixture
def library(council):
    return load_library(council=council)


@pytest.fixture
def wakasa_editor(wakasa):
    return make_user("wakasa-editor", wakasa, Role.EDITOR)


def signed_in(browser, live_server, user, **context_args):
    """A page of a new browser context whose session belongs to `user` (the login page is tested below)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**context_args)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context.new_page()


# What a person does ---------------------------------------------------------------------------------


class Actions:
    """Counts what a person does: each click, each input filled in, each choice in a select is one action.
    Pages loaded by following a link or a form are not counted again."""

    def __init__(self):
        self.done: list[str] = []

    def click(self, locator):
        self._note("click", locator)
        locator.click()

    def fill(self, locator, value: str):
        self._note("fill", locator)
        locator.fill(value)

    def select(self, locator, label: str):
        self._note("select", locator)
        locator.select_option(label=label)

    def _note(self, what: str, locator):
        self.done.append(f"{what} {str(locator).split('selector=')[-1].rstrip('>')}")

    @property
    def count(self) -> int:
        return len(self.done)


def of_field(action: str, label: str) -> re.Pattern:
    """A field's button or link: 「編集」 and the field's label (read out, not shown)."""
    return re.compile(rf"^{action}\s*：{re.escape(label)}$")


def apply_as_resident(page, live_server, *, javascript: bool) -> str:
    """Fill in the published form on the town's page, check the 確認画面, submit; the 受付番号."""
    page.goto(f"{live_server.url}/313254/")
    page.get_by_role("link", name=NEW_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(NEW_TITLE)
    page.get_by_label("姓").fill("若桜")
    page.get_by_label("名", exact=True).fill("花子")
    page.get_by_label("ふりがな").fill("わかさ　はなこ")
    page.get_by_label("年代").select_option(label="30代")
    page.get_by_label(re.compile("^郵便番号")).fill("680-0792")
    page.get_by_label("住所", exact=True).fill("鳥取県八頭郡若桜町大字若桜801番地5")
    page.get_by_label("電話番号").fill("0858-82-2211")
    page.get_by_label("メールアドレス").fill("hanako@example.jp")
    allergy = page.locator("#field-allergies")
    if javascript:
        expect(allergy).to_be_hidden()  # shown only to those who will taste the emergency food
        page.get_by_label("非常食の試食").check()
        expect(allergy).to_be_visible()
        page.get_by_label("非常食の試食").uncheck()
        expect(allergy).to_be_hidden()
    else:
        expect(allergy).to_contain_text("「体験したいこと」に次を含む：非常食の試食 の場合にお答えください。")
        page.get_by_label(ALLERGY).fill("そば（送っても保存されない）")
    page.get_by_label(NEW_OPTION).check()
    page.get_by_label("天候などにより内容を変えたり中止したりすることがあることを了承します").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    expect(page.locator("dl.answers")).to_contain_text(NEW_OPTION)
    expect(page.locator("dl.answers")).to_contain_text("若桜\u3000花子")
    expect(page.locator("dl.answers")).not_to_contain_text(ALLERGY)  # not asked: not shown, not stored
    page.get_by_role("button", name="この内容で申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申込みを受け付けました")
    receipt = page.get_by_test_id("receipt-number").inner_text()
    assert re.fullmatch(r"\d{4}-\d{4}-\d{2}", receipt)
    return receipt


def test_a_new_town_copies_a_template_publishes_it_and_a_resident_applies(
    wakasa_editor, library, live_server, browser, browser_context_args
):
    staff = browser.new_context(**{**browser_context_args, **DESKTOP})
    page = staff.new_page()
    page.set_default_timeout(5000)
    me = Actions()
    page.goto(f"{live_server.url}/staff/")
    me.fill(page.get_by_label("ユーザー名"), "wakasa-editor")
    me.fill(page.get_by_label("パスワード"), PASSWORD)
    me.click(page.get_by_role("button", name="ログイン"))
    expect(page.get_by_text("手続はまだありません。")).to_be_visible()

    me.click(page.get_by_role("link", name="ひな形から作る"))
    me.fill(page.get_by_label("ことばで探す"), "防災訓練")
    me.click(page.get_by_role("button", name="探す"))
    me.click(page.get_by_test_id("template-list").get_by_role("link", name=TITLE))
    me.click(page.get_by_role("button", name="このひな形をコピーする"))
    expect(page.get_by_role("heading", level=1)).to_have_text("手続の設定")
    expect(page.get_by_role("status")).to_have_text(re.compile("ひな形をコピーしました"))

    me.fill(page.get_by_label(re.compile(r"^手続名\s*必須")), NEW_TITLE)
    me.click(page.get_by_role("button", name="設定を保存する"))
    expect(page.get_by_role("heading", level=1)).to_have_text(NEW_TITLE)

    me.click(page.get_by_role("link", name=of_field("編集", "会場までの交通手段")))
    options = page.get_by_label("選択肢（1行に1つ）")
    me.fill(options, options.input_value().replace(OLD_OPTION, NEW_OPTION))
    me.click(page.get_by_role("button", name="保存する"))
    expect(page.get_by_role("status")).to_have_text("項目「会場までの交通手段」を保存しました。")
    expect(page.get_by_text(f"選択肢：徒歩、自転車、{NEW_OPTION}、その他")).to_be_visible()

    # A rule: the allergy question only for those who will taste the emergency food.
    me.click(page.get_by_role("link", name=of_field("編集", ALLERGY)))
    me.select(page.get_by_label("条件1：項目"), "体験したいこと")
    me.select(page.get_by_label("条件1：答えが"), "に次を含む")
    me.fill(page.get_by_label("条件1：値"), "非常食の試食")
    me.click(page.get_by_role("button", name="保存する"))
    expect(page.get_by_role("status")).to_have_text(f"項目「{ALLERGY}」を保存しました。")

    me.click(page.get_by_role("button", name="公開する", exact=True))
    expect(page.get_by_role("status")).to_contain_text("第1版として公開しました")
    expect(page.get_by_test_id("procedure-status")).to_have_text("公開中")
    print(f"staff actions: {me.count}", *me.done, sep="\n  ")
    assert me.count <= 25, me.done
    staff.close()

    receipts = set()
    for javascript in (True, False):
        resident = browser.new_context(**browser_context_args, java_script_enabled=javascript)
        receipts.add(apply_as_resident(resident.new_page(), live_server, javascript=javascript))
        resident.close()
    assert len(receipts) == 2
    for submission in Submission.objects.filter(procedure__title=NEW_TITLE):
        assert "allergies" not in read_answers(submission)  # the question the rule did not ask


# axe on every builder page, at 360 px and at 1280 px ------------------------------------------------

CHOICE_AND_FILE_SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "venue", "type": "single_choice", "label": "参加する会場", "required": True,
         "options": ["若桜小学校", "池田地区公民館"]},
        {"key": "photo", "type": "file", "label": "写真", "allowed_types": ["jpg", "png"], "max_size_mb": 5},
        {"key": "agree", "type": "consent", "label": "注意事項に同意します", "required": True},
    ],
}  # fmt: skip


class AxeAtTwoWidths:
    """Runs axe on the page as it is, at phone width and at desktop width, and keeps what it finds.
    axe does not look inside the builder's preview frame: the preview page is checked on its own."""

    def __init__(self, page):
        self.page = page
        self.found: list[str] = []
        self.checked = 0

    def __call__(self, where: str):
        for width, height in ((360, 640), (1280, 800)):
            self.page.set_viewport_size({"width": width, "height": height})
            for v in AXE.run(self.page).response["violations"]:
                nodes = "; ".join(f"{n['target']} {n.get('failureSummary', '')}" for n in v["nodes"][:5])
                self.found.append(f"{where} at {width}px: {v['id']} ({v['impact']}): {v['help']}: {nodes}")
            self.checked += 1


def test_every_builder_page_passes_axe_at_phone_and_desktop_width(
    wakasa, wakasa_editor, pref, library, live_server, browser, browser_context_args
):
    procedure = make_procedure(wakasa, CHOICE_AND_FILE_SCHEMA, title="防災訓練の参加申込み")
    changed = {**CHOICE_AND_FILE_SCHEMA, "fields": CHOICE_AND_FILE_SCHEMA["fields"][:-1]}
    services.save_draft(procedure=procedure, schema=changed, actor=wakasa_editor, revision=None, change="t")
    services.publish(procedure=procedure, actor=wakasa_editor)  # 第2版, with a change from 第1版
    page = signed_in(browser, live_server, wakasa_editor, **browser_context_args)
    page.set_default_timeout(5000)
    check = AxeAtTwoWidths(page)
    staff = f"{live_server.url}/staff"
    build = f"{staff}/procedures/{procedure.pk}/build"

    page.goto(f"{build}/preview/")
    check("preview")

    # The builder with unpublished changes and the preview beside it; then with a field that has a problem.
    services.save_draft(
        procedure=procedure,
        schema={
            **changed,
            "fields": [*changed["fields"], {"key": "memo", "type": "long_text", "label": "連絡事項"}],
        },
        actor=wakasa_editor,
        revision=None,
        change="t",
    )
    page.goto(f"{build}/")
    page.locator("iframe").scroll_into_view_if_needed()  # loaded lazily, below the fields on a phone
    expect(page.frame_locator("iframe").get_by_label("連絡事項")).to_be_visible()
    check("builder page with the preview")
    # A field with a problem (as a file or an update can bring; the field form itself refuses it).
    broken = {"key": "area", "type": "dropdown", "label": "地区", "options": []}
    procedure.refresh_from_db()
    schema = services.draft_of(procedure)
    services.save_draft(
        procedure=procedure,
        schema={**schema, "fields": [*schema["fields"], broken]},
        actor=wakasa_editor,
        revision=None,
        change="t",
    )
    page.reload()
    expect(page.locator("#field-area")).to_contain_text("「地区」には選択肢が必要です")
    check("builder page with a problem")

    page.goto(f"{build}/fields/venue/")
    check("field edit page (single choice)")
    page.get_by_label("項目名（質問文）").fill("")
    page.get_by_label("選択肢（1行に1つ）").fill("若桜小学校\n若桜小学校")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("field edit page (single choice) with errors")

    page.goto(f"{build}/fields/photo/")
    check("field edit page (file)")
    page.get_by_label("JPG").uncheck()
    page.get_by_label("PNG").uncheck()
    page.get_by_label("1ファイルの上限（MB）").fill("500")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("field edit page (file) with errors")

    page.goto(f"{build}/settings/")
    check("settings page")
    page.get_by_label(re.compile(r"^手続名\s*必須")).fill("")
    page.get_by_label("新しい申請を知らせる職員のメールアドレス").fill("not-an-address")
    page.get_by_role("button", name="設定を保存する").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("settings page with errors")

    page.goto(f"{staff}/organizations/313254/procedures/new/")
    check("new procedure")
    page.get_by_role("button", name="作成して項目の追加へ進む").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("new procedure with errors")

    page.goto(f"{staff}/procedures/{procedure.pk}/versions/")
    check("version history")

    page.goto(f"{staff}/organizations/313254/procedures/import/")
    check("import page")
    page.get_by_label("手続の定義ファイル（.json）").set_input_files(
        {"name": "broken.json", "mimeType": "application/json", "buffer": b'{"format": "other"}'}
    )
    page.get_by_role("button", name="読み込む").click()
    expect(page.get_by_test_id("import-problems")).to_be_visible()
    check("import page with a bad file's problems")

    page.goto(f"{staff}/templates/?q=防災")
    check("template library")
    page.get_by_test_id("template-list").get_by_role("link", name=TITLE).click()
    check("template")

    page.goto(f"{staff}/procedures/{procedure.pk}/share/")
    check("share page")

    # The prefecture distributes a procedure to the town, then publishes a new version: an update to review.
    pref_editor = make_user("pref-editor", pref, Role.EDITOR)
    source = make_procedure(pref, CHOICE_AND_FILE_SCHEMA, title="県民防災アンケート")
    (copy,) = services.distribute(procedure=source, organizations=[wakasa], actor=pref_editor)
    services.save_draft(procedure=source, schema=changed, actor=pref_editor, revision=None, change="t")
    services.publish(procedure=source, actor=pref_editor)
    page.goto(f"{staff}/procedures/{copy.pk}/build/update/")
    check("update review page")
    page.context.close()

    page = signed_in(browser, live_server, pref_editor, **browser_context_args)
    check.page = page
    page.goto(f"{staff}/procedures/{source.pk}/distribute/")
    check("distribute page")
    page.get_by_role("button", name="配布する").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("distribute page with an error")
    page.context.close()

    print(*check.found, sep="\n")
    assert check.found == [], "\n".join(check.found)
    assert check.checked == 2 * 20


# The keyboard only ----------------------------------------------------------------------------------


def focused(page) -> dict:
    """The focused element's name (its label, or its text) without spaces, and whether its focus can be
    seen (an outline of 2 px or more, on screen)."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const rect = el.getBoundingClientRect();
          return {
            text: ((el.labels && el.labels.length ? el.labels[0].innerText : el.innerText) || "")
                  .replace(/\\s+/g, ""),
            tag: el.tagName.toLowerCase(),
            visible: el.matches(":focus-visible") && style.outlineStyle !== "none"
                     && parseFloat(style.outlineWidth) >= 2,
            inView: rect.bottom > 0 && rect.top < innerHeight,
          };
        }"""
    )


def tab_to(page, text: str, limit: int = 80) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["text"] == text:
            assert now["visible"] and now["inView"], now
            return now
    raise AssertionError(f"「{text}」 cannot be reached with Tab")


def field_labels(page) -> list[str]:
    return page.locator(".builder-field-title strong").all_inner_texts()


def test_an_editor_moves_duplicates_and_adds_fields_with_the_keyboard_only(
    wakasa, wakasa_editor, live_server, browser, browser_context_args
):
    procedure = make_procedure(wakasa, CHOICE_AND_FILE_SCHEMA, title="防災訓練の参加申込み")
    # Still something to fix before publishing, listed at the top of the page (as an update can bring).
    services.save_draft(
        procedure=procedure,
        schema={**CHOICE_AND_FILE_SCHEMA, "email_field": "name"},
        actor=wakasa_editor,
        revision=None,
        change="t",
    )
    page = signed_in(browser, live_server, wakasa_editor, **{**browser_context_args, **DESKTOP})
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/build/")
    expect(page.get_by_role("alert")).to_contain_text("受付メールの送り先には")
    start = ["氏名", "メールアドレス", "参加する会場", "写真", "注意事項に同意します"]
    assert field_labels(page) == start

    tab_to(page, "下へ：メールアドレス")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert field_labels(page) == ["氏名", "参加する会場", "メールアドレス", "写真", "注意事項に同意します"]
    # Back where the moved field now is: the next Tab reaches its own controls.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "編集：メールアドレス", focused(page)

    tab_to(page, "上へ：メールアドレス")
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert field_labels(page) == start

    tab_to(page, "複製：参加する会場")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert field_labels(page)[3] == "参加する会場（コピー）"

    assert tab_to(page, "項目の種類")["tag"] == "select"
    for _ in range(20):
        if page.locator("#new-type").input_value() == "short_text":
            break
        page.keyboard.press("ArrowDown")
    tab_to(page, "この種類の項目を追加する")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("項目を追加する（短い文章）")
    tab_to(page, "項目名（質問文）必須")
    page.keyboard.type("自治会名")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert field_labels(page)[-1] == "自治会名"
    page.context.close()


# Unsaved changes are never lost silently ------------------------------------------------------------


def test_unsaved_edits_and_deleting_ask_first(
    wakasa, wakasa_editor, live_server, browser, browser_context_args
):
    procedure = make_procedure(wakasa, CHOICE_AND_FILE_SCHEMA, title="防災訓練の参加申込み")
    page = signed_in(browser, live_server, wakasa_editor, **browser_context_args)
    dialogs, answers = [], []

    def answer(dialog):
        dialogs.append((dialog.type, dialog.message))
        (dialog.accept if answers.pop(0) else dialog.dismiss)()

    page.on("dialog", answer)
    page.goto(f"{live_server.url}/staff/procedures/{procedure.pk}/build/fields/venue/")
    label = page.get_by_label("項目名（質問文）")
    label.click()
    page.keyboard.press("End")
    page.keyboard.type("（当日変更できます）")

    answers.append(False)  # stay on the page
    with page.expect_event("dialog"):
        page.get_by_role("link", name="保存せずに戻る").click()
    assert [t for t, _ in dialogs] == ["beforeunload"]
    expect(label).to_have_value("参加する会場（当日変更できます）")
    assert page.url.endswith("/fields/venue/")

    answers.append(True)  # leave after all: nothing is saved
    with page.expect_navigation():
        page.get_by_role("link", name="保存せずに戻る").click()
    assert [t for t, _ in dialogs] == ["beforeunload", "beforeunload"]
    assert "参加する会場" in field_labels(page)

    answers.append(False)  # cancel the delete
    with page.expect_event("dialog"):
        page.get_by_role("button", name=of_field("削除", "参加する会場")).click()
    assert dialogs[-1] == ("confirm", "項目「参加する会場」を削除しますか？")
    page.reload()
    assert "参加する会場" in field_labels(page)
    procedure.refresh_from_db()
    assert [f["key"] for f in services.draft_of(procedure)["fields"]] == [
        f["key"] for f in CHOICE_AND_FILE_SCHEMA["fields"]
    ]
    assert answers == []
    page.context.close()
