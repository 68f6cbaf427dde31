from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from madoguchi.lib.japanese import fiscal_year
from madoguchi.lib.timeutil import jst_date
from madoguchi.stats.models import DailyCount


def count_submission(*, procedure, at: datetime) -> None:
    """Add one submission to the day's count. Call inside the submission's transaction."""
    day = jst_date(at)
    updated = DailyCount.objects.filter(procedure=procedure, day=day).update(count=F("count") + 1)
    if updated:
        return
    try:
        with transaction.atomic():
            DailyCount.objects.create(
                organization_id=procedure.organization_id,
                procedure=procedure,
                day=day,
                fiscal_year=fiscal_year(day),
                count=1,
            )
    except IntegrityError:
        # Another transaction created the row first: it is there now, add to it.
        DailyCount.objects.filter(procedure=procedure, day=day).update(count=F("count") + 1)


def counts_by_organization(*, organizations, fiscal_year: int) -> dict[int, int]:
    rows = (
        DailyCount.objects.filter(organization__in=organizations, fiscal_year=fiscal_year)
        .values("organization_id")
        .annotate(total=Sum("count"))
    )
    return {row["organization_id"]: row["total"] for row in rows}
