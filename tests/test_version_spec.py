"""A stored version's form is read once per process, keyed by its id and its content."""

import pytest
from pydantic import ValidationError

from madoguchi.procedures.formspec import version_spec
from madoguchi.procedures.models import FormVersion

ONE = {"fields": [{"key": "name", "type": "name", "label": "氏名"}]}
OTHER = {"fields": [{"key": "email", "type": "email", "label": "メールアドレス"}]}


def test_a_version_is_read_once_and_a_reused_id_with_another_form_is_read_afresh():
    first = version_spec(424242, ONE)
    assert version_spec(424242, {"fields": [dict(ONE["fields"][0])]}) is first  # the same content
    assert FormVersion(pk=424242, schema=ONE).spec is first
    other = version_spec(424242, OTHER)  # another database gave the id to another form
    assert other is not first and other.fields[0].key == "email"
    assert version_spec(None, ONE) is not version_spec(None, ONE)  # not stored: nothing to key by


def test_a_form_that_does_not_read_is_an_error_every_time():
    for _ in range(2):
        with pytest.raises(ValidationError):
            version_spec(434343, {"fields": []})
