"""A RowRead makes the instances the ORM's select_related makes, from one statement made once."""

import pytest
from django.utils import timezone

from madoguchi.lib.reads import RowRead
from madoguchi.procedures.models import Procedure
from madoguchi.submissions.models import Submission
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db

PROCEDURE = RowRead(Procedure, related=("organization", "department", "current_version"))


def same_row(ours, theirs) -> None:
    assert type(ours) is type(theirs)
    for field in type(theirs)._meta.concrete_fields:
        assert getattr(ours, field.attname) == getattr(theirs, field.attname), field.attname
    assert ours._state.adding is False and ours._state.db == theirs._state.db


def test_a_procedure_and_its_related_rows_are_the_orm_s(tottori, django_assert_num_queries):
    procedure = make_procedure(tottori, opens_at=timezone.now(), capacity=20, summary_en="Sign-up")
    theirs = Procedure.objects.select_related("organization", "department", "current_version").get(
        pk=procedure.pk
    )
    with django_assert_num_queries(1):
        ours = PROCEDURE.get(pk=procedure.pk, organization__code=tottori.code)
        same_row(ours, theirs)
        for name in ("organization", "department", "current_version"):
            same_row(getattr(ours, name), getattr(theirs, name))  # cached: no query
    assert ours.current_version.schema == theirs.current_version.schema  # JSON read as the ORM reads it
    assert ours.opens_at.tzinfo is not None


def test_an_empty_foreign_key_is_none_without_a_query(tottori, django_assert_num_queries):
    procedure = make_procedure(tottori)
    Procedure.objects.filter(pk=procedure.pk).update(department=None)
    with django_assert_num_queries(1):
        assert PROCEDURE.get(pk=procedure.pk).department is None


def test_no_row_is_none_and_two_rows_are_an_error(tottori, yonago):
    procedure = make_procedure(tottori)
    assert PROCEDURE.get(pk=procedure.pk, organization__code=yonago.code) is None
    make_procedure(tottori, title="二つ目")
    with pytest.raises(Procedure.MultipleObjectsReturned):
        PROCEDURE.get(organization__code=tottori.code)
    with pytest.raises(ValueError, match="source_template"):
        PROCEDURE.get(source_template__title="x")


def test_a_submission_by_its_token_and_procedure(procedure):
    submission = make_submission(procedure).submission
    read = RowRead(Submission)
    same_row(
        read.get(token=submission.token, procedure=procedure.pk), Submission.objects.get(pk=submission.pk)
    )
    assert read.get(token=submission.token, procedure=procedure.pk + 1) is None


@pytest.mark.database("postgresql")
def test_on_a_kept_connection_the_read_is_prepared_once_and_reads_the_same(tottori, monkeypatch):
    from django.db import connection

    procedure = make_procedure(tottori)
    theirs = Procedure.objects.select_related("organization", "department", "current_version").get(
        pk=procedure.pk
    )
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as production runs
    for _ in range(3):
        ours = PROCEDURE.get(pk=procedure.pk, organization__code=tottori.code)
        same_row(ours, theirs)
        same_row(ours.current_version, theirs.current_version)
    assert PROCEDURE.get(pk=procedure.pk, organization__code="999999") is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT t0.%%'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.database("postgresql")
def test_with_prepared_statements_off_nothing_is_prepared(tottori, monkeypatch):
    from django.db import connection

    procedure = make_procedure(tottori)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)  # DB_PREPARED_STATEMENTS=false
    for _ in range(3):
        assert PROCEDURE.get(pk=procedure.pk).pk == procedure.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0
