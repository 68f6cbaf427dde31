"""Every table that scrolls sideways on a phone (a `table-wrap`) can be scrolled from the keyboard and is
named for screen readers: JIS X 8341-3 (WCAG 2.1.1 キーボード), axe's scrollable-region-focusable."""

import re
from pathlib import Path

import madoguchi

TEMPLATES = Path(madoguchi.__file__).parent / "templates"
WRAP = re.compile(r'<div class="table-wrap"([^>]*)>')


def test_every_scrolling_table_is_focusable_and_named_by_its_caption():
    seen = 0
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for match in WRAP.finditer(text):
            seen += 1
            attributes = match.group(1)
            where = f"{template.relative_to(TEMPLATES)}: {match.group(0)}"
            assert 'tabindex="0"' in attributes and 'role="region"' in attributes, where
            labelled = re.search(r'aria-labelledby="([^"]+)"', attributes)
            assert labelled or "aria-label=" in attributes, where
            if labelled:
                caption = re.match(r"\s*<table[^>]*>\s*<caption[^>]*>", text[match.end() :])
                assert caption and f'id="{labelled.group(1)}"' in caption.group(0), where
    assert seen >= 20  # the staff pages' tables are all found
