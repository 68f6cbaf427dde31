"""Forms are edited in the Django admin until the builder exists: each save is a new, validated version."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from madoguchi.procedures.models import FormVersion, Procedure
from tests.conftest import make_submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_superuser("operator", "op@example.jp", "pw-operator-2026")
    client.force_login(user)
    return user


def change(client, procedure, schema_text):
    url = reverse("admin:procedures_procedure_change", args=[procedure.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in ((n, form[n].value()) for n in form.fields)
        if not isinstance(value, bool) or value
    }
    for name in ("opens_at", "closes_at"):
        data.pop(name, None)
        data[f"{name}_0"] = data[f"{name}_1"] = ""
    data["form_schema"] = schema_text
    return client.post(url, data)


def test_saving_a_changed_form_makes_a_new_version_and_old_submissions_keep_their_labels(
    client, operator, procedure
):
    submission = make_submission(procedure).submission
    schema = json.loads(json.dumps(procedure.current_version.schema))
    schema["fields"][0]["label"] = "お名前"
    response = change(client, procedure, json.dumps(schema, ensure_ascii=False))
    assert response.status_code == 302, response.content.decode()[:2000]
    procedure.refresh_from_db()
    assert procedure.current_version.number == 2
    assert procedure.current_version.spec.fields[0].label == "お名前"
    submission.refresh_from_db()
    assert submission.form_version.number == 1
    assert submission.form_version.spec.fields[0].label == "氏名"
    # Saving again without a change adds no version.
    assert change(client, procedure, json.dumps(schema, ensure_ascii=False)).status_code == 302
    assert FormVersion.objects.filter(procedure=procedure).count() == 2


@pytest.mark.parametrize(
    ("schema_text", "message"),
    [
        ('{"fields": [', "JSONの形式が正しくありません"),
        (
            json.dumps(
                {"fields": [{"key": "mynumber", "type": "short_text", "label": "マイナンバー（個人番号）"}]},
                ensure_ascii=False,
            ),
            "マイナンバー（個人番号）を入力させる項目は作れません",
        ),
    ],
)
def test_invalid_or_forbidden_form_is_refused_in_japanese_and_nothing_changes(
    client, operator, procedure, schema_text, message
):
    response = change(client, procedure, schema_text)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Procedure.objects.get(pk=procedure.pk).current_version.number == 1


def test_outgoing_email_rows_cannot_be_added_by_hand_in_the_admin(admin_client):
    from django.urls import reverse

    assert admin_client.get(reverse("admin:notifications_outgoingemail_add")).status_code == 403
