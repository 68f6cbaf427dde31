"""Counts of submissions at every grain, read from the rollups (stats.models.MonthlyCount for months and
longer, DailyCount for days, and for sums by organization ClosedMonthCount, a row per organization and closed
month: see ensure_closed), never from the submissions table.

What is counted: a submission when it arrives (到達; the first submit, not a resubmission after 補正), on its
JST day; one later withdrawn still counts. A 年度 runs from 1 April to 31 March in JST (fiscal_year, written
with the day and the month). Department (所属) and kind (種類) are the procedure's now: a procedure moved to another
所属 brings its past counts along.

`organizations` arguments take an Organization, a list of them or of their ids, or a QuerySet of
Organization (or of ids, e.g. ``council_members(council)``): the database then filters with a subquery, so
1,788 members cost one query like one member does. No function here reads a resident's data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.db import connection, transaction
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.utils import timezone

from madoguchi.lib import japanese as ja
from madoguchi.organizations.models import Council, CouncilMembership, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.stats.models import (
    ClosedMonth,
    ClosedMonthCount,
    CouncilClosedMonthCount,
    DailyCount,
    MonthlyCount,
)

# The council page marks a member whose count in a 年度 is zero, or below this share of the median member's
# count (the median over all members, those with no use included). A rule the secretariat can explain:
# "ほとんど使われていない" compared with a typical member, whatever the council's size.
LOW_USE_SHARE_OF_MEDIAN = Decimal("0.1")


def _organization_filter(organizations, field: str = "organization_id") -> dict:
    if isinstance(organizations, Organization):
        return {field: organizations.pk}
    if isinstance(organizations, QuerySet):
        if organizations.model is Organization and not organizations.query.values_select:
            organizations = organizations.values("pk")
        return {f"{field}__in": organizations}
    ids = [getattr(o, "pk", o) for o in organizations]
    return {f"{field}__in": ids}


def council_members(council: Council) -> QuerySet:
    """The ids of the council's members, as a subquery for the functions below."""
    return CouncilMembership.objects.filter(council=council).values("organization_id")


def fiscal_year_months(fiscal_year: int) -> list[date]:
    """The first day of each month of a 年度, April to March: [date(2026, 4, 1), …, date(2027, 3, 1)]."""
    return [date(fiscal_year + (m < 4), m, 1) for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]


def first_open_month(today: date | None = None) -> date:
    """The first day of the earliest JST month still open: on the 1st of a month (JST) the month just ended,
    from the 2nd the current month. Earlier months are closed: their counts can no longer change, and
    ClosedMonthCount keeps them by organization.

    A submission is counted in the month of the moment it arrived, written in the transaction that stores
    it, and a request that stores one lasts seconds (gunicorn stops a worker stuck for GUNICORN_TIMEOUT, 60
    s by default, and its transaction is rolled back): after a whole day, nothing can still be added to the
    month just ended. A count added to a closed month anyway (a back-dated count: seeding, tests) reopens
    it (reopen_month)."""
    today = today or timezone.localdate()
    if today.day > 1:
        return date(today.year, today.month, 1)
    return date(today.year - (today.month == 1), 12 if today.month == 1 else today.month - 1, 1)


def _months_between(first: date, end: date) -> list[date]:
    """The first days of the months from `first` up to, not including, `end`."""
    months, month = [], first
    while month < end:
        months.append(month)
        month = date(month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1)
    return months


def _closed_months(fiscal_year: int | None) -> list[date]:
    """The closed months of the 年度, or all closed months from the first with a count (one query)."""
    end = first_open_month()
    if fiscal_year is not None:
        first, last = date(fiscal_year, 4, 1), min(end, date(fiscal_year + 1, 4, 1))
    else:
        first, last = MonthlyCount.objects.aggregate(first=Min("month"))["first"] or end, end
    return _months_between(first, last)


def _take_fill_lock() -> None:
    """Fills and reopenings take turns (PostgreSQL: an advisory lock held to the end of the transaction;
    SQLite writes one at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FILL_LOCK])


def ensure_closed(fiscal_year: int | None = None, council_id: int | None = None) -> None:
    """Make ClosedMonthCount complete for the closed months of the 年度 (all closed months with counts when
    None): each month not yet marked in ClosedMonth is summed from MonthlyCount by organization, its rows
    replaced and the month marked, in one transaction. With a council, also CouncilClosedMonthCount: each
    closed month without the council's row is summed from ClosedMonthCount over the council's members now.

    Two queries when every month is kept already (one when a 年度 is given; one more with a council); the
    first read of a month after it closes pays one sum over that month's rows."""
    months = _closed_months(fiscal_year)
    first, last = (months[0], months[-1]) if months else (first_open_month(), first_open_month())
    # The marks are read even when no month is closed yet: as many queries whatever the data.
    marked = set(
        ClosedMonth.objects.filter(month__gte=first, month__lte=last).values_list("month", flat=True)
    )
    missing = [m for m in months if m not in marked]
    missing_for_council: list[date] = []
    if council_id is not None:
        kept = set(
            CouncilClosedMonthCount.objects.filter(
                council_id=council_id, month__gte=first, month__lte=last
            ).values_list("month", flat=True)
        )
        missing_for_council = [m for m in months if m not in kept]
    if not missing and not missing_for_council:
        return
    # One transaction: a reader sees a month's rows with its mark, or neither. Fills take turns: the second of
    # two requests finds the months kept and writes nothing, and two deletes never wait on each other's rows.
    # A back-dated count takes the same turn to drop a month (reopen_month), so no fill keeps a sum made
    # before it.
    with transaction.atomic():
        _take_fill_lock()
        # Read again under the lock; the council's months need the organizations' months complete first.
        wanted = sorted(set(missing) | set(missing_for_council))
        marked = set(ClosedMonth.objects.filter(month__in=wanted).values_list("month", flat=True))
        missing = [m for m in wanted if m not in marked]
        if missing:
            rows = (
                MonthlyCount.objects.filter(month__in=missing)
                .values("organization_id", "month", "fiscal_year")
                .annotate(total=Sum("count"))
            )
            ClosedMonthCount.objects.filter(month__in=missing).delete()
            ClosedMonthCount.objects.bulk_create(
                [
                    ClosedMonthCount(
                        organization_id=row["organization_id"],
                        month=row["month"],
                        fiscal_year=row["fiscal_year"],
                        count=row["total"],
                    )
                    for row in rows
                ],
                batch_size=2000,
                ignore_conflicts=True,
            )
            ClosedMonth.objects.bulk_create([ClosedMonth(month=m) for m in missing], ignore_conflicts=True)
        if missing_for_council:
            kept = set(
                CouncilClosedMonthCount.objects.filter(
                    council_id=council_id, month__in=missing_for_council
                ).values_list("month", flat=True)
            )
            missing_for_council = [m for m in missing_for_council if m not in kept]
        if missing_for_council:
            found = dict(
                ClosedMonthCount.objects.filter(
                    month__in=missing_for_council,
                    organization_id__in=CouncilMembership.objects.filter(council_id=council_id).values(
                        "organization_id"
                    ),
                )
                .values("month")
                .annotate(total=Sum("count"))
                .values_list("month", "total")
            )
            CouncilClosedMonthCount.objects.bulk_create(
                [
                    CouncilClosedMonthCount(
                        council_id=council_id,
                        month=month,
                        fiscal_year=ja.fiscal_year(month),
                        count=found.get(month, 0),
                    )
                    for month in missing_for_council
                ],
                ignore_conflicts=True,
            )


# pg_advisory_xact_lock's key for filling ClosedMonthCount (any number no other lock of this database uses).
_FILL_LOCK = 7_302_025_001


def reopen_month(month: date) -> None:
    """A count was added to a closed month (a back-dated count): its ClosedMonthCount rows, and every
    council's, are summed again when next read. Call in the transaction that adds the count."""
    if month < first_open_month():
        _take_fill_lock()
        ClosedMonth.objects.filter(month=month).delete()
        CouncilClosedMonthCount.objects.filter(month=month).delete()


def reopen_all() -> None:
    """Counts were rewritten (seed_load's recount): every closed month is summed again when next read."""
    _take_fill_lock()
    ClosedMonth.objects.all().delete()
    CouncilClosedMonthCount.objects.all().delete()


def reopen_council(council_id: int) -> None:
    """The council's members changed: its closed months are summed again, over its members then, when next
    read. Called by the receiver on CouncilMembership (stats/models.py)."""
    with transaction.atomic():
        _take_fill_lock()
        CouncilClosedMonthCount.objects.filter(council_id=council_id).delete()


def summed_by_organization_month(
    organizations, by: tuple[str, ...], fiscal_year: int | None = None
) -> dict[tuple, int]:
    """{values of `by`: submissions} of the organizations, `by` drawn from ("organization_id", "month",
    "fiscal_year"), in the 年度 or in all. Closed months from ClosedMonthCount (a row per organization and
    month: the same number of rows at 10,000 or 10,000,000 submissions), the open ones from MonthlyCount;
    the database sums each. Three queries when every closed month is kept already (ensure_closed)."""
    ensure_closed(fiscal_year)
    filters = _organization_filter(organizations)
    if fiscal_year is not None:
        filters["fiscal_year"] = fiscal_year
    result: dict[tuple, int] = defaultdict(int)
    open_from = first_open_month()
    for rows in (
        ClosedMonthCount.objects.filter(month__lt=open_from, **filters),
        MonthlyCount.objects.filter(month__gte=open_from, **filters),
    ):
        for row in rows.values(*by).annotate(total=Sum("count")).values_list(*by, "total"):
            result[row[:-1]] += row[-1]
    return dict(result)


def council_totals_by_month(council_id: int, fiscal_year: int | None = None) -> dict[date, int]:
    """{first day of a JST month: submissions of the council's members now} for the months of the 年度
    (all months when None) with at least one. Closed months from CouncilClosedMonthCount (a row per month,
    whatever the volume and the number of members), the open ones summed from MonthlyCount. Five queries
    when every closed month is kept already (four with a 年度)."""
    ensure_closed(fiscal_year, council_id=council_id)
    open_from = first_open_month()
    years = {} if fiscal_year is None else {"fiscal_year": fiscal_year}
    result: dict[date, int] = defaultdict(int)
    closed = CouncilClosedMonthCount.objects.filter(council_id=council_id, month__lt=open_from, **years)
    members = CouncilMembership.objects.filter(council_id=council_id).values("organization_id")
    opened = MonthlyCount.objects.filter(month__gte=open_from, organization_id__in=members, **years)
    for month, total in closed.values_list("month", "count"):
        result[month] += total
    for month, total in opened.values("month").annotate(total=Sum("count")).values_list("month", "total"):
        result[month] += total
    return {month: total for month, total in result.items() if total}


def council_totals_by_fiscal_year(council_id: int) -> dict[int, int]:
    """{年度: submissions of the council's members now}, for every 年度 with at least one (see
    council_totals_by_month)."""
    return by_fiscal_year(council_totals_by_month(council_id))


def by_fiscal_year(months: dict[date, int]) -> dict[int, int]:
    """{first day of a month: submissions} summed by 年度 (April to March)."""
    result: dict[int, int] = defaultdict(int)
    for month, total in months.items():
        result[ja.fiscal_year(month)] += total
    return dict(result)


def totals_by_fiscal_year(organizations) -> dict[int, int]:
    """{年度: submissions} of the organizations, for every 年度 with at least one."""
    summed = summed_by_organization_month(organizations, ("fiscal_year",))
    return {year: total for (year,), total in summed.items() if total}


def totals_by_month(organizations, fiscal_year: int) -> list[tuple[date, int]]:
    """[(first day of the month, submissions)] for the twelve months of the 年度, April first, zeros
    included; months are JST calendar months."""
    found = {
        month: total
        for (month,), total in summed_by_organization_month(organizations, ("month",), fiscal_year).items()
    }
    return [(month, found.get(month, 0)) for month in fiscal_year_months(fiscal_year)]


def council_months_of_year(council_id: int, fiscal_year: int) -> list[tuple[date, int]]:
    """totals_by_month for the council's members now, read from the council's own closed months."""
    found = council_totals_by_month(council_id, fiscal_year)
    return [(month, found.get(month, 0)) for month in fiscal_year_months(fiscal_year)]


def totals_by_organization(organizations, fiscal_year: int) -> dict[int, int]:
    """{organization id: submissions in the 年度}; organizations with none are absent."""
    summed = summed_by_organization_month(organizations, ("organization_id",), fiscal_year)
    return {organization_id: total for (organization_id,), total in summed.items() if total}


def totals_by_kind(organizations, fiscal_year: int) -> list[tuple[str, str, int]]:
    """[(kind, its Japanese label, submissions)] for every Procedure.Kind, in the Kind's order, zeros
    included. One query."""
    rows = (
        MonthlyCount.objects.filter(fiscal_year=fiscal_year, **_organization_filter(organizations))
        .values("procedure__kind")
        .annotate(total=Sum("count"))
    )
    found = {row["procedure__kind"]: row["total"] for row in rows}
    return [(kind, str(label), found.get(kind, 0)) for kind, label in Procedure.Kind.choices]


@dataclass(frozen=True)
class DepartmentCount:
    department_id: int | None  # None: procedures with no 所属
    name: str  # "" for None; the page names it 所属なし
    count: int


def totals_by_department(organization: Organization, fiscal_year: int) -> list[DepartmentCount]:
    """Submissions per 所属 of one organization in a 年度, most first (then by name); only 所属 with
    submissions. One query."""
    rows = (
        MonthlyCount.objects.filter(organization_id=organization.pk, fiscal_year=fiscal_year)
        .values("procedure__department_id", "procedure__department__name")
        .annotate(total=Sum("count"))
    )
    result = [
        DepartmentCount(
            row["procedure__department_id"], row["procedure__department__name"] or "", row["total"]
        )
        for row in rows
    ]
    return sorted(result, key=lambda d: (-d.count, d.department_id is None, d.name))


@dataclass(frozen=True)
class ProcedureCount:
    procedure_id: int
    organization_id: int
    organization_code: str
    organization_name: str
    title: str
    kind: str
    kind_label: str
    department: str  # its 所属's name, "" when it has none
    status: str  # Procedure.Status now
    count: int


def totals_by_procedure(organizations, fiscal_year: int) -> list[ProcedureCount]:
    """Submissions per procedure in a 年度 (procedures with at least one), by organization code, then most
    first, then title. One query."""
    rows = (
        MonthlyCount.objects.filter(fiscal_year=fiscal_year, **_organization_filter(organizations))
        .values(
            "procedure_id",
            "organization_id",
            "organization__code",
            "organization__name",
            "procedure__title",
            "procedure__kind",
            "procedure__department__name",
            "procedure__status",
        )
        .annotate(total=Sum("count"))
    )
    labels = dict(Procedure.Kind.choices)
    result = [
        ProcedureCount(
            procedure_id=row["procedure_id"],
            organization_id=row["organization_id"],
            organization_code=row["organization__code"],
            organization_name=row["organization__name"],
            title=row["procedure__title"],
            kind=row["procedure__kind"],
            kind_label=str(labels.get(row["procedure__kind"], row["procedure__kind"])),
            department=row["procedure__department__name"] or "",
            status=row["procedure__status"],
            count=row["total"],
        )
        for row in rows
    ]
    return sorted(result, key=lambda p: (p.organization_code, -p.count, p.title, p.procedure_id))


def published_procedures(organizations) -> dict[int, int]:
    """{organization id: procedures published now (受付中 or not yet open; Procedure.Status.PUBLISHED)};
    organizations with none are absent. A count of now, not of a 年度: no history of publication is kept.
    One query."""
    rows = (
        Procedure.objects.filter(
            status=Procedure.Status.PUBLISHED, **_organization_filter(organizations, "organization_id")
        )
        .values("organization_id")
        .annotate(total=Count("pk"))
    )
    return {row["organization_id"]: row["total"] for row in rows}


def published_procedures_by_kind(organizations) -> dict[int, dict[str, int]]:
    """{organization id: {kind: procedures published now}}; one query."""
    rows = (
        Procedure.objects.filter(
            status=Procedure.Status.PUBLISHED, **_organization_filter(organizations, "organization_id")
        )
        .values("organization_id", "kind")
        .annotate(total=Count("pk"))
    )
    result: dict[int, dict[str, int]] = {}
    for row in rows:
        result.setdefault(row["organization_id"], {})[row["kind"]] = row["total"]
    return result


def council_counted_days(council_id: int, fiscal_year: int) -> tuple[date | None, date | None]:
    """(first, last) JST day with a submission of the council's members now counted in the 年度; (None, None)
    when none. One query. On PostgreSQL the members are one array (`= ANY(ARRAY(…))`), so that the database
    finds each end by walking DailyCount's index on the day from that end (0.5 ms at 10,000,000
    submissions; as a join with the members it read the whole 年度, 540 ms)."""
    first_day, end = date(fiscal_year, 4, 1), date(fiscal_year + 1, 4, 1)
    if connection.vendor == "postgresql":
        # Only the models' own table names are put in the text; the values are parameters.
        daily, membership = DailyCount._meta.db_table, CouncilMembership._meta.db_table
        members = f'SELECT organization_id FROM "{membership}" WHERE council_id = %s'  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT min(day), max(day) FROM "{daily}" WHERE organization_id = ANY(ARRAY({members})) '  # noqa: S608
                "AND day >= %s AND day < %s",
                [council_id, first_day, end],
            )
            return cursor.fetchone()
    row = DailyCount.objects.filter(
        organization_id__in=CouncilMembership.objects.filter(council_id=council_id).values("organization_id"),
        day__gte=first_day,
        day__lt=end,
    ).aggregate(first=Min("day"), last=Max("day"))
    return row["first"], row["last"]


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole in per cent to one decimal place, rounded half up (12.35 → 12.4); None when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MemberUse:
    """One member of a council in a 年度, for the side-by-side view. `share` is its per cent of the council's
    total (None when the total is 0); `low_use` is "none" (0 submissions), "low" (below
    LOW_USE_SHARE_OF_MEDIAN of the median member) or ""."""

    organization: Organization
    count: int
    previous: int  # in the 年度 before
    published: int  # procedures published now
    share: Decimal | None
    low_use: str


@dataclass(frozen=True)
class CouncilUse:
    fiscal_year: int
    members: list[MemberUse]  # by organization code
    total: int
    previous_total: int
    median: Decimal  # of the members' counts, 0 when there is no member
    threshold: Decimal  # a member below it (or at 0) is low_use
    published_total: int

    @property
    def low_use_count(self) -> int:
        return sum(1 for m in self.members if m.low_use)


def council_use(council: Council, fiscal_year: int) -> CouncilUse:
    """Every member of the council side by side for a 年度: submissions in it and in the 年度 before,
    procedures published now, share of the council's total, and the low-use mark (see
    LOW_USE_SHARE_OF_MEDIAN). Four queries whatever the number of members."""
    members = list(
        Organization.objects.filter(pk__in=council_members(council)).only("pk", "code", "name", "kind")
    )
    scope = council_members(council)
    counts = totals_by_organization(scope, fiscal_year)
    previous = totals_by_organization(scope, fiscal_year - 1)
    published = published_procedures(scope)
    total = sum(counts.get(m.pk, 0) for m in members)
    middle = Decimal(median([counts.get(m.pk, 0) for m in members])) if members else Decimal(0)
    threshold = middle * LOW_USE_SHARE_OF_MEDIAN
    rows = []
    for member in sorted(members, key=lambda m: m.code):
        count = counts.get(member.pk, 0)
        low = "none" if count == 0 else ("low" if count < threshold else "")
        rows.append(
            MemberUse(
                organization=member,
                count=count,
                previous=previous.get(member.pk, 0),
                published=published.get(member.pk, 0),
                share=percent(count, total),
                low_use=low,
            )
        )
    return CouncilUse(
        fiscal_year=fiscal_year,
        members=rows,
        total=total,
        previous_total=sum(previous.get(m.pk, 0) for m in members),
        median=middle,
        threshold=threshold,
        published_total=sum(published.get(m.pk, 0) for m in members),
    )


def fiscal_years_counted(organizations) -> list[int]:
    """The 年度 with at least one submission, newest first; one query."""
    return sorted(
        MonthlyCount.objects.filter(**_organization_filter(organizations))
        .values_list("fiscal_year", flat=True)
        .distinct(),
        reverse=True,
    )
