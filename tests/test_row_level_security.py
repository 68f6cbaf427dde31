"""Row-level security (lib/tenancy.py): PostgreSQL itself keeps each organization's residents' data apart.

The suite runs on PostgreSQL as a role that owns no table (conftest._application_role), so every other
test also runs under the policies; these show the policies themselves.
"""

# ruff: noqa: S608 (table names from the models)
import io

import psycopg
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from madoguchi.audit.models import AuditLog
from madoguchi.lib import tenancy
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions.models import Note, Submission
from tests.conftest import APPLICATION_ROLE, make_procedure, make_submission

postgresql = pytest.mark.database("postgresql")


def test_every_organization_owned_table_is_under_the_policy_or_says_why_not():
    """A table added later with an organization is either protected or listed with its reason."""
    owned = {
        (model._meta.app_label, model.__name__)
        for model in apps.get_models()
        if any(f.name == "organization" and f.is_relation for f in model._meta.get_fields())
    }
    unaccounted = owned - set(tenancy.PROTECTED) - set(tenancy.SHARED_BY_DESIGN)
    assert unaccounted == set()
    assert set(tenancy.PROTECTED) <= owned
    assert not set(tenancy.PROTECTED) & set(tenancy.SHARED_BY_DESIGN)


@pytest.fixture
def two_cases(tottori, yonago):
    mine = make_submission(make_procedure(tottori)).submission
    theirs = make_submission(make_procedure(yonago, title="米子市の講座")).submission
    return mine, theirs


@postgresql
@pytest.mark.django_db
def test_the_application_owns_no_table_and_every_protected_table_has_its_policy():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (APPLICATION_ROLE, False, False)
        for model in tenancy.protected_models():
            cursor.execute(
                "SELECT relrowsecurity, pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s::regclass",
                [model._meta.db_table],
            )
            enabled, table_owner = cursor.fetchone()
            assert enabled, model
            assert table_owner != APPLICATION_ROLE


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_has_not_set_the_organization_sees_no_row(two_cases):
    """A fresh connection as the application's role, nothing set: nothing of any organization."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params) as fresh:
        fresh.execute(f"SET ROLE {APPLICATION_ROLE}")
        for model in (Submission, Note, OutgoingEmail):
            assert fresh.execute(f'SELECT count(*) FROM "{model._meta.db_table}"').fetchone() == (0,)
        assert fresh.execute(
            f'SELECT count(*) FROM "{Submission._meta.db_table}" WHERE id = %s', [two_cases[0].pk]
        ).fetchone() == (0,)
        # and as the owner, with nothing set, the rows are there: the policy, not the data, hid them
        fresh.execute("RESET ROLE")
        assert fresh.execute(f'SELECT count(*) FROM "{Submission._meta.db_table}"').fetchone() == (2,)


@postgresql
@pytest.mark.django_db
def test_a_scope_sees_its_organizations_rows_only(two_cases, tottori, yonago):
    mine, theirs = two_cases
    with tenancy.scope([]):
        assert Submission.objects.count() == 0
        assert not Submission.objects.filter(pk=mine.pk).exists()
    with tenancy.scope([tottori.pk]):
        assert list(Submission.objects.values_list("pk", flat=True)) == [mine.pk]
        assert Submission.objects.filter(pk=theirs.pk).update(applicant_name="書き換え") == 0
        assert Submission.objects.filter(pk=theirs.pk).delete()[0] == 0
    with tenancy.scope([tottori.pk, yonago.pk]):
        assert Submission.objects.count() == 2
    assert tenancy.current() == tenancy.ALL  # back to the test's own scope
    theirs.refresh_from_db()
    assert theirs.applicant_name != "書き換え"


@postgresql
@pytest.mark.django_db
def test_a_row_of_another_organization_cannot_be_written_in_a_scope(two_cases, tottori, yonago):
    _mine, theirs = two_cases
    with tenancy.scope([tottori.pk]):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Note.objects.create(organization=yonago, submission_id=theirs.pk, body="他団体への書き込み")
        entry = AuditLog.objects.create(action="view", organization=tottori)
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            AuditLog.objects.filter(pk=entry.pk).update(organization=yonago)  # moving a row out of reach
        # a site-wide audit entry (a log-in: no organization) may be written from any scope
        AuditLog.objects.create(action="login", organization=None)
    assert AuditLog.objects.filter(organization=None, action="login").exists()


def _scope_seen(path, user=None):
    """What a view sees of the submissions, through the middleware, for a request to `path`."""
    seen = {}

    def view(request):
        seen["ids"] = set(Submission.objects.values_list("organization__code", flat=True))
        return HttpResponse()

    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    tenancy.TenantScopeMiddleware(view)(request)
    return seen["ids"]


@postgresql
@pytest.mark.django_db
def test_each_request_sees_only_what_its_page_is_for(two_cases, outsider, owner):
    operator = get_user_model().objects.create_superuser("operator-rls", password="x" * 12)
    # a staff page forgetting the access helpers would still see nothing of another organization
    assert _scope_seen("/staff/", outsider) == {"312029"}
    assert _scope_seen("/staff/submissions/1/", owner) == {"312011"}
    assert _scope_seen("/staff/") == set()  # signed out
    # a resident's page of one organization: that organization's rows only
    assert _scope_seen("/312011/procedures/1/") == {"312011"}
    assert _scope_seen("/312029/procedures/1/") == {"312029"}
    assert _scope_seen("/999999/procedures/1/") == set()
    # the operator's admin: every organization for a superuser, none for staff
    assert _scope_seen("/admin/", operator) == {"312011", "312029"}
    assert _scope_seen("/admin/", owner) == set()
    # pages that find a case by its secret across organizations
    assert _scope_seen("/status/") == {"312011", "312029"}
    assert tenancy.current() == tenancy.ALL  # and the test's connection is as it was


@postgresql
@pytest.mark.django_db
def test_the_command_makes_a_role_that_owns_nothing_and_may_read_and_write():
    with tenancy.as_table_owner():
        call_command("db_app_role", "madoguchi_app_probe", stdout=io.StringIO())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT has_table_privilege('madoguchi_app_probe', %s, 'SELECT, INSERT, UPDATE, DELETE'),"
                " rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'madoguchi_app_probe'",
                [Submission._meta.db_table],
            )
            assert cursor.fetchone() == (True, False, False, False)


@postgresql
@pytest.mark.django_db
def test_prepared_statements_follow_the_scope_of_each_request(two_cases, monkeypatch):
    """On a connection kept across requests the scope's statement and the residents' reads are prepared:
    past PostgreSQL's first five runs it plans them once for all, and each run still sees its own scope."""
    from madoguchi.lib import prepared

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as production runs

    def counted(path):
        seen = {}

        def view(request):
            with prepared.cursor(connection) as cursor:
                cursor.execute("SELECT count(*) FROM submissions_submission WHERE id = ANY(%s)", [ids])
                seen["count"] = cursor.fetchone()[0]
            return HttpResponse()

        tenancy.TenantScopeMiddleware(view)(RequestFactory().get(path))
        return seen["count"]

    ids = [two_cases[0].pk, two_cases[1].pk]
    for _ in range(8):
        assert counted("/312011/procedures/1/") == 1
        assert counted("/312029/procedures/1/") == 1
        assert counted("/999999/procedures/1/") == 0
        assert counted("/status/") == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT set_config%%'"
        )
        assert cursor.fetchone()[0] >= 1  # the scope's statement was prepared


@postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("name", ['app"; DROP TABLE x; --', "Madoguchi", "1app", "a" * 64, "app\x00"])
def test_the_command_refuses_a_role_name_that_is_not_a_plain_name(name):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ロール名"):
        call_command("db_app_role", name, stdout=io.StringIO())
