"""Random Unicode into every field type: never a 500, never an altered name."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib import japanese as ja
from madoguchi.lib.japanese import nfc_keeping_ideographs
from madoguchi.procedures.formspec import parse_form_spec
from madoguchi.submissions import intake
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure

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
    # Kept as typed but for control characters, dropped as the input is read (lib/japanese.CONTROL_CHARACTERS).
    family, given_name = (ja.remove_control_characters(data[k]) for k in ("name__family", "name__given"))
    if "name" in result.values:
        assert result.values["name"]["family"] == nfc_keeping_ideographs(family.strip(" \t\n\r\u3000"))
        assert result.values["name"]["given"] == nfc_keeping_ideographs(given_name.strip(" \t\n\r\u3000"))
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
