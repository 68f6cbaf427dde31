"""Keyboard only, at a phone's width: a resident completes a sign-up (form → 確認画面 → 送信 → 受付番号) with
Tab, Shift+Tab, Space, Enter and the arrow keys, and every element that takes the focus shows it (an outline
of at least 2 px)."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.procedures.models import Procedure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => { const e = document.activeElement, s = getComputedStyle(e);
  return {id: e.id, tag: e.tagName, text: (e.textContent || '').trim().slice(0, 40),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 }; }"""


def tab_to(page, matches, *, backwards=False, limit=80) -> dict:
    """Press Tab (Shift+Tab) until the focused element satisfies `matches`; every stop on the way must show
    a focus outline."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["outline"], f"no visible focus on {focused}"
        if matches(focused):
            return focused
    raise AssertionError("never reached the element by Tab")


def by_id(element_id):
    return lambda focused: focused["id"] == element_id


def test_a_resident_completes_a_sign_up_with_the_keyboard_only(transactional_db, live_server, page):
    call_command("load_demo", verbosity=0)
    signup = Procedure.objects.get(kind="signup")
    page.goto(f"{live_server.url}/312011/procedures/{signup.pk}/")

    tab_to(page, by_id("name__family"))
    page.keyboard.type("髙橋")
    tab_to(page, by_id("name__given"))
    page.keyboard.type("﨑子")
    furigana = tab_to(page, lambda f: f["id"].startswith("furigana"))
    if furigana["id"] == "furigana":
        page.keyboard.type("たかはし さきこ")
    else:  # family and given name in boxes of their own
        page.keyboard.type("たかはし")
        tab_to(page, lambda f: f["id"].startswith("furigana") and f["id"].endswith("given"))
        page.keyboard.type("さきこ")
    tab_to(page, by_id("phone"))
    page.keyboard.type("0857-20-3111")
    tab_to(page, by_id("email"))
    page.keyboard.type("sakiko@example.jp")
    # Shift+Tab goes back to a box passed by: the phone number is corrected.
    tab_to(page, by_id("phone"), backwards=True)
    page.keyboard.press("Control+A")
    page.keyboard.type("0857-20-3112")
    tab_to(page, lambda f: f["id"].startswith("session-"))
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # the second session
    tab_to(page, lambda f: f["id"].startswith("own_phone-"))
    page.keyboard.press("Space")
    tab_to(page, by_id("agree"))
    page.keyboard.press("Space")
    tab_to(page, lambda f: f["tag"] == "BUTTON" and "入力内容を確認する" in f["text"])
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    answers = page.locator("dl.answers")
    expect(answers).to_contain_text("髙橋\u3000﨑子")
    expect(answers).to_contain_text("0857-20-3112")
    expect(answers).to_contain_text("12月10日（木）午後")
    expect(answers).to_contain_text("持っている")
    tab_to(page, lambda f: f["tag"] == "BUTTON" and "この内容で申し込む" in f["text"])
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("お申込みを受け付けました")
    assert re.fullmatch(r"\d{4}-\d{4}-\d{2}", page.get_by_test_id("receipt-number").inner_text())
