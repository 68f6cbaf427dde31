"""submissions.services.submit: one transaction, idempotent, never overbooked."""

import threading
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from madoguchi.lib.receipt import is_valid_damm
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.stats.models import DailyCount, MonthlyCount
from madoguchi.stats.services import count_submission
from madoguchi.submissions import services
from madoguchi.submissions.models import StatusChange, Submission
from tests.conftest import SIGNUP_ANSWERS, make_procedure, make_submission, run_at_once


@pytest.mark.django_db
def test_submit_writes_everything_once(procedure):
    result = make_submission(procedure, token="t1")
    submission = result.submission
    assert result.created and result.inquiry_code
    assert len(submission.receipt_number) == 10 and is_valid_damm(submission.receipt_number)
    assert services.check_inquiry_code(submission, result.inquiry_code)
    assert result.inquiry_code not in submission.inquiry_code_hash
    assert StatusChange.objects.filter(submission=submission, to_status="received").count() == 1
    assert DailyCount.objects.get(procedure=procedure).count == 1
    email = OutgoingEmail.objects.get(submission=submission)
    assert DBTaskResult.objects.filter(args_kwargs__args=[email.pk]).count() == 1
    again = make_submission(procedure, token="t1")
    assert not again.created and again.submission.pk == submission.pk and again.inquiry_code is None
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_a_failure_inside_submit_leaves_nothing_behind(procedure):
    with (
        mock.patch("madoguchi.submissions.services.count_submission", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        make_submission(procedure, orm_path=True)
    assert Submission.objects.count() == 0
    assert OutgoingEmail.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert DailyCount.objects.count() == 0


@pytest.mark.django_db
def test_receipt_number_collision_draws_again(procedure):
    first = make_submission(procedure).submission
    numbers = iter([first.receipt_number, "4821039576"])
    with mock.patch("madoguchi.submissions.services.new_receipt_number", lambda: next(numbers)):
        second = make_submission(procedure, orm_path=True).submission
    assert second.receipt_number == "4821039576"


@pytest.mark.django_db
def test_daily_count_uses_the_japanese_day_and_fiscal_year(procedure):
    # 2021-03-31 15:30 UTC is 2021-04-01 00:30 in Japan: the first day of 令和3年度.
    count_submission(procedure=procedure, at=datetime(2021, 3, 31, 15, 30, tzinfo=UTC))
    count_submission(procedure=procedure, at=datetime(2021, 3, 31, 14, 30, tzinfo=UTC))
    rows = {(str(r.day), r.fiscal_year, r.count) for r in DailyCount.objects.all()}
    assert rows == {("2021-04-01", 2021, 1), ("2021-03-31", 2020, 1)}
    months = {(str(r.month), r.fiscal_year, r.count) for r in MonthlyCount.objects.all()}
    assert months == {("2021-04-01", 2021, 1), ("2021-03-01", 2020, 1)}


@pytest.mark.django_db
def test_withdrawal_gives_the_seat_back(tottori):
    procedure = make_procedure(tottori, capacity=1)
    submission = make_submission(procedure).submission
    with pytest.raises(services.CapacityFull):
        make_submission(procedure)
    services.withdraw(submission=submission, reason="都合が悪くなりました")
    make_submission(procedure)
    procedure.refresh_from_db()
    assert procedure.seats_taken == 1


@pytest.mark.django_db(transaction=True)
def test_capacity_is_never_overbooked_under_concurrent_submits(tottori):
    procedure = make_procedure(tottori, capacity=5)
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            make_submission(Procedure.objects.get(pk=procedure.pk), token=f"c{i}")
            outcomes.append("ok")
        except services.CapacityFull:
            outcomes.append("full")
        finally:
            connection.close()

    run_at_once(*(lambda i=i: attempt(i) for i in range(12)))
    procedure.refresh_from_db()
    assert outcomes.count("ok") == 5 and outcomes.count("full") == 7
    assert Submission.objects.filter(procedure=procedure).count() == 5
    assert procedure.seats_taken == 5


@pytest.mark.django_db(transaction=True)
def test_the_same_token_from_concurrent_requests_makes_one_submission(procedure):
    receipts: list[str] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        try:
            barrier.wait()
            receipts.append(
                make_submission(procedure, dict(SIGNUP_ANSWERS), token="same").submission.receipt_number
            )
        finally:
            connection.close()

    run_at_once(*[attempt] * 6)
    assert len(receipts) == 6 and len(set(receipts)) == 1
    assert Submission.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_withdrawals_transitions_and_corrections_never_fail_or_drift(tottori, colleague):
    """Residents and staff acting at once on one procedure with 定員: no deadlock, no error, and the seats and
    the status counters always agree with the submissions themselves."""
    import random
    from collections import Counter

    from madoguchi.stats.models import StatusCount
    from madoguchi.submissions.models import Status

    procedure = make_procedure(tottori, capacity=1000)
    failures: list[str] = []

    def act(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for n in range(25):
                op = rnd.random()
                try:
                    if op < 0.4:
                        make_submission(Procedure.objects.get(pk=procedure.pk), token=f"s{seed}-{n}")
                        continue
                    target = Submission.objects.filter(procedure=procedure).order_by("?").first()
                    if target is None:
                        continue
                    if op < 0.6:
                        services.withdraw(submission=target, reason="都合が悪くなりました")
                    elif op < 0.8:
                        to = rnd.choice([Status.IN_REVIEW, Status.RETURNED, Status.COMPLETED])
                        services.transition(submission=target, to_status=to, actor=colleague, reason="理由")
                    else:
                        services.resubmit(submission=target, answers=dict(SIGNUP_ANSWERS), staged_files={})
                except services.SubmissionError:
                    pass  # not allowed from the status it had reached: refused with a message, as it should
                except Exception as exc:  # a deadlock or any other error fails the test
                    failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        finally:
            connection.close()

    run_at_once(*(lambda seed=seed: act(seed) for seed in range(6)))
    assert failures == []
    actual = Counter(Submission.objects.filter(procedure=procedure).values_list("status", flat=True))
    counters = {
        s: c for s, c in StatusCount.objects.filter(procedure=procedure).values_list("status", "count") if c
    }
    assert counters == dict(actual)
    procedure.refresh_from_db()
    assert procedure.seats_taken == sum(n for status, n in actual.items() if status != Status.WITHDRAWN)
