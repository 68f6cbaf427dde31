import csv
import io
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from madoguchi.audit import services as audit
from madoguchi.lib.japanese import GROUPING_MESSAGE, fiscal_year, to_halfwidth_ascii
from madoguchi.lib.sql import increment_on_conflict, insert_sql
from madoguchi.lib.timeutil import jst_date
from madoguchi.stats import cost_share, counts
from madoguchi.stats.models import CostShare, DailyCount, MonthlyCount, StatusCount


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
    """Add one submission to the day's and the month's counts (JST) and to 処理待ち. Call inside the
    submission's transaction. submissions/single_statement.py writes the same rows in its statement."""
    day = jst_date(at)
    _add(
        DailyCount,
        key={"procedure_id": procedure.pk, "day": day},
        organization_id=procedure.organization_id,
        delta=1,
        fiscal_year=fiscal_year(day),
    )
    _add(
        MonthlyCount,
        key={"procedure_id": procedure.pk, "month": day.replace(day=1)},
        organization_id=procedure.organization_id,
        delta=1,
        fiscal_year=fiscal_year(day),
    )
    counts.reopen_month(day.replace(day=1))  # a back-dated count only: nothing to do for today's month
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


# --------------------------------------------------------------------------------------------
# 負担金 (cost share) of a 部会: inputs read from the data, the computation in stats/cost_share.py
# --------------------------------------------------------------------------------------------


def fiscal_year_bounds(year: int) -> tuple[date, date]:
    """First and last JST day of 年度 `year`: 1 April `year` to 31 March `year + 1`."""
    return date(year, 4, 1), date(year + 1, 3, 31)


def cost_share_members(working_group, fiscal_year: int) -> list[tuple[Any, cost_share.Member]]:
    """[(organization, Member)] of a 部会 in a 年度, in code order: months of membership, the population on
    the organization now (Organization.population; 0 when unknown) and the submissions it received while a
    member (from the daily counts, JST days). Two queries whatever the number of members."""
    first, last = fiscal_year_bounds(fiscal_year)
    memberships = list(
        working_group.memberships.select_related("organization").order_by("organization__code")
    )
    daily = (
        DailyCount.objects.filter(
            organization_id__in=[m.organization_id for m in memberships], day__gte=first, day__lte=last
        )
        .values("organization_id", "day")
        .annotate(total=Sum("count"))
    )
    usage: dict[int, int] = {}
    windows = {m.organization_id: (m.joined_on or first, m.left_on or last) for m in memberships}
    for row in daily:
        start, end = windows[row["organization_id"]]
        if start <= row["day"] <= end:
            usage[row["organization_id"]] = usage.get(row["organization_id"], 0) + row["total"]
    return [
        (
            m.organization,
            cost_share.Member(
                code=m.organization.code,
                population=m.organization.population or 0,
                usage=usage.get(m.organization_id, 0),
                months=cost_share.months_of_membership(fiscal_year, m.joined_on, m.left_on),
            ),
        )
        for m in memberships
    ]


def _two_places(value) -> str:
    """An exact share (a Fraction of yen) to two decimal places, rounded half up: '1234.57'."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def cost_share_rows(working_group, fiscal_year: int, record: CostShare) -> list[dict]:
    """The shares of a 部会 and 年度 as rows for the page and the exports: the decided ones as they were
    decided, otherwise computed now. Each row: code, name, months, population, usage, the three exact parts
    and the amount (yen). Raises cost_share.CostShareError when the entered figures cannot be split."""
    if record.decided_at is not None:
        return [dict(row) for row in record.decided_shares]
    members = cost_share_members(working_group, fiscal_year)
    result = cost_share.compute(
        cost=record.cost,
        weights=cost_share.Weights(record.weight_equal, record.weight_population, record.weight_usage),
        members=[member for _, member in members],
    )
    rows = []
    for (organization, member), share in zip(members, result.shares, strict=True):
        rows.append(
            {
                "code": member.code,
                "name": organization.name,
                "months": member.months,
                "population": member.population,
                "usage": member.usage,
                "equal": _two_places(share.equal),
                "by_population": _two_places(share.population),
                "by_usage": _two_places(share.usage),
                "exact": _two_places(share.exact),
                "rounded_up": share.rounded_up,
                "amount": share.amount,
            }
        )
    return rows


@transaction.atomic
def save_cost_share(
    *, working_group, fiscal_year: int, cost: int, weights: cost_share.Weights, actor
) -> CostShare:
    """Enter (or change) a 部会's yearly cost and weights for a 年度, before it is decided.

    Raises cost_share.CostShareError (Japanese) for a negative cost, weights not summing to 100, or a 年度
    already decided. Audited on the council's secretariat.
    """
    if not isinstance(cost, int) or cost < 0:
        raise cost_share.CostShareError(gettext("年間の費用は0円以上の整数（円）で入力してください。"))
    weights.check()
    record = (
        CostShare.objects.select_for_update()
        .filter(working_group=working_group, fiscal_year=fiscal_year)
        .first()
    )
    if record is not None and record.decided_at is not None:
        raise cost_share.CostShareError(gettext("この年度の負担金は確定しています。変えることはできません。"))
    record = record or CostShare(working_group=working_group, fiscal_year=fiscal_year)
    old = (
        None
        if record.pk is None
        else [record.cost, record.weight_equal, record.weight_population, record.weight_usage]
    )
    record.cost = cost
    record.weight_equal, record.weight_population, record.weight_usage = (
        weights.equal,
        weights.population,
        weights.usage,
    )
    record.save()
    audit.record(
        organization=working_group.council.secretariat,
        actor=actor,
        action="cost_share.save",
        obj=record,
        detail={
            "working_group": working_group.name,
            "fiscal_year": fiscal_year,
            "old": old,
            "new": [cost, weights.equal, weights.population, weights.usage],
        },
    )
    return record


@transaction.atomic
def decide_cost_share(*, record: CostShare, actor) -> CostShare:
    """Keep the shares as computed now: later changes of populations or counts no longer move them.

    Raises cost_share.CostShareError if already decided or if the figures cannot be split.
    """
    record = (
        CostShare.objects.select_for_update()
        .select_related("working_group__council__secretariat")
        .get(pk=record.pk)
    )
    if record.decided_at is not None:
        raise cost_share.CostShareError(gettext("この年度の負担金はすでに確定しています。"))
    rows = cost_share_rows(record.working_group, record.fiscal_year, record)
    record.decided_shares = rows
    record.decided_at = timezone.now()
    record.decided_by = actor
    record.save(update_fields=["decided_shares", "decided_at", "decided_by", "updated_at"])
    audit.record(
        organization=record.working_group.council.secretariat,
        actor=actor,
        action="cost_share.decide",
        obj=record,
        detail={
            "working_group": record.working_group.name,
            "fiscal_year": record.fiscal_year,
            "cost": record.cost,
        },
    )
    return record


# The largest population a member can have: more than Japan's whole population (126,146,099 in the 2020
# 国勢調査), so any municipality or prefecture fits, and well inside the column (PositiveIntegerField).
MAX_POPULATION = 150_000_000
POPULATION_RULE = gettext_lazy("人口は0以上1億5,000万以下の整数で入力してください。")


def population_problem(text: str) -> str:
    """What to tell staff about a population population_value refused: where commas go when they are
    misplaced ('12,34'), else POPULATION_RULE."""
    if cost_share.misplaced_commas(text, strip="人"):
        return gettext("%(label)s：%(message)s") % {"label": gettext("人口"), "message": GROUPING_MESSAGE}
    return str(POPULATION_RULE)


def population_value(text: str) -> int | None:
    """A population as staff type it ('188465', '１８８，４６５', '188,465人') → int; None when it is not a
    whole number from 0 to MAX_POPULATION (the caller shows POPULATION_RULE)."""
    value = cost_share.whole_number(text, strip="人")
    return value if value is not None and value <= MAX_POPULATION else None


@transaction.atomic
def set_populations(*, council, populations: dict[str, int | None], actor, source: str = "form") -> int:
    """Set the population of council members, all or nothing: {団体コード: 人口} → how many changed.

    None clears a population (a box emptied on the page): 人口割 then counts that member as 0, as before
    any population was entered. Raises cost_share.CostShareError (Japanese) for a code that is not a member
    or a population outside 0..MAX_POPULATION.
    """
    members = {o.code: o for o in council.members.all()}
    for code, value in populations.items():
        if code not in members:
            raise cost_share.CostShareError(
                gettext("団体コード %(code)s はこの協議会の構成団体ではありません。") % {"code": code}
            )
        if value is not None and (not isinstance(value, int) or not 0 <= value <= MAX_POPULATION):
            raise cost_share.CostShareError(
                gettext("団体コード %(code)s：%(rule)s") % {"code": code, "rule": POPULATION_RULE}
            )
    changed = {}
    for code, value in populations.items():
        organization = members[code]
        if organization.population != value:
            changed[code] = [organization.population, value]
            organization.population = value
            organization.save(update_fields=["population"])
    if changed:
        audit.record(
            organization=council.secretariat,
            actor=actor,
            action="population.update",
            obj=council.secretariat,
            detail={"source": source, "changed": changed},
        )
    return len(changed)


def read_population_csv(data: bytes) -> dict[str, int]:
    """{団体コード: 人口} from a CSV with the columns 団体コード and 人口 (other columns ignored), in UTF-8 (with or
    without BOM) or Shift_JIS (cp932), commas in numbers and full-width digits accepted.

    Raises cost_share.CostShareError (Japanese), naming the line, for a missing column, an unreadable
    number or a file in neither encoding.
    """
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise cost_share.CostShareError(
            gettext("ファイルの文字コードを読めません。UTF-8 か Shift_JIS の CSV にしてください。")
        )
    reader = csv.reader(io.StringIO(text))
    header = [to_halfwidth_ascii(cell).strip() for cell in next(reader, [])]
    missing = [name for name in ("団体コード", "人口") if name not in header]
    if missing:
        raise cost_share.CostShareError(
            gettext(
                "1行目に「%(columns)s」の列がありません。1行目に 団体コード と 人口 の見出しを置いてください。"
            )
            % {"columns": "」「".join(missing)}
        )
    code_at, population_at = header.index("団体コード"), header.index("人口")
    result: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(code_at, population_at):
            raise cost_share.CostShareError(
                gettext("%(line)s行目：団体コードか人口がありません。") % {"line": line}
            )
        code = to_halfwidth_ascii(row[code_at]).strip()
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise cost_share.CostShareError(
                gettext("%(line)s行目：団体コードは6桁の数字です（%(code)s）。")
                % {"line": line, "code": code[:20]}
            )
        value = population_value(row[population_at])
        if value is None:
            raise cost_share.CostShareError(
                gettext("%(line)s行目：%(rule)s")
                % {"line": line, "rule": population_problem(row[population_at])}
            )
        result[code] = value
    if not result:
        raise cost_share.CostShareError(gettext("人口の行がありません。"))
    return result
