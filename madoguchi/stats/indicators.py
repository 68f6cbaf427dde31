"""指標 (policy indicators): a baseline, a target per 年度, the actual, the achievement ratio and the ◎○△×
progress rating (進捗評価), as on the policy sheets this product was specified from.

The rating
----------
The achievement ratio (達成率) of a 年度 is, in percent,

- actual ÷ target × 100 when a higher value is better (申請件数: 42,800 against 18,000 is 237.7 %);
- target ÷ actual × 100 when a lower value is better (停止時間: 40 minutes against a target of 50 is 125 %),
  and an actual of 0 (or less) against a positive target is better than any ratio: ◎.

The ratio is compared with the thresholds of the indicator's organization (or council): ◎ 予定以上 at or above
`excellent`, ○ 予定通り at or above `on_track`, △ やや遅れ at or above `slightly_behind`, else × 大幅遅れ.
The defaults are 110 %, 100 % and 80 % (DEFAULT_THRESHOLDS). The ratio shown is cut (not rounded) to one
decimal, so a shown 109.9 % is never a ◎ and a shown 110.0 % always is.

The plain ratio is used rather than progress from the baseline ((actual − baseline) ÷ (target − baseline)):
the sheets give no baseline for some indicators, a baseline years old (1,005 in H22) makes the two agree
anyway, and the plain ratio is what the sheets' own 達成率 columns show.

Without a rating (Rating.mark == ""): no target for the 年度, no actual, a target of 0 or less (目標値が0: no
ratio can be formed). rate() never raises for any Decimal input.

Actuals
-------
An indicator's actual per 年度 is either entered by hand (IndicatorYear.actual, with who and when, audited)
or counted from the arrivals (stats.models.MonthlyCount, the JST days' counts summed by month, so a
submission at 00:00 JST on 1 April belongs to the new 年度): all members' procedures for a council
indicator, the organization's own procedures, or chosen procedures of the organization. Counting never
reads the submissions table.

The demo data (data/policy-indicators.csv)
------------------------------------------
One row per indicator and 年度, UTF-8 with a header line:

- source: the sheet it comes from (工程表 of a division, a policy's sheet), kept as 出典;
- organization: the 6-digit 団体コード of the owner; empty: the council's indicator;
- indicator, kind (成果指標 / 活動指標 / 主指標 / 副指標 / 県民指標), unit (件, 分, %, …);
- direction: higher (a higher value is better) or lower (e.g. minutes of downtime);
- fiscal_year (the Western year the 年度 starts in), baseline_value and baseline_when (free text: H22年);
- target and actual of that 年度 (actual empty: not yet known);
- long_term_target and long_term_when (free text: R3年度末);
- note: free text; a part such as 「R3年度 target 20.0」 is the target of another 年度 and is loaded as one.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation, localcontext
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from madoguchi.accounts import access
from madoguchi.audit import services as audit
from madoguchi.lib import japanese as ja
from madoguchi.stats import counts
from madoguchi.stats.models import Indicator, IndicatorYear, MonthlyCount, RatingThresholds

DATA_FILE = Path(__file__).resolve().parent / "data" / "policy-indicators.csv"
MAX_VALUE_TEXT = 40  # characters of a typed value: '1,000,000,000,000.125 件' fits
MAX_DIGITS, DECIMAL_PLACES = 20, 3  # as the model's DecimalFields


class IndicatorError(ValueError):
    """Input an indicator cannot take. str() is a Japanese message fit to show."""


# ----------------------------------------------------------------------------------------------
# The rating: pure functions
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Lower bounds of ◎, ○ and △ in percent of achievement; excellent ≥ on_track ≥ slightly_behind > 0."""

    excellent: Decimal = Decimal(110)
    on_track: Decimal = Decimal(100)
    slightly_behind: Decimal = Decimal(80)

    def check(self) -> None:
        """Raise IndicatorError (Japanese) unless 0 < △ ≤ ○ ≤ ◎ ≤ 10000."""
        if not (0 < self.slightly_behind <= self.on_track <= self.excellent <= 10000):
            raise IndicatorError(
                gettext("基準は ◎ ≧ ○ ≧ △ ＞ 0 になるように入力してください（例：◎ 110、○ 100、△ 80）。")
            )


DEFAULT_THRESHOLDS = Thresholds()

MARKS = {
    "excellent": ("◎", gettext_lazy("予定以上")),
    "on_track": ("○", gettext_lazy("予定通り")),
    "slightly_behind": ("△", gettext_lazy("やや遅れ")),
    "far_behind": ("×", gettext_lazy("大幅遅れ")),
}
# Order of the ratings, worst first: a better actual never moves down this list.
ORDER = ("far_behind", "slightly_behind", "on_track", "excellent")


@dataclass(frozen=True)
class Rating:
    """level: one of ORDER, or "" when no rating can be given (then `reason` says why, in Japanese).
    ratio: the achievement in percent (exact), None when there is none to show."""

    level: str
    ratio: Decimal | None = None
    reason: str = ""

    @property
    def mark(self) -> str:
        return MARKS[self.level][0] if self.level else ""

    @property
    def label(self) -> str:
        return str(MARKS[self.level][1]) if self.level else self.reason

    @property
    def ratio_text(self) -> str:
        """The ratio cut to one decimal, e.g. '237.7%'; '' when there is none."""
        if self.ratio is None:
            return ""
        return f"{self.ratio.quantize(Decimal('0.1'), rounding=ROUND_DOWN):,f}%"

    @property
    def rank(self) -> int:
        """-1 for no rating, else the position in ORDER (0 = ×, 3 = ◎)."""
        return ORDER.index(self.level) if self.level else -1


def rate(
    *,
    actual: Decimal | int | None,
    target: Decimal | int | None,
    direction: str = Indicator.Direction.HIGHER,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Rating:
    """The rating of an actual against a target (see the module's docstring for the rule and its source).

    actual, target: in the indicator's unit, None when missing; direction: Indicator.Direction. Never
    raises for finite or missing values; a target of 0 or less gives no rating (reason 目標値が0).
    """
    if target is None:
        return Rating("", reason=gettext("評価できません（目標値がありません）"))
    if actual is None:
        return Rating("", reason=gettext("評価できません（実績値がありません）"))
    target, actual = Decimal(target), Decimal(actual)
    if not (target.is_finite() and actual.is_finite()):
        return Rating("", reason=gettext("評価できません（数値ではありません）"))
    if target <= 0:
        return Rating("", reason=gettext("評価できません（目標値が0）"))
    if direction == Indicator.Direction.LOWER:
        if actual <= 0:
            return Rating("excellent")
        better, worse = target, actual  # the ratio is target ÷ actual
    else:
        better, worse = actual, target
    # The level by exact products (no rounding: values have at most 20 digits, so 60 are plenty): the
    # ratio better ÷ worse × 100 is at least a threshold t exactly when better × 100 ≥ t × worse.
    with localcontext(_EXACT):
        scaled = better * 100
        if scaled >= thresholds.excellent * worse:
            level = "excellent"
        elif scaled >= thresholds.on_track * worse:
            level = "on_track"
        elif scaled >= thresholds.slightly_behind * worse:
            level = "slightly_behind"
        else:
            level = "far_behind"
    # The ratio shown, rounded down, so it never reads as reaching a threshold the level did not reach.
    with localcontext(_SHOWN):
        ratio = scaled / worse
    return Rating(level, ratio=ratio)


_EXACT = Context(prec=60)
_SHOWN = Context(prec=28, rounding=ROUND_DOWN)


# ----------------------------------------------------------------------------------------------
# Reading: thresholds, counted actuals, a page's rows
# ----------------------------------------------------------------------------------------------


def thresholds_for(*, organization=None, council=None) -> Thresholds:
    """The thresholds of a council (when given) or an organization; the defaults when none were set."""
    if council is not None:
        row = RatingThresholds.objects.filter(council=council).first()
    else:
        row = RatingThresholds.objects.filter(organization=organization, council__isnull=True).first()
    if row is None:
        return DEFAULT_THRESHOLDS
    return Thresholds(row.excellent, row.on_track, row.slightly_behind)


def counted_actuals(indicators, council_months: dict[int, dict] | None = None) -> dict[tuple[int, int], int]:
    """{(indicator id, 年度): submissions} for the indicators counted from the arrivals (MonthlyCount).

    A council indicator counts all its current members' procedures; an organization indicator its
    organization's; a procedures indicator the procedures chosen. The database sums each kind at the grain it
    needs (by council and month: counts.council_totals_by_month, a row per closed month; by organization
    and 年度: counts.summed_by_organization_month, a row per organization and closed month; by procedure and
    年度), so what comes back is a row a 年度 or a month and not a row per procedure. A fixed number of
    queries for any number of indicators, plus five per council, none for a council in `council_months`
    ({council id: counts.council_totals_by_month(council id)}, when the caller has it already)."""
    counted = [i for i in indicators if i.actual_source != Indicator.Source.MANUAL]
    result: dict[tuple[int, int], int] = defaultdict(int)
    by_source: dict[str, list] = defaultdict(list)
    for indicator in counted:
        by_source[indicator.actual_source].append(indicator)
    if by_source[Indicator.Source.COUNCIL]:
        for council_id in sorted({i.council_id for i in by_source[Indicator.Source.COUNCIL]}):
            if council_months is not None and council_id in council_months:
                per_year = counts.by_fiscal_year(council_months[council_id])
            else:
                per_year = counts.council_totals_by_fiscal_year(council_id)
            for indicator in by_source[Indicator.Source.COUNCIL]:
                if indicator.council_id == council_id:
                    for year, total in per_year.items():
                        result[(indicator.pk, year)] += total
    if by_source[Indicator.Source.ORGANIZATION]:
        per_organization = counts.summed_by_organization_month(
            [i.organization_id for i in by_source[Indicator.Source.ORGANIZATION]],
            ("organization_id", "fiscal_year"),
        )
        for indicator in by_source[Indicator.Source.ORGANIZATION]:
            for (organization_id, year), total in per_organization.items():
                if organization_id == indicator.organization_id:
                    result[(indicator.pk, year)] += total
    if by_source[Indicator.Source.PROCEDURES]:
        chosen: dict[int, set[int]] = defaultdict(set)
        for indicator_id, procedure_id in Indicator.procedures.through.objects.filter(
            indicator_id__in=[i.pk for i in by_source[Indicator.Source.PROCEDURES]]
        ).values_list("indicator_id", "procedure_id"):
            chosen[indicator_id].add(procedure_id)
        per_procedure: dict[int, dict[int, int]] = defaultdict(dict)
        for row in (
            MonthlyCount.objects.filter(procedure_id__in=set().union(*chosen.values()))
            .values("procedure_id", "fiscal_year")
            .annotate(total=Sum("count"))
        ):
            per_procedure[row["procedure_id"]][row["fiscal_year"]] = row["total"]
        for indicator in by_source[Indicator.Source.PROCEDURES]:
            for procedure_id in chosen[indicator.pk]:
                for year, total in per_procedure[procedure_id].items():
                    result[(indicator.pk, year)] += total
    return dict(result)


def _counts_filter(indicator) -> dict:
    """The monthly counts of a procedures indicator: its organization's chosen procedures."""
    return {
        "organization_id": indicator.organization_id,
        "procedure_id__in": Indicator.procedures.through.objects.filter(indicator_id=indicator.pk).values(
            "procedure_id"
        ),
    }


def monthly_counts(indicator, fiscal_year: int, council_months: dict | None = None) -> list[tuple[int, int]]:
    """[(month, submissions)] of a counted indicator for the twelve months of a 年度, April first (JST
    months: a council's from counts.council_months_of_year, an organization's from counts.totals_by_month,
    chosen procedures' from the monthly counts). A manual indicator: an empty list. `council_months`: a
    council indicator's counts.council_totals_by_month(council id), when the caller has it already."""
    if indicator.actual_source == Indicator.Source.MANUAL:
        return []
    if indicator.actual_source == Indicator.Source.COUNCIL:
        if council_months is not None:
            return [(m.month, council_months.get(m, 0)) for m in counts.fiscal_year_months(fiscal_year)]
        return [(m.month, n) for m, n in counts.council_months_of_year(indicator.council_id, fiscal_year)]
    if indicator.actual_source == Indicator.Source.ORGANIZATION:
        return [(m.month, n) for m, n in counts.totals_by_month([indicator.organization_id], fiscal_year)]
    months = [4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3]
    totals = dict.fromkeys(months, 0)
    rows = (
        MonthlyCount.objects.filter(fiscal_year=fiscal_year, **_counts_filter(indicator))
        .values("month")
        .annotate(total=Sum("count"))
    )
    for row in rows:
        totals[row["month"].month] += row["total"]
    return [(m, totals[m]) for m in months]


@dataclass
class YearRow:
    """One 年度 of an indicator as the pages show it."""

    fiscal_year: int
    target: Decimal | None
    actual: Decimal | None
    counted: bool  # the actual comes from the daily counts
    entered_by: str  # who entered the actual by hand ('' when counted or none)
    entered_at: object  # datetime (UTC) or None
    rating: Rating
    in_progress: bool = False  # a counted 年度 not yet over (JST): the count so far

    @property
    def label(self) -> str:
        return ja.format_fiscal_year(self.fiscal_year)


def year_rows(
    indicator, thresholds: Thresholds, counted: dict[tuple[int, int], int], *, today: date | None = None
) -> list[YearRow]:
    """The indicator's 年度 (those with a target, an actual by hand or a count), oldest first, each rated.

    A counted indicator's current 年度 (JST `today`, default now) is rated on its count so far and marked
    in_progress; a later 年度 has no actual yet. Expects `indicator.years` prefetched (with their users)
    for lists: no query of its own then."""
    current = ja.fiscal_year(today or timezone.now())
    records = {y.fiscal_year: y for y in indicator.years.all()}
    is_counted = indicator.actual_source != Indicator.Source.MANUAL
    years = set(records)
    if is_counted:
        years |= {fy for (pk, fy) in counted if pk == indicator.pk}
    rows = []
    for fy in sorted(years):
        record = records.get(fy)
        target = record.target if record else None
        if is_counted:
            actual = Decimal(counted.get((indicator.pk, fy), 0)) if fy <= current else None
            who, when = "", None
        else:
            actual = record.actual if record else None
            who = ""
            if record is not None and record.actual is not None:
                who = (
                    record.actual_entered_by.get_username()
                    if record.actual_entered_by
                    else gettext("システム")
                )
            when = record.actual_entered_at if record else None
        rows.append(
            YearRow(
                fiscal_year=fy,
                target=target,
                actual=actual,
                counted=is_counted,
                entered_by=who,
                entered_at=when,
                rating=rate(
                    actual=actual, target=target, direction=indicator.direction, thresholds=thresholds
                ),
                in_progress=is_counted and fy == current,
            )
        )
    return rows


def summary_rows(indicators, thresholds: Thresholds, fiscal_year: int | None = None) -> list[dict]:
    """For a list page: [{indicator, row}] where row is the YearRow of `fiscal_year`, or of the latest 年度
    with a target or an actual when None (row None: nothing yet). Pass indicators with `years` prefetched;
    the counts cost at most three queries in all."""
    indicators = list(indicators)
    counted = counted_actuals(indicators)
    result = []
    for indicator in indicators:
        rows = year_rows(indicator, thresholds, counted)
        if fiscal_year is None:
            chosen = rows[-1] if rows else None
        else:
            chosen = next((r for r in rows if r.fiscal_year == fiscal_year), None)
        result.append({"indicator": indicator, "row": chosen})
    return result


def indicators_of(*, organization=None, council=None):
    """The indicators of a council (when given) or of an organization (its own, not its councils'), with
    their years and the users who entered them: three queries however many there are."""
    queryset = Indicator.objects.filter(council=council) if council is not None else None
    if queryset is None:
        queryset = Indicator.objects.filter(organization=organization, council__isnull=True)
    return queryset.prefetch_related("years__actual_entered_by").order_by("pk")


# ----------------------------------------------------------------------------------------------
# Access: staff reach indicators only through these
# ----------------------------------------------------------------------------------------------


def can_change(user, indicator: Indicator) -> bool:
    """Whether the user may change the indicator, set its targets and enter its actuals: the council's
    secretariat for a council's, an admin or editor of the organization for an organization's."""
    if indicator.council_id is not None:
        return access.councils_for_user(user).filter(pk=indicator.council_id).exists()
    return access.roles_for_user(user).get(indicator.organization_id) in access.BUILD


def access_indicator_for_user(user, indicator_id: int, *, change: bool = False) -> Indicator:
    """An indicator for a user who may see it: a council's for its secretariat, an organization's for its
    staff (any role). Http404 for anyone else (another organization, another council's secretariat, even
    the secretariat organization's own staff for a council indicator); with change=True, PermissionDenied
    for a member who is neither admin nor editor."""
    indicator = Indicator.objects.filter(pk=indicator_id).select_related("organization", "council").first()
    if indicator is None:
        raise Http404
    if indicator.council_id is not None:
        access.access_council_for_user(user, indicator.council_id)
    else:
        role = access.roles_for_user(user).get(indicator.organization_id)
        if role is None:
            raise Http404
        if change and role not in access.BUILD:
            raise PermissionDenied
    return indicator


# ----------------------------------------------------------------------------------------------
# Input and writes (audited)
# ----------------------------------------------------------------------------------------------


def parse_value(text: str, *, what: str) -> Decimal:
    """A typed value → Decimal: '18,000', '１８，０００件', '12.5%', '−3' (full-width digits and signs,
    thousands commas, a trailing unit or %). `what` names the box in the message (目標値, 実績値).

    Raises IndicatorError (Japanese) for an empty box, control characters (NUL), more than MAX_VALUE_TEXT
    characters, anything not a number, commas that do not group the digits in threes (ja.ungroup_digits),
    more than 3 decimals or 17 integer digits."""
    text = text or ""
    if len(text) > MAX_VALUE_TEXT:
        raise IndicatorError(
            gettext("%(what)sが長すぎます（%(max)s文字まで）。数字だけを入力してください。")
            % {"what": what, "max": MAX_VALUE_TEXT}
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise IndicatorError(
            gettext("%(what)sに数字以外の見えない文字が入っています。数字だけを入力してください。")
            % {"what": what}
        )
    t = ja.normalize_dashes(ja.to_halfwidth_ascii(text)).strip().replace(" ", "")
    t = t.replace("\u2212", "-")
    if not t:
        raise IndicatorError(gettext("%(what)sを入力してください。") % {"what": what})
    t = re.sub(r"[^\d.]+$", "", t)  # a unit typed after the number: 件, 分, %
    try:
        t = ja.ungroup_digits(t)
    except ja.InputError:
        raise IndicatorError(
            gettext("%(what)sのカンマ（,）は3桁ごとに入れてください（例：18,000）。") % {"what": what}
        ) from None
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", t, re.ASCII):
        raise IndicatorError(
            gettext("%(what)sは数字で入力してください（例：18,000 または 12.5）。") % {"what": what}
        )
    try:
        value = Decimal(t)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above only lets numbers through
        raise IndicatorError(gettext("%(what)sは数字で入力してください。") % {"what": what}) from exc
    if abs(value) >= Decimal(10) ** (MAX_DIGITS - DECIMAL_PLACES):
        raise IndicatorError(gettext("%(what)sが大きすぎます。") % {"what": what})
    if value != value.quantize(Decimal("0.001")):
        raise IndicatorError(gettext("%(what)sの小数は3桁までにしてください。") % {"what": what})
    return value.quantize(Decimal("0.001")).normalize() if value else Decimal(0)


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _check_procedures(organization, procedures) -> None:
    from madoguchi.lib.integrity import OtherOrganizationError, check_same_organization

    try:
        check_same_organization(organization, *procedures)
    except OtherOrganizationError as exc:
        raise IndicatorError(str(exc)) from exc


DEFINITION_FIELDS = (
    "name",
    "kind",
    "unit",
    "direction",
    "baseline_value",
    "baseline_when",
    "long_term_target",
    "long_term_when",
    "actual_source",
    "source",
    "note",
)


def _check_definition(fields: dict, *, council) -> None:
    source = fields.get("actual_source", Indicator.Source.MANUAL)
    allowed = (
        {Indicator.Source.MANUAL, Indicator.Source.COUNCIL}
        if council is not None
        else {Indicator.Source.MANUAL, Indicator.Source.ORGANIZATION, Indicator.Source.PROCEDURES}
    )
    if source not in allowed:
        raise IndicatorError(gettext("この指標では選べない実績値の出し方です。"))
    for name in ("baseline_value", "long_term_target"):
        value = fields.get(name)
        if value is not None and value < 0:
            raise IndicatorError(gettext("基準値と長期目標値は0以上で入力してください。"))


@transaction.atomic
def create_indicator(*, organization=None, council=None, procedures=(), actor, **fields) -> Indicator:
    """Define an indicator of an organization, or of a council (its row then belongs to the secretariat).

    fields: those of DEFINITION_FIELDS. procedures: of the organization, for actual_source=procedures.
    Raises IndicatorError (Japanese) for a source the owner cannot use, a negative baseline or long-term
    target, or a procedure of another organization. Audited as indicator.create."""
    if council is not None:
        organization = council.secretariat
    _check_definition(fields, council=council)
    procedures = list(procedures)
    _check_procedures(organization, procedures)
    indicator = Indicator.objects.create(
        organization=organization,
        council=council,
        **{k: v for k, v in fields.items() if k in DEFINITION_FIELDS},
    )
    if procedures:
        indicator.procedures.set(procedures)
    audit.record(
        organization=organization,
        actor=actor,
        action="indicator.create",
        obj=indicator,
        detail={"name": indicator.name, "council": council.name if council else None},
    )
    return indicator


@transaction.atomic
def update_indicator(*, indicator: Indicator, procedures=(), actor, **fields) -> Indicator:
    """Change an indicator's definition (DEFINITION_FIELDS, and the procedures it counts). Same errors as
    create_indicator. Audited as indicator.update with the old and new value of each changed field."""
    _check_definition(fields, council=indicator.council)
    procedures = list(procedures)
    _check_procedures(indicator.organization, procedures)
    changed = {}
    for name in DEFINITION_FIELDS:
        if name in fields and getattr(indicator, name) != fields[name]:
            old, new = getattr(indicator, name), fields[name]
            changed[name] = [
                _plain(old) if isinstance(old, Decimal) else old,
                _plain(new) if isinstance(new, Decimal) else new,
            ]
            setattr(indicator, name, new)
    indicator.save()
    old_ids = set(indicator.procedures.values_list("pk", flat=True))
    new_ids = {p.pk for p in procedures} if indicator.actual_source == Indicator.Source.PROCEDURES else set()
    if old_ids != new_ids:
        indicator.procedures.set(new_ids)
        changed["procedures"] = [sorted(old_ids), sorted(new_ids)]
    if changed:
        audit.record(
            organization=indicator.organization,
            actor=actor,
            action="indicator.update",
            obj=indicator,
            detail={"name": indicator.name, "changed": changed},
        )
    return indicator


def _year(indicator: Indicator, fiscal_year: int) -> IndicatorYear:
    record = (
        IndicatorYear.objects.select_for_update().filter(indicator=indicator, fiscal_year=fiscal_year).first()
    )
    return record or IndicatorYear(
        indicator=indicator, organization_id=indicator.organization_id, fiscal_year=fiscal_year
    )


@transaction.atomic
def set_target(*, indicator: Indicator, fiscal_year: int, target: Decimal, actor) -> IndicatorYear:
    """Set (or change) the target of a 年度. target: in the indicator's unit, > 0.

    Raises IndicatorError (Japanese) for 0 (no ratio could be formed: 評価できません) or a negative value.
    Audited as indicator.target with the old and new value."""
    if target == 0:
        raise IndicatorError(
            gettext(
                "目標値に0は設定できません（達成率を計算できず、評価できません）。0より大きい値を入力してください。"
            )
        )
    if target < 0:
        raise IndicatorError(gettext("目標値は0より大きい値を入力してください。"))
    record = _year(indicator, fiscal_year)
    old = record.target
    record.target, record.target_set_by, record.target_set_at = target, _user(actor), timezone.now()
    record.save()
    audit.record(
        organization=indicator.organization,
        actor=actor,
        action="indicator.target",
        obj=indicator,
        detail={
            "name": indicator.name,
            "fiscal_year": fiscal_year,
            "old": _plain(old),
            "new": _plain(target),
        },
    )
    return record


@transaction.atomic
def set_actual(*, indicator: Indicator, fiscal_year: int, actual: Decimal, actor) -> IndicatorYear:
    """Enter (or correct) the actual of a 年度 by hand, keeping who and when. actual: ≥ 0, in the unit.

    Raises IndicatorError (Japanese) for an indicator counted from the daily counts, or a negative value.
    Audited as indicator.actual with the old and new value."""
    if indicator.actual_source != Indicator.Source.MANUAL:
        raise IndicatorError(gettext("この指標の実績値は申請件数から自動で数えます。手入力はできません。"))
    if actual < 0:
        raise IndicatorError(gettext("実績値は0以上で入力してください。"))
    record = _year(indicator, fiscal_year)
    old = record.actual
    record.actual, record.actual_entered_by, record.actual_entered_at = actual, _user(actor), timezone.now()
    record.save()
    audit.record(
        organization=indicator.organization,
        actor=actor,
        action="indicator.actual",
        obj=indicator,
        detail={
            "name": indicator.name,
            "fiscal_year": fiscal_year,
            "old": _plain(old),
            "new": _plain(actual),
        },
    )
    return record


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def set_thresholds(*, organization=None, council=None, thresholds: Thresholds, actor) -> RatingThresholds:
    """Set the ◎○△ thresholds (percent) of a council (when given) or an organization.

    Raises IndicatorError (Japanese) unless 0 < △ ≤ ○ ≤ ◎ ≤ 10000. Audited as indicator.thresholds."""
    thresholds.check()
    if council is not None:
        organization = council.secretariat
        row = RatingThresholds.objects.select_for_update().filter(council=council).first()
    else:
        row = (
            RatingThresholds.objects.select_for_update()
            .filter(organization=organization, council__isnull=True)
            .first()
        )
    old = thresholds_for(organization=organization, council=council)
    row = row or RatingThresholds(organization=organization, council=council)
    row.excellent, row.on_track, row.slightly_behind = (
        thresholds.excellent,
        thresholds.on_track,
        thresholds.slightly_behind,
    )
    row.save()
    audit.record(
        organization=organization,
        actor=actor,
        action="indicator.thresholds",
        obj=row,
        detail={
            "council": council.name if council else None,
            "old": [_plain(old.excellent), _plain(old.on_track), _plain(old.slightly_behind)],
            "new": [
                _plain(thresholds.excellent),
                _plain(thresholds.on_track),
                _plain(thresholds.slightly_behind),
            ],
        },
    )
    return row


# ----------------------------------------------------------------------------------------------
# The demo data
# ----------------------------------------------------------------------------------------------


def kinds_by_japanese_name() -> dict[str, str]:
    """{'成果指標': 'outcome', …}: the data set's kinds in the words of the Japanese catalogue, whatever
    language is active."""
    with translation.override("ja"):
        return {str(label): value for value, label in Indicator.Kind.choices}


_NOTE_TARGET = re.compile(r"((?:令和|平成|R|H)\s*(?:元|\d{1,2})\s*年度)\s*target\s*([0-9.,]+)")


# The sheets' notes as the data set gives them mix in English words; the pages show them in Japanese.
_NOTE_WORDS = (
    (re.compile(r"\s*target\s*"), "の目標値 "),
    (re.compile(r"\s*for the whole sheet"), "（工程表全体）"),
    (re.compile(r"maintenance and outside causes excluded"), "保守作業と外部要因による停止を除く"),
    (re.compile(r"\s*;\s*"), "。"),
)


_ERA_LETTERS = re.compile(r"(?<![A-Za-z])([RH])\s*(元|\d{1,2})\s*年")
_ERAS = {"R": "令和", "H": "平成"}


def spelled_eras(text: str) -> str:
    """The sheets' era letters written out as the pages write 年度: 'R3年度末' → '令和3年度末', 'H28年4月' →
    '平成28年4月', 'R1年度' → '令和元年度'."""
    return _ERA_LETTERS.sub(lambda m: f"{_ERAS[m[1]]}{'元' if m[2] in ('1', '元') else m[2]}年", text)


def japanese_note(note: str) -> str:
    """A sheet's 備考 with the data set's English words in Japanese and its era letters written out: 'H29年度
    target 45; maintenance and outside causes excluded' → '平成29年度の目標値 45。保守作業と外部要因による停止を除く'."""
    for pattern, words in _NOTE_WORDS:
        note = pattern.sub(words, note)
    return spelled_eras(note.strip())


def _decimal_or_none(text: str) -> Decimal | None:
    text = (text or "").strip()
    return Decimal(text.replace(",", "")) if text else None


@transaction.atomic
def load_indicator_csv(*, council, path: Path = DATA_FILE) -> tuple[int, int]:
    """Load the policy sheets' indicators (the columns are described in this module's docstring) as the
    given council's (rows without 団体コード) or an organization's indicators, with their targets and the
    actuals the sheets give (entered by システム). Idempotent: a second run changes nothing.

    Rows of an organization that does not exist are skipped. Returns (indicators created, year rows
    created or changed). Raises KeyError for an unknown kind (a broken file)."""
    from madoguchi.organizations.models import Organization

    organizations = {o.code: o for o in Organization.objects.all()}
    kinds = kinds_by_japanese_name()
    created = changed = 0
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["organization"].strip()
            if code and code not in organizations:
                continue
            owner_council = None if code else council
            organization = organizations[code] if code else council.secretariat
            indicator, made = Indicator.objects.get_or_create(
                organization=organization,
                council=owner_council,
                source=row["source"].strip(),
                name=row["indicator"].strip(),
                defaults={
                    "kind": kinds[row["kind"].strip()],
                    "unit": row["unit"].strip(),
                    "direction": row["direction"].strip(),
                    "baseline_value": _decimal_or_none(row["baseline_value"]),
                    "baseline_when": spelled_eras(row["baseline_when"].strip()),
                    "long_term_target": _decimal_or_none(row["long_term_target"]),
                    "long_term_when": spelled_eras(row["long_term_when"].strip()),
                    "note": japanese_note(row["note"])[:500],
                },
            )
            if made:
                created += 1
                audit.record(
                    organization=organization,
                    actor=None,
                    action="indicator.create",
                    obj=indicator,
                    detail={"name": indicator.name, "source": "csv"},
                )
            years = {
                int(row["fiscal_year"]): (_decimal_or_none(row["target"]), _decimal_or_none(row["actual"]))
            }
            for era_year, value in _NOTE_TARGET.findall(row["note"]):
                years.setdefault(ja.parse_fiscal_year(era_year), (_decimal_or_none(value), None))
            for fy, (target, actual) in years.items():
                record = IndicatorYear.objects.filter(indicator=indicator, fiscal_year=fy).first()
                if record is None:
                    record = IndicatorYear(indicator=indicator, organization=organization, fiscal_year=fy)
                elif record.target == target and record.actual == actual:
                    continue
                elif record.target is not None or record.actual is not None:
                    continue  # entered on the pages since: the pages' value stands
                now = timezone.now()
                record.target, record.target_set_at = target, now if target is not None else None
                record.actual, record.actual_entered_at = actual, now if actual is not None else None
                record.save()
                changed += 1
    return created, changed


COUNTED_DEMO_NAME = "電子申請の申請件数（構成団体すべて・自動集計）"


@transaction.atomic
def ensure_counted_demo_indicator(*, council, target: int = 50) -> Indicator:
    """The demo's council indicator counted from the daily counts of all members' procedures, with a target
    for the current 年度 (JST), so the monthly chart has something to show. Idempotent."""
    indicator, made = Indicator.objects.get_or_create(
        organization=council.secretariat,
        council=council,
        name=COUNTED_DEMO_NAME,
        defaults={
            "kind": Indicator.Kind.OUTCOME,
            "unit": "件",
            "actual_source": Indicator.Source.COUNCIL,
            "source": "デモデータ",
        },
    )
    if made:
        audit.record(
            organization=council.secretariat,
            actor=None,
            action="indicator.create",
            obj=indicator,
            detail={"name": indicator.name, "source": "demo"},
        )
    year = ja.fiscal_year(timezone.now())
    IndicatorYear.objects.get_or_create(
        indicator=indicator,
        fiscal_year=year,
        defaults={"organization": council.secretariat, "target": target, "target_set_at": timezone.now()},
    )
    return indicator
