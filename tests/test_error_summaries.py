"""Every error summary can take the focus, and every page loads the script that moves the focus to it, so
after a failed form a screen reader reads what is wrong first and the next Tab reaches the first link to a
field (デジタル庁デザインシステム「エラーサマリー」; JIS X 8341-3, WCAG 3.3.1). Without JavaScript the summary
is still announced (role="alert") and listed first in the page's content."""

import re
from pathlib import Path

import madoguchi

TEMPLATES = Path(madoguchi.__file__).parent / "templates"
SUMMARY = re.compile(r'<div class="error-summary"([^>]*)>')


def test_every_error_summary_is_an_alert_that_can_take_the_focus():
    seen = 0
    for template in sorted(TEMPLATES.rglob("*.html")):
        for match in SUMMARY.finditer(template.read_text(encoding="utf-8")):
            seen += 1
            where = f"{template.relative_to(TEMPLATES)}: {match.group(0)}"
            assert 'tabindex="-1"' in match.group(1) and 'role="alert"' in match.group(1), where
    assert seen >= 25  # the residents' and the staff pages' summaries are all found
