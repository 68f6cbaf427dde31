"""A resident's pages as the server reads and shows them, for forms the other tests do not make."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import make_procedure

pytestmark = pytest.mark.django_db

CONDITIONS_ON_A_CHOICE = {
    "fields": [
        {"key": "kind", "type": "single_choice", "label": "区分", "options": ["個人", "法人"]},
        {"key": "why", "type": "short_text", "label": "理由", "show_if": [{"field": "kind", "op": "not_empty"}]},
        {"key": "who", "type": "short_text", "label": "担当者",
         "show_if": [{"field": "kind", "op": "one_of", "value": ["法人"]}]},
    ],
}  # fmt: skip


def test_a_condition_without_a_value_on_a_choice_is_explained_on_the_page(tottori):
    procedure = make_procedure(tottori, CONDITIONS_ON_A_CHOICE)
    url = reverse("public:form", kwargs={"code": tottori.code, "procedure_id": procedure.pk})
    page = Client().get(url).content.decode()
    assert "「区分」が空欄でない の場合にお答えください。" in page
    assert "「区分」が次のどれか：法人 の場合にお答えください。" in page
