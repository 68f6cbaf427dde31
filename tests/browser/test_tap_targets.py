"""Tap targets at a 360 px phone: header links, the language switch, breadcrumbs, the 個人情報 disclosure, footer
links, pagination and the whole row of every checkbox and radio are at least 44 × 44 CSS px; a tap at the far
end of a choice's row chooses it."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services, staff_views
from tests.browser.test_accessibility import SIGNUP_ANSWERS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIN = 44
TARGETS = ", ".join(
    [
        ".site-header a",
        ".site-header button:not([tabindex='-1'])",
        ".breadcrumbs a",
        "details.purpose > summary",
        ".site-footer a",
        ".pager a",
    ]
)
MEASURE = """selector => [...document.querySelectorAll(selector)]
  .filter(e => e.getClientRects().length)
  .map(e => { const r = e.getBoundingClientRect(); return {
    what: e.outerHTML.slice(0, 80), width: r.width, height: r.height }; })"""
ROWS = """() => [...document.querySelectorAll('.choice')].filter(e => e.getClientRects().length).map(row => {
  const r = row.getBoundingClientRect(), l = row.querySelector('label').getBoundingClientRect();
  return {what: row.textContent.trim().slice(0, 30), left: l.left - r.left, right: r.right - l.right,
          top: l.top - r.top, bottom: r.bottom - l.bottom, height: l.height}; })"""


def too_small(page) -> list[dict]:
    return [t for t in page.evaluate(MEASURE, TARGETS) if t["width"] < MIN - 0.5 or t["height"] < MIN - 0.5]


def rows_not_covered(page) -> list[dict]:
    """Rows of a checkbox or radio whose label leaves part of the row untappable, or is under 44 px high."""
    return [
        row
        for row in page.evaluate(ROWS)
        if max(row["left"], row["right"], row["top"], row["bottom"]) > 0.5 or row["height"] < MIN - 0.5
    ]


def test_every_tap_target_is_at_least_44_px_at_phone_width(
    transactional_db, live_server, page, browser, browser_context_args, monkeypatch
):
    call_command("load_demo", verbosity=0)
    base = live_server.url
    certificate = Procedure.objects.get(title="住民票の写しの郵送請求")
    signup = Procedure.objects.get(kind="signup")
    measured = 0
    for url in (
        "/",
        "/312011/",
        f"/312011/procedures/{certificate.pk}/",
        f"/312011/procedures/{signup.pk}/",
        "/status/",
        "/accessibility/",
        "/staff/login/",
    ):
        page.goto(base + url)
        assert page.viewport_size["width"] == 360
        assert too_small(page) == [], url
        assert rows_not_covered(page) == [], url
        measured += len(page.evaluate(MEASURE, TARGETS))
    assert measured > 40  # the selectors found what they are meant to measure

    # A tap at the right end of a row, far from the box, chooses the option.
    page.goto(f"{base}/312011/procedures/{signup.pk}/")
    for label in ("12月10日（木）午後", "参加にあたっての注意事項に同意します"):
        row = page.locator(".choice").filter(has_text=label)
        row.scroll_into_view_if_needed()
        box = row.bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
        expect(row.locator("input")).to_be_checked()

    # Staff pages: the header (logout, language), breadcrumbs, pagination and the footer.
    for token in ("tap-1", "tap-2"):
        services.submit(
            procedure=signup,
            version=signup.current_version,
            answers=SIGNUP_ANSWERS,
            staged_files={},
            token=token,
            applicant_email=SIGNUP_ANSWERS["email"],
        )
    monkeypatch.setattr(staff_views, "PAGE_SIZE", 1)  # two cases: the inbox has a next page
    staff = browser.new_context(**browser_context_args)
    staff_page = login(staff, base, "tottori-admin")
    staff_page.goto(f"{base}/staff/procedures/{signup.pk}/")
    expect(staff_page.locator(".pager a")).to_have_count(1)
    for url in ("/staff/", f"/staff/procedures/{signup.pk}/", "/staff/organizations/312011/audit/"):
        staff_page.goto(base + url)
        assert too_small(staff_page) == [], url
        assert rows_not_covered(staff_page) == [], url
    staff.close()
