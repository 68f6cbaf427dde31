"""The final submit in one statement (PostgreSQL): it writes what the ORM path writes, or nothing."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from madoguchi.lib import envelope
from madoguchi.lib.receipt import inquiry_code_for, stored_token
from madoguchi.lib.timeutil import JST
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.procedures.services import save_form_version
from madoguchi.stats.models import DailyCount, MonthlyCount, StatusCount
from madoguchi.submissions import services, single_statement
from madoguchi.submissions.answers import read_answers, stored_answers
from madoguchi.submissions.models import StatusChange, Submission
from tests.conftest import SIGNUP_ANSWERS, client_counted, make_procedure, make_submission, run_at_once

pytestmark = [pytest.mark.django_db, pytest.mark.database("postgresql")]


def confirmed(procedure, token="t-one", **overrides):  # noqa: S107 (an idempotency key)
    args = {
        "organization_code": procedure.organization.code,
        "procedure_id": procedure.pk,
        "version_id": procedure.current_version_id,
        "answers": dict(SIGNUP_ANSWERS),
        "token": token,
        "applicant_email": "sakiko@example.jp",
        "language": "en",
    }
    return services.submit_confirmed(**{**args, **client_counted(token), **overrides})


def row(obj, *skip):
    """The row's columns; answers decrypted (each write encrypts with a fresh nonce, so two writes of the
    same answers differ as ciphertext)."""
    values = {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in {"id", *skip}
    }
    if "answers_data" in values:
        assert envelope.is_encrypted(values["answers_data"])
        values["answers_data"] = stored_answers(obj.organization_id, values["answers_data"])
    return values


def test_one_statement_writes_exactly_what_the_orm_path_writes(procedure):
    one = confirmed(procedure, token="t-one")
    orm = make_submission(procedure, dict(SIGNUP_ANSWERS), token="t-orm", orm_path=True)
    orm.submission.language = "en"
    orm.submission.save(update_fields=["language"])
    assert one.created and one.inquiry_code == inquiry_code_for(stored_token("t-one"))
    a, b = (Submission.objects.get(pk=r.submission.pk) for r in (one, orm))
    differ = ("receipt_number", "inquiry_code_hash", "token", "submitted_at", "updated_at")
    assert row(a, *differ) == row(b, *differ)
    assert (a.token, b.token) == (stored_token("t-one"), stored_token("t-orm"))  # only hashes are stored
    assert read_answers(a)["name"] == {"family": "髙橋", "given": "﨑子"}
    # The inbox's name, kana and search columns too: the name as typed, the search column folded.
    assert (a.applicant_name, a.applicant_kana) == ("髙橋\u3000﨑子", "たかはし\u3000さきこ")
    assert "高橋崎子" in a.search_text and "0857203111" in a.search_text
    assert services.check_inquiry_code(a, one.inquiry_code)
    history = [row(h, "submission_id", "created_at") for h in StatusChange.objects.order_by("id")]
    assert history[0] == history[1] and history[0]["to_status"] == "received"
    mails = list(OutgoingEmail.objects.order_by("id"))
    assert [m.submission_id for m in mails] == [a.pk, b.pk]
    assert row(mails[0], "submission_id", "created_at") == row(mails[1], "submission_id", "created_at")
    # The task row is the one django-tasks' own enqueue writes, for each e-mail.
    tasks = list(DBTaskResult.objects.order_by("enqueued_at"))
    assert [t.args_kwargs for t in tasks] == [{"args": [m.pk], "kwargs": {}} for m in mails]
    skip = ("args_kwargs", "enqueued_at", "run_after")
    assert row(tasks[0], *skip) == row(tasks[1], *skip) and tasks[0].run_after == tasks[1].run_after
    assert [t.id.version for t in tasks] == [4, 4] and tasks[0].id != tasks[1].id  # random ids, as uuid4's
    assert DailyCount.objects.get().count == 2
    month = MonthlyCount.objects.get()
    assert (month.count, month.month, month.organization_id) == (
        2,
        a.submitted_at.astimezone(JST).date().replace(day=1),
        a.organization_id,
    )
    assert month.fiscal_year == DailyCount.objects.get().fiscal_year
    assert StatusCount.objects.get(status="received").count == 2


def test_the_same_token_returns_the_first_submission_and_writes_nothing_more(procedure):
    first = confirmed(procedure, token="again")
    second = confirmed(procedure, token="again")
    assert not second.created and second.submission.pk == first.submission.pk
    assert Submission.objects.count() == 1 and OutgoingEmail.objects.count() == 1
    assert DailyCount.objects.get().count == 1 and DBTaskResult.objects.count() == 1


def test_a_receipt_number_drawn_twice_is_drawn_again(procedure):
    first = confirmed(procedure, token="a").submission
    numbers = iter([first.receipt_number, "4821039576"])
    with mock.patch("madoguchi.submissions.services.new_receipt_number", lambda: next(numbers)):
        assert confirmed(procedure, token="b").submission.receipt_number == "4821039576"


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the statement is its own transaction
def test_a_failure_inside_the_statement_leaves_nothing_behind(procedure):
    broken = mock.Mock(sql="INSERT INTO notifications_outgoingemail (kind) SELECT 'x' FROM mail")  # NOT NULL
    broken.params.return_value = []
    single_statement._statement.cache_clear()
    try:
        with (
            mock.patch.object(single_statement, "_task_plan", return_value=broken),
            pytest.raises(DatabaseError),
        ):
            confirmed(procedure)
    finally:
        single_statement._statement.cache_clear()
    assert Submission.objects.count() == 0 and OutgoingEmail.objects.count() == 0
    assert StatusChange.objects.count() == 0 and DailyCount.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"status": Procedure.Status.CLOSED},
        {"closes_at": timezone.now() - timedelta(minutes=1)},
        {"opens_at": timezone.now() + timedelta(days=1)},
        {"capacity": 1},  # a capacity this process has not seen: the ORM path reads it
    ],
)
def test_a_closed_or_changed_procedure_writes_nothing_and_is_left_to_the_orm_path(procedure, change):
    Procedure.objects.filter(pk=procedure.pk).update(**change)
    assert confirmed(procedure) is None
    assert Submission.objects.count() == 0 and DailyCount.objects.count() == 0
    assert Procedure.objects.get(pk=procedure.pk).seats_taken == 0


def test_a_new_form_version_or_another_organizations_code_writes_nothing(procedure, yonago):
    assert confirmed(procedure, organization_code=yonago.code) is None
    old_version = procedure.current_version_id
    schema = {**procedure.current_version.schema}
    schema["fields"] = [*schema["fields"], {"key": "memo", "type": "short_text", "label": "メモ"}]
    save_form_version(procedure=procedure, schema=schema)
    assert confirmed(procedure, version_id=old_version) is None
    assert Submission.objects.count() == 0


def test_no_receipt_row_when_the_procedure_sends_none(procedure):
    Procedure.objects.filter(pk=procedure.pk).update(send_receipt_email=False)
    assert confirmed(procedure).created
    assert OutgoingEmail.objects.count() == 0 and DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_seats_are_taken_in_the_statement_and_never_overbooked(tottori):
    procedure = make_procedure(tottori, capacity=5)
    single_statement.learn(procedure)  # as after the first submission in this process
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            result = confirmed(procedure, token=f"seat-{i}")
            outcomes.append("ok" if result else "left to the ORM path")
        finally:
            connection.close()

    run_at_once(*(lambda i=i: attempt(i) for i in range(12)))
    assert sorted(outcomes) == ["left to the ORM path"] * 7 + ["ok"] * 5
    assert Procedure.objects.get(pk=procedure.pk).seats_taken == 5
    assert Submission.objects.count() == 5 and StatusCount.objects.get(status="received").count == 5
    with pytest.raises(services.CapacityFull):  # the ORM path says why
        make_submission(Procedure.objects.get(pk=procedure.pk), token="seat-late", orm_path=True)


@pytest.mark.database("sqlite")
def test_on_sqlite_the_final_submit_is_left_to_the_orm_path(procedure):
    assert services.one_statement_available() is False
    assert make_submission(procedure, token="t-sqlite").created  # through the ORM path
    assert Submission.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_orm_path_and_the_statement_take_the_shared_rows_in_the_same_order(tottori):
    """A submission with a file (ORM path) and one without (one statement) at once, on a procedure with
    no 定員, so only the two counters are shared: taken in opposite orders they would deadlock."""
    import time

    from madoguchi.stats import services as stats

    procedure = make_procedure(tottori)
    make_submission(procedure, token="first of the day")  # both counter rows exist
    errors: list[str] = []
    orm_holds_the_days_count = threading.Event()
    move = stats.move_status_count

    def slow_move(**kwargs):
        orm_holds_the_days_count.set()
        time.sleep(0.5)  # between its two counters, while the statement arrives
        return move(**kwargs)

    def orm() -> None:
        try:
            make_submission(procedure, token="with a file", orm_path=True)
        except Exception as exc:
            errors.append(f"orm: {exc}")
        finally:
            connection.close()

    def statement() -> None:
        try:
            orm_holds_the_days_count.wait(5)
            time.sleep(0.1)
            make_submission(procedure, token="without")
        except Exception as exc:
            errors.append(f"statement: {exc}")
        finally:
            connection.close()

    with mock.patch.object(stats, "move_status_count", slow_move):
        run_at_once(orm, statement)
    assert errors == []
    assert Submission.objects.count() == 3 and StatusCount.objects.get(status="received").count == 3
    assert MonthlyCount.objects.get().count == 3 and DailyCount.objects.get().count == 3


def test_a_kept_connection_prepares_the_statement_once(procedure, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as production runs
    for token in ("p1", "p2", "p3"):
        assert confirmed(procedure, token=token).created
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH hit AS%%'")
        assert cursor.fetchone()[0] == 1


def _draft(procedure, application_token):
    from madoguchi.submissions import drafts

    return drafts.save_draft(
        procedure=procedure,
        version=procedure.current_version,
        raw={"name__family": ["髙橋"]},
        page="",
        application_token=application_token,
        send=False,
    ).draft


def test_the_statement_deletes_the_applications_draft_and_only_when_it_writes(procedure):
    from madoguchi.submissions.models import SubmissionDraft

    by_token, by_id, other = _draft(procedure, "t-one"), _draft(procedure, ""), _draft(procedure, "t-other")
    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.CLOSED)
    assert confirmed(procedure, draft_id=by_id.pk) is None
    assert SubmissionDraft.objects.count() == 3  # nothing written, nothing deleted
    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.PUBLISHED)
    assert confirmed(procedure, draft_id=by_id.pk).created
    assert list(SubmissionDraft.objects.values_list("pk", flat=True)) == [other.pk]
    assert by_token.pk != by_id.pk


def test_over_the_clients_limit_nothing_is_written_and_the_attempt_is_counted(tottori):
    from madoguchi.submissions.models import RateCounter

    procedure = make_procedure(tottori, capacity=10)
    single_statement.learn(procedure)
    limit = {"client_key": "one client", "client_window_seconds": 600, "client_limit": 1}
    assert confirmed(procedure, token="a", **limit).created
    with pytest.raises(services.TooManyFromClient):
        confirmed(procedure, token="b", **limit)
    assert Submission.objects.count() == 1 and Procedure.objects.get(pk=procedure.pk).seats_taken == 1
    assert RateCounter.objects.get().count == 2
    # A retry of the first (a double click): its submission, and not counted again.
    assert confirmed(procedure, token="a", **{**limit, "client_limit": 5}).created is False
    assert RateCounter.objects.get().count == 2


def test_a_closed_procedure_counts_the_attempt_all_the_same(procedure):
    from madoguchi.submissions.models import RateCounter

    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.CLOSED)
    limit = {"client_key": "one client", "client_window_seconds": 600, "client_limit": 5}
    assert confirmed(procedure, token="a", **limit) is None
    assert RateCounter.objects.get().count == 1
