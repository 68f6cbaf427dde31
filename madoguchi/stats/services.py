from datetime import datetime

from django.db import connection
from django.db.models import Sum

from madoguchi.lib.japanese import fiscal_year
from madoguchi.lib.sql import increment_on_conflict, insert_sql
from madoguchi.lib.timeutil import jst_date
from madoguchi.stats.models import DailyCount, StatusCount


def _add(model, *, key: dict, organization_id: int, delta: int, **create_fields) -> None:
    """Add delta to the counter row named by key, creating it at the first use. Inside a transaction.

    One INSERT … ON CONFLICT DO UPDATE (PostgreSQL and SQLite alike): no read first, no race between two
    first submissions of a day. The ORM has no increment-upsert, hence the SQL.
    """
    row = model(organization_id=organization_id, count=delta, **key, **create_fields)
    sql, params = insert_sql(row, on_conflict=increment_on_conflict(model, key=list(key)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def count_submission(*, procedure, at: datetime) -> None:
    """Add one submission to the day's count and to 処理待ち. Call inside the submission's transaction."""
    day = jst_date(at)
    _add(
        DailyCount,
        key={"procedure_id": procedure.pk, "day": day},
        organization_id=procedure.organization_id,
        delta=1,
        fiscal_year=fiscal_year(day),
    )
    move_status_count(submission=None, procedure=procedure, from_status="", to_status="received")


def move_status_count(*, submission, from_status: str, to_status: str, procedure=None) -> None:
    """One submission leaves from_status for to_status. Call inside the transaction that moves it."""
    procedure_id = procedure.pk if procedure else submission.procedure_id
    organization_id = procedure.organization_id if procedure else submission.organization_id
    # Rows are always touched in the same order, so two transitions can never wait on each other.
    for status, delta in sorted([(from_status, -1), (to_status, 1)]):
        if status:
            _add(
                StatusCount,
                key={"procedure_id": procedure_id, "status": status},
                organization_id=organization_id,
                delta=delta,
            )


def status_counts(procedure_ids) -> dict[int, dict[str, int]]:
    """{procedure id: {status: count}} from the counters, never from the submissions table."""
    counts: dict[int, dict[str, int]] = {pk: {} for pk in procedure_ids}
    for procedure_id, status, count in StatusCount.objects.filter(procedure_id__in=procedure_ids).values_list(
        "procedure_id", "status", "count"
    ):
        counts[procedure_id][status] = count
    return counts


def counts_by_organization(*, organizations, fiscal_year: int) -> dict[int, int]:
    rows = (
        DailyCount.objects.filter(organization__in=organizations, fiscal_year=fiscal_year)
        .values("organization_id")
        .annotate(total=Sum("count"))
    )
    return {row["organization_id"]: row["total"] for row in rows}
