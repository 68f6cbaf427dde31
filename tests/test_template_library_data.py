"""The council's template library: every file is a valid portable procedure, and the set is complete."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from madoguchi.procedures.formspec import CHOICE_TYPES, asks_for_individual_number, parse_form_spec
from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS, Procedure

LIBRARY = Path(__file__).resolve().parent.parent / "madoguchi" / "procedures" / "template_library"
FILES = sorted(LIBRARY.glob("*.json"))
NAME = re.compile(r"^\d{2}-[a-z0-9]+(-[a-z0-9]+)*\.json$")
PROCEDURE_KEYS = {
    "title", "title_en", "kind", "summary", "summary_en", "purpose", "retention_years",
    "capacity", "send_receipt_email", "category", "life_events",
}  # fmt: skip


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def strings(value):
    """Every string in a JSON document, keys and values alike."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_the_library_has_enough_templates():
    assert len(FILES) >= 30
    assert all(NAME.match(path.name) for path in FILES), [p.name for p in FILES if not NAME.match(p.name)]
    numbers = [path.name[:2] for path in FILES]
    assert len(set(numbers)) == len(numbers), "two files share a number"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_template_is_a_valid_portable_procedure(path):
    doc = load(path)
    assert doc["format"] == "madoguchi.procedure"
    assert doc["format_version"] == 1
    procedure = doc["procedure"]
    assert set(procedure) == PROCEDURE_KEYS
    for key in ("title", "title_en", "summary", "summary_en", "purpose"):
        assert isinstance(procedure[key], str) and procedure[key].strip(), key
    assert procedure["kind"] in Procedure.Kind.values
    assert procedure["category"] in dict(CATEGORIES)
    assert isinstance(procedure["life_events"], list)
    assert set(procedure["life_events"]) <= set(dict(LIFE_EVENTS))
    assert len(set(procedure["life_events"])) == len(procedure["life_events"])
    assert procedure["retention_years"] in Procedure.Retention.values
    assert isinstance(procedure["send_receipt_email"], bool)
    capacity = procedure["capacity"]
    if procedure["kind"] == Procedure.Kind.SIGNUP:
        assert isinstance(capacity, int) and capacity > 0
    else:
        assert capacity is None

    spec = parse_form_spec(doc["form"])
    if procedure["send_receipt_email"]:  # anonymous surveys have no e-mail field and send no receipt
        assert spec.email_field is not None
    for field in spec.fields:
        assert field.label_en, f"{field.key} has no English label"
        if field.help:
            assert field.help_en, f"{field.key} has no English help"
        if field.type == "heading" and field.text:
            assert field.text_en, f"{field.key} has no English text"
        if field.type in CHOICE_TYPES:
            assert len(field.options_en) == len(field.options), field.key


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_template_asks_for_the_individual_number(path):
    offending = [text for text in strings(load(path)) if asks_for_individual_number(text)]
    assert offending == []


def test_every_category_has_at_least_two_templates():
    counts = Counter(load(path)["procedure"]["category"] for path in FILES)
    missing = {code: counts[code] for code, _label in CATEGORIES if counts[code] < 2}
    assert missing == {}


def test_titles_are_unique():
    for language in ("title", "title_en"):
        titles = [load(path)["procedure"][language] for path in FILES]
        duplicates = sorted(t for t, n in Counter(titles).items() if n > 1)
        assert duplicates == [], language
