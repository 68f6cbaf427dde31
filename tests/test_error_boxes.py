"""A field made of several boxes (a name with its reading, an address) marks only the boxes its error is
about, and the error summary links to the first of them: 「名を入力してください」 marks 名 and leads to it, not
to the 姓 already filled in. Checked over every way of leaving the boxes empty or wrong."""

import re

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_procedure

pytestmark = pytest.mark.django_db

SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True, "reading": "kana", "script": "hiragana"},
        {"key": "addr", "type": "address", "label": "住所", "required": True},
    ]
}  # fmt: skip
GOOD = {
    "family": "髙橋",
    "given": "﨑子",
    "reading_family": "たかはし",
    "reading_given": "さきこ",
    "postal": "680-8570",
    "address": "鳥取市東町一丁目220",
}
BAD = {"reading_given": "Sakiko", "postal": "12-3", "address": "x" * 300}
FIELD_OF = {box: "name" for box in ("family", "given", "reading_family", "reading_given")} | {
    "postal": "addr",
    "address": "addr",
}


def expected_marks(typed: dict[str, str]) -> set[str]:
    """The boxes the page must mark, from the order the form checks them in."""
    marks = set()
    family, given = typed["family"], typed["given"]
    if not family and not given:
        marks |= {"family", "given"}
    elif not family:
        marks.add("family")
    elif not given:
        marks.add("given")
    elif not typed["reading_family"] and not typed["reading_given"]:
        marks |= {"reading_family", "reading_given"}
    elif typed["reading_family"] and typed["reading_family"] != GOOD["reading_family"]:
        marks.add("reading_family")
    elif typed["reading_given"] and typed["reading_given"] != GOOD["reading_given"]:
        marks.add("reading_given")
    postal, address = typed["postal"], typed["address"]
    if address == BAD["address"]:
        marks.add("address")
    elif not postal and not address:
        marks |= {"postal", "address"}
    elif not postal or postal == BAD["postal"]:
        marks.add("postal")
    elif not address:
        marks.add("address")
    return marks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=st.fixed_dictionaries({box: st.sampled_from(["good", "empty", "bad"]) for box in GOOD}))
def test_only_the_boxes_an_error_is_about_are_marked_and_linked(client, tottori, states):
    procedure = make_procedure(tottori, SCHEMA, title="氏名と住所", kind="application")
    typed = {
        box: {"good": GOOD[box], "empty": "", "bad": BAD.get(box, GOOD[box])}[state]
        for box, state in states.items()
    }
    url = reverse("public:form", kwargs={"code": "312011", "procedure_id": procedure.pk})
    data = {f"{FIELD_OF[box]}__{box}": value for box, value in typed.items()}
    page = client.post(url, {"version": procedure.current_version_id, **data}, follow=True).content.decode()
    marks = expected_marks(typed)
    if not marks:  # every box right: on to the 確認画面
        assert 'class="error-summary"' not in page and "髙橋" in page
        return
    for box, field in FIELD_OF.items():
        tag = re.search(rf'<input[^>]*id="{field}__{box}"[^>]*>', page).group(0)
        assert ('aria-invalid="true"' in tag) == (box in marks), (box, typed)
    links = re.findall(r'<div class="error-summary".*?</div>', page, re.S)
    hrefs = re.findall(r'href="#([^"]+)"', links[0]) if links else []
    for field, order in (("name", list(GOOD)[:4]), ("addr", ["postal", "address"])):
        first = next((box for box in order if box in marks), None)
        if first is not None:
            assert f"{field}__{first}" in hrefs, (field, hrefs, typed)
