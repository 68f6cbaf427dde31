"""Random Unicode into every field type: never a 500, never a database error, never an altered name, and what
is stored is what the 確認画面 showed.

The large run (10,000 inputs into every field type, issue #9) is on PostgreSQL, which refuses NUL and lone
surrogates in JSON; CI's SQLite run does fewer (marker `database`, tests/conftest.py).
"""

import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib import japanese as ja
from madoguchi.lib.japanese import nfc_keeping_ideographs
from madoguchi.procedures.formspec import parse_form_spec
from madoguchi.submissions import intake
from madoguchi.submissions.answers import read_answers, write_answers
from madoguchi.submissions.models import Submission
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure, make_submission

pytestmark = pytest.mark.django_db

SPEC = parse_form_spec(ALL_TYPES_SCHEMA)
INPUT_NAMES = [name for field in SPEC.input_fields if field.type != "file" for name in intake.subkeys(field)]
# Text a browser can send: any Unicode scalar value except surrogates and NUL.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80)


class QueryDictLike(dict):
    def getlist(self, key):
        value = self.get(key, [])
        return value if isinstance(value, list) else [value]


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({name: TEXT for name in INPUT_NAMES}))
def test_intake_never_raises_and_keeps_names_as_typed(data):
    result = intake.parse(SPEC, QueryDictLike(data), {})
    # Kept as typed but for control characters, dropped as the input is read (lib/japanese.CONTROL_CHARACTERS),
    # line breaks and tabs, a space in a single-line box, and the blanks around it (lib/japanese.trim_invisible).
    family, given_name = (ja.clean_input(data[k]) for k in ("name__family", "name__given"))
    if "name" in result.values:
        assert result.values["name"]["family"] == nfc_keeping_ideographs(ja.trim_invisible(family))
        assert result.values["name"]["given"] == nfc_keeping_ideographs(ja.trim_invisible(given_name))
    assert set(result.errors) <= {f.key for f in SPEC.input_fields}
    assert all(isinstance(message, str) and message for message in result.errors.values())


@pytest.fixture
def all_types(tottori):
    return make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({name: TEXT for name in INPUT_NAMES}))
def test_form_post_never_500(client, all_types, data):
    url = reverse("public:form", kwargs={"code": "312011", "procedure_id": all_types.pk})
    payload = {k: v for k, v in data.items()}
    payload["version"] = str(all_types.current_version_id)
    response = client.post(url, payload, follow=True)
    assert response.status_code in (200, 400)  # the 確認画面, or the form again with its errors
    page = response.content.decode()
    if response.status_code == 400:
        assert "入力内容を確認してください" in page
    else:
        assert "入力内容の確認" in page


@pytest.fixture
def returned(tottori, colleague):
    """A returned application and a resident who has looked it up, ready to correct it."""
    from django.test import Client

    from madoguchi.submissions import services
    from madoguchi.submissions.models import Status
    from tests.conftest import make_submission

    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    answers = {"name": {"family": "山﨑", "given": "太郎"}, "agree": True}
    made = make_submission(procedure, answers)
    services.transition(
        submission=made.submission, to_status=Status.RETURNED, actor=colleague, reason="直して"
    )
    resident = Client()
    resident.post(
        reverse("public:status"),
        {"receipt_number": made.submission.receipt_number, "inquiry_code": made.inquiry_code},
    )
    return resident


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({name: TEXT for name in INPUT_NAMES}))
def test_correction_post_never_500(returned, data):
    response = returned.post(reverse("public:status_correct"), data, follow=True)
    assert response.status_code in (200, 400)
    page = response.content.decode()
    assert "入力内容を確認してください" in page or "入力内容の確認" in page


# --- every field type, into the database -------------------------------------------------------------------

FUZZ_SCHEMA = {
    "email_field": "email",
    "fields": [
        *(f for f in ALL_TYPES_SCHEMA["fields"] if f["type"] != "file"),
        {"key": "reading", "type": "furigana", "label": "ふりがな", "full_name": True},
        {"key": "born", "type": "date", "label": "生年月日", "date_input": "split"},
        {"key": "members", "type": "group", "label": "世帯員", "max_items": 2, "fields": [
            {"key": "who", "type": "name", "label": "氏名"},
            {"key": "relation", "type": "short_text", "label": "続柄"},
            {"key": "note", "type": "long_text", "label": "備考"},
            {"key": "age", "type": "number", "label": "年齢"},
            {"key": "tel", "type": "phone", "label": "電話"},
            {"key": "day", "type": "date", "label": "転入日", "date_input": "text"},
        ]},
    ],
}  # fmt: skip
FUZZ_SPEC = parse_form_spec(FUZZ_SCHEMA)


def _box_names(spec) -> list[str]:
    if spec.type == "group":
        return [
            name
            for index in range(spec.max_items)
            for sub in spec.fields
            for name in _box_names(intake.item_spec(spec, index, sub))
        ]
    if spec.type == "date" and spec.split_date:
        return [f"{spec.key}__{part}" for part in intake.DATE_PARTS]
    return intake.subkeys(spec)


FUZZ_NAMES = [name for spec in FUZZ_SPEC.input_fields for name in _box_names(spec)]
# What residents paste, and what breaks forms: any character at all (NUL, controls, bidi overrides, lone
# surrogates aside as no browser sends them as UTF-8), blanks of every kind, and the shapes of real answers.
_INTERESTING = (
    ja.INVISIBLE_CHARACTERS
    + "\x00\x07\x1b\x7f\x85\x9f\u202a\u202e\u2066\u2069\ufffe\uffff"
    + "0123456789０１２３４５６７８９-－ー()（）/.年月日令和平成元水曜+＠@"
    + "髙﨑𠮷\ufa19\ufe00\U000e0100あアｱ山田"
)
FUZZ_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(alphabet=_INTERESTING, max_size=30),
    st.sampled_from(
        ["平成33年4月1日（木）", "令和元年5月1日(水)", "1234 5678 9018", "０８５７２２８１１１", "ﾔﾏﾀﾞ ﾀﾛｳ"]
    ),
)
FUZZ_DATA = st.fixed_dictionaries(
    {name: FUZZ_TEXT for name in FUZZ_NAMES} | {"members__count": st.sampled_from(["", "1", "2", "x"])}
)


@pytest.fixture
def stored(tottori):
    """A submission whose answers each fuzzed input overwrites, as the submit service stores them."""
    return make_submission(make_procedure(tottori, FUZZ_SCHEMA, title="全項目")).submission


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _into_the_database_and_back(submission, data):
    result = intake.parse(FUZZ_SPEC, QueryDictLike(data), {})
    assert set(result.errors) <= {f.key for f in FUZZ_SPEC.input_fields}
    assert all(isinstance(message, str) and message for message in result.errors.values())
    # Nothing kept (the session, the 確認画面, a draft) or read holds a control character.
    assert not any(ja.has_control_characters(text) for text in _strings([result.raw, result.values]))
    # Never a database error: the answers, through the one write path (encrypted), go into a JSON column of
    # this database and come back the same. (The kept input of a draft is encrypted the same way, so the
    # database sees only base64 of it: tests/test_encryption.py's property test covers any JSON value.)
    write_answers(submission, result.values)
    submission.save(update_fields=["answers_data"])
    back = read_answers(Submission.objects.get(pk=submission.pk))
    assert back == json.loads(json.dumps(result.values, default=str))
    # What is stored reads as the 確認画面 showed it.
    for spec in FUZZ_SPEC.input_fields:
        if spec.key in result.values:
            assert intake.display_value(spec, back[spec.key]) == intake.display_value(
                spec, result.values[spec.key]
            )


@pytest.mark.database("postgresql")
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=FUZZ_DATA)
def test_ten_thousand_inputs_into_every_field_type_on_postgresql(stored, data):
    _into_the_database_and_back(stored, data)


@pytest.mark.database("sqlite")
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=FUZZ_DATA)
def test_inputs_into_every_field_type_on_sqlite(stored, data):
    _into_the_database_and_back(stored, data)
