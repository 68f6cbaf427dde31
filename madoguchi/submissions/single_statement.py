"""The resident's final submit on PostgreSQL in one statement: one round trip, one commit.

services.submit() writes a submission with the ORM, row after row, in one transaction: the reference,
used on SQLite, for attachments and whenever this module cannot decide. Here the same rows are written
by one INSERT … WITH statement, built from the same model instances (lib/sql.py), which PostgreSQL
executes atomically on its own:

    hit     the client's attempt counted (counters.hit's row); over the client's limit, the gate lets
            nothing through
    gate    the procedure, only if it is published, in its reception window, on the confirmed form
            version and reached under the right organization code, with no duplicate rule and no
            e-mail verification (those take the ORM path: duplicates.py, verification_views.py);
            with a capacity, its seat is taken by a conditional UPDATE (never overbooked: a
            concurrent update is re-checked)
    sub     the submission
    hist    its 受付 history row
    mail    the receipt e-mail row, only if the procedure sends one   ─┐ the outbox: a rolled-back
    task    the task that sends it                                  ─┘ submission sends nothing
    daily   the day's count                                           shared rows in the ORM path's
    monthly the month's count (read from daily's row: so after it)     order: seat, day's, month's,
    status  the 処理待ち count (read from monthly's row: so after it)    処理待ち
    draft   the application's 一時保存, deleted (only if the submission was written)

If the gate lets nothing through (closed, full, a new form version, a wrong code, or a capacity this
process did not know of), nothing is written and the caller takes the ORM path, which reads the
procedure and says why. A token already used, or a receipt number drawn twice, fails the statement on
its unique constraint and nothing is written either.

The statement is prepared on the server (the same text for every submission of a kind), so
PostgreSQL parses and plans it once per connection. A transaction pooler (pgbouncer in transaction
mode) would need prepared statements turned off; the deployment connects directly.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django_tasks.utils import normalize_json
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from madoguchi.lib.japanese import fiscal_year
from madoguchi.lib.receipt import inquiry_code_for
from madoguchi.lib.search import applicant_columns, search_text
from madoguchi.lib.sql import InsertPlan, increment_on_conflict
from madoguchi.lib.timeutil import jst_date
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.services import RECEIPT
from madoguchi.notifications.tasks import send_email
from madoguchi.procedures.models import Procedure
from madoguchi.stats.models import DailyCount, MonthlyCount, StatusCount
from madoguchi.submissions import counters
from madoguchi.submissions.answers import write_answers
from madoguchi.submissions.models import Status, StatusChange, Submission, SubmissionDraft

# Procedures this process has seen with a capacity: their gate takes a seat. A procedure given a
# capacity later fails the seatless gate (it requires no capacity) and is learnt on the ORM path.
_WITH_CAPACITY: set[int] = set()


def learn(procedure: Procedure) -> None:
    """Remember whether the procedure has a capacity (called wherever the ORM path has read it)."""
    if procedure.capacity is not None:
        _WITH_CAPACITY.add(procedure.pk)
    else:
        _WITH_CAPACITY.discard(procedure.pk)


# The fields and organization of each form version this process has written a submission of (versions
# never change, and their ids are never reused): the name, kana and search columns are worked out from the
# fields; the answers are encrypted with the organization's key (the gate checks that it is the one the
# code names: nothing is written otherwise).
_FIELDS: dict[int, tuple[int, list]] = {}
_FIELDS_KEPT = 500


def _version_of(version_id: int) -> tuple[int | None, list]:
    """(organization id, fields) of a form version; (None, []) when there is no such version."""
    known = _FIELDS.get(version_id)
    if known is None:
        from madoguchi.procedures.formspec import version_spec
        from madoguchi.procedures.models import FormVersion

        row = FormVersion.objects.filter(pk=version_id).values_list("organization_id", "schema").first()
        # No such version: the gate lets nothing through either; nothing is kept.
        if row is None:
            return None, []
        known = (row[0], version_spec(version_id, row[1]).fields)
        if len(_FIELDS) >= _FIELDS_KEPT:
            _FIELDS.clear()
        _FIELDS[version_id] = known
    return known


def set_search_columns(submission: Submission, fields: list, answers: dict) -> None:
    """Set the submission's applicant_name, applicant_kana and search_text from its answers (lib/search.py).

    fields: the form version's fields (FormSpec.fields); answers as stored. Every write path of answers
    calls this before it writes the row: services.submit, this module's submit, services.resubmit.
    """
    submission.applicant_name, submission.applicant_kana = applicant_columns(fields, answers)
    submission.search_text = search_text(fields, answers)


def available() -> bool:
    """PostgreSQL, with the receipt's task queued in the database as django-tasks-db queues it."""
    return connection.vendor == "postgresql" and _task_rows_are_ours()


@functools.cache
def _task_rows_are_ours() -> bool:
    # The statement writes the task row itself: only where the database backend would write that row,
    # with the model's own ids. Another backend (or id function) takes the ORM path, which enqueues.
    backend = send_email.get_backend()
    return isinstance(backend, DatabaseBackend) and not backend.options.get("id_function")


def _client_counter_sql() -> str:
    """counters.hit's upsert, returning the count: the client's attempt, counted before the gate reads it."""
    return counters.hit_sql(connection)


def _draft_delete_sql() -> str:
    """The application's 一時保存, deleted once the submission is written (drafts.discard_draft's rows)."""
    d = SubmissionDraft._meta.db_table
    return (
        f"DELETE FROM {d} d USING sub WHERE d.procedure_id = sub.procedure_id "  # noqa: S608 (our own SQL)
        "AND (d.id = %s OR d.application_token = %s OR d.application_token = %s)"
    )


def _gate_sql(with_capacity: bool) -> str:
    p = Procedure._meta.db_table
    o = Procedure._meta.get_field("organization").related_model._meta.db_table
    sources = f"{o} o, (SELECT %s::timestamptz AS t) moment"
    conditions = (
        # Over the client's limit (resident_views._submit): nothing is written.
        "(SELECT hit.count FROM hit) <= %s AND "
        "o.id = p.organization_id AND p.id = %s AND o.code = %s AND p.status = %s "
        "AND p.current_version_id = %s AND (p.opens_at IS NULL OR p.opens_at <= moment.t) "
        "AND (p.closes_at IS NULL OR p.closes_at > moment.t) "
        # A duplicate rule or e-mail verification: the ORM path, which reads the procedure, computes the
        # duplicate key and checks the verified address (services.submit, verification_views).
        "AND p.duplicate_rule = '' AND NOT p.requires_email_verification"
    )
    if with_capacity:
        return (
            f"UPDATE {p} p SET seats_taken = p.seats_taken + 1 FROM {sources} WHERE {conditions} "  # noqa: S608
            f"AND p.capacity IS NOT NULL AND p.seats_taken < p.capacity "
            f"RETURNING p.id, p.organization_id, p.send_receipt_email"
        )
    return (
        f"SELECT p.id, p.organization_id, p.send_receipt_email FROM {p} p, {sources} "  # noqa: S608
        f"WHERE {conditions} AND p.capacity IS NULL"
    )


def submit(
    *,
    organization_code: str,
    procedure_id: int,
    version_id: int,
    answers: dict,
    token: str,
    applicant_email: str,
    language: str,
    receipt_number: str,
    now: datetime,
    client_key: str,
    client_window_seconds: int,
    client_limit: int,
    draft_id: int | None = None,
    application_token: str = "",
    inquiry_code: str = "",
) -> tuple[Submission | None, int]:
    """Write the submission and everything that goes with it, or nothing; and count the client's attempt.

    Returns (the submission or None, the client's count in its window after this attempt). The client's
    counter (counters.hit's row under `client_key`, a window of `client_window_seconds`) is counted in the
    same statement, and nothing else is written when the count exceeds `client_limit`. The submission's
    一時保存 (by `draft_id`, or by `application_token` as the browser sent it; `token` is its stored hash) is
    deleted with it. `inquiry_code`: inquiry_code_for(token), when the caller has it already.

    Raises IntegrityError when the token or the receipt number is taken (nothing written, nothing counted).
    """
    from madoguchi.submissions.services import hash_inquiry_code, resident_language

    submission = Submission(
        procedure_id=procedure_id,
        form_version_id=version_id,
        receipt_number=receipt_number,
        inquiry_code_hash=hash_inquiry_code(inquiry_code or inquiry_code_for(token)),
        token=token,
        status=Status.RECEIVED,
        submitted_at=now,
        updated_at=now,
        applicant_email=applicant_email,
        language=resident_language(language),
    )
    organization_id, fields = _version_of(version_id)
    if organization_id is None:
        return None
    submission.organization_id = organization_id
    write_answers(submission, answers)
    set_search_columns(submission, fields, answers)
    day = jst_date(now)
    sql, plans = _statement(procedure_id in _WITH_CAPACITY, bool(applicant_email))
    ends = now + timedelta(seconds=client_window_seconds)
    params = [client_key, ends, now, now]  # the client's counter
    params += [now, client_limit, procedure_id, organization_code, Procedure.Status.PUBLISHED, version_id]
    params += plans["sub"].params(submission)
    params += plans["hist"].params(created_at=now)
    if applicant_email:
        params += plans["mail"].params(to=applicant_email, created_at=now)
        params += plans["task"].params(enqueued_at=now)
    params += plans["daily"].params(day=day, fiscal_year=fiscal_year(day))
    params += plans["monthly"].params(month=day.replace(day=1), fiscal_year=fiscal_year(day))
    params += plans["status"].params()
    # Drafts saved before tokens were hashed hold the token itself (drafts.discard_draft).
    params += [draft_id, token, application_token or token]

    submission_id, organization_id, client_count = _execute(sql, params)
    if submission_id is None:
        return None, client_count
    submission.pk, submission.organization_id = submission_id, organization_id
    submission._state.adding, submission._state.db = False, connection.alias
    return submission, client_count


@functools.cache
def _statement(with_capacity: bool, with_email: bool) -> tuple[str, dict[str, InsertPlan]]:
    """The statement's text and each row's plan, worked out once per process for each of the four kinds.

    The rows below are templates: the fields named as varying are filled in for each submission, the
    rest are the same for all (their values here are the ones written).
    """
    now = datetime.now(UTC)
    from_gate = {"organization_id": "gate.organization_id"}
    from_sub = {
        "organization_id": "sub.organization_id",
        "submission_id": "sub.id",
        "procedure_id": "sub.procedure_id",
    }
    submission = Submission(
        procedure_id=0,
        form_version_id=0,
        receipt_number="-",
        inquiry_code_hash="-",
        token="-",  # noqa: S106 (a template: each row has its own)
        status=Status.RECEIVED,
        submitted_at=now,
        updated_at=now,
        answers_data={},
        applicant_email="-",
        language="-",
        applicant_name="-",
        applicant_kana="-",
        search_text="-",
    )
    plans = {
        "sub": InsertPlan(
            submission,
            varying={
                "procedure_id",
                "form_version_id",
                "receipt_number",
                "inquiry_code_hash",
                "token",
                "submitted_at",
                "updated_at",
                "answers_data",
                "applicant_email",
                "language",
                "applicant_name",
                "applicant_kana",
                "search_text",
            },
            select_from="gate",
            exprs=from_gate,
            returning="id, organization_id, procedure_id",
        ),
        "hist": InsertPlan(
            StatusChange(from_status="", to_status=Status.RECEIVED, actor_kind="resident", created_at=now),
            varying={"created_at"},
            select_from="sub",
            exprs=from_sub,
        ),
    }
    if with_email:
        plans["mail"] = InsertPlan(
            OutgoingEmail(kind=RECEIPT, to="-", subject="", created_at=now),
            varying={"to", "created_at"}, select_from="sub, gate WHERE gate.send_receipt_email", exprs=from_sub,
            returning="id",
        )  # fmt: skip
        plans["task"] = _task_plan(now)
    day = now.date()
    # The day's count, then the month's, then 処理待ち, as the ORM path does (stats.count_submission): the order
    # of writing CTEs is not defined, so each reads its row from the one before, which makes the order certain.
    plans["daily"] = InsertPlan(
        DailyCount(day=day, fiscal_year=fiscal_year(day), count=1),
        varying={"day", "fiscal_year"}, select_from="sub", exprs=from_sub,
        on_conflict=increment_on_conflict(DailyCount, key=["procedure", "day"]),
        returning="organization_id, procedure_id",
    )  # fmt: skip
    plans["monthly"] = InsertPlan(
        MonthlyCount(month=day.replace(day=1), fiscal_year=fiscal_year(day), count=1),
        varying={"month", "fiscal_year"}, select_from="daily",
        exprs={"organization_id": "daily.organization_id", "procedure_id": "daily.procedure_id"},
        on_conflict=increment_on_conflict(MonthlyCount, key=["procedure", "month"]),
        returning="organization_id, procedure_id",
    )  # fmt: skip
    plans["status"] = InsertPlan(
        StatusCount(status=Status.RECEIVED, count=1),
        varying=set(), select_from="monthly",
        exprs={"organization_id": "monthly.organization_id", "procedure_id": "monthly.procedure_id"},
        on_conflict=increment_on_conflict(StatusCount, key=["procedure", "status"]),
    )  # fmt: skip
    ctes = [
        f"hit AS ({_client_counter_sql()})",
        f"gate AS ({_gate_sql(with_capacity)})",
        *(f"{name} AS ({plan.sql})" for name, plan in plans.items()),
        f"draft AS ({_draft_delete_sql()})",
    ]
    final = "SELECT sub.id, sub.organization_id, hit.count FROM hit LEFT JOIN sub ON true"
    return _numbered(f"WITH {', '.join(ctes)} {final}"), plans


def _numbered(sql: str) -> str:
    """The statement with PostgreSQL's own placeholders ($1, $2 … in the order of the %s), for psycopg's
    RawCursor, which sends the text as it is. psycopg's usual cursor finds the %s anew on every execution
    of a statement with more than 50 parameters (its cache stops there): 0.13 ms of each submit's CPU for
    this one's 61 (bench machine)."""
    parts = sql.split("%s")
    if any("%" in part or "$" in part for part in parts):
        raise ValueError("the statement holds a % or a $ other than its placeholders")
    return parts[0] + "".join(f"${number}{part}" for number, part in enumerate(parts[1:], start=1))


def _task_plan(now: datetime) -> InsertPlan:
    """The send_email task row, as django-tasks' database backend writes it on enqueue, for the mail row."""
    template = normalize_json({"args": [0], "kwargs": {}})
    row = DBTaskResult(
        id=uuid.uuid4(),
        args_kwargs=template,
        priority=send_email.priority,
        task_path=send_email.module_path,
        queue_name=send_email.queue_name,
        run_after=send_email.run_after,
        backend_name=send_email.backend,
        enqueued_at=now,
    )
    args = DBTaskResult._meta.get_field("args_kwargs").get_db_prep_save(template, connection)
    return InsertPlan(
        row,
        varying={"enqueued_at"},
        select_from="mail",
        # A random (version 4) UUID as uuid.uuid4() makes, drawn by PostgreSQL: one call fewer in Python.
        exprs={"id": "gen_random_uuid()", "args_kwargs": "jsonb_set(%s, '{args,0}', to_jsonb(mail.id))"},
        expr_params={"args_kwargs": [args]},
    )


def _execute(sql: str, params: list):
    """Run the statement as its own transaction (a savepoint inside one, as in tests), prepared."""
    import psycopg  # only on PostgreSQL

    connection.ensure_connection()
    with connection.wrap_database_errors, contextlib.ExitStack() as stack:
        if connection.in_atomic_block:
            stack.enter_context(transaction.atomic())
        # A server-side binding cursor: Django's own binds on the client, which cannot prepare. Prepared
        # only on a connection kept across requests (DB_CONN_MAX_AGE): on a new one each time, preparing
        # would cost a round trip and never be used again.
        with psycopg.RawCursor(connection.connection) as cursor:  # $1 placeholders: see _numbered
            cursor.execute(sql, params, prepare=bool(connection.settings_dict["CONN_MAX_AGE"]) or None)
            return cursor.fetchone()


__all__ = ["IntegrityError", "available", "learn", "set_search_columns", "submit"]
