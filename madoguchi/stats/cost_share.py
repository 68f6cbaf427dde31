"""負担金: how the members of a working group (部会) split a shared system's yearly cost.

A council runs several shared systems, each through its own working group whose members join and leave on
dates. For one 部会 and one 年度 the secretariat enters the yearly cost (yen) and the weights of the three
parts councils use (均等割, 人口割, 件数割, in whole percent summing to 100). Each part is split among the
members in proportion to:

- 均等割 (equal):       months of membership in the 年度
- 人口割 (population):  population × months of membership
- 件数割 (usage):       submissions received in the 年度 (already counted only while a member)

so a member that belonged for 6 of the 12 months pays for 6. The exact shares are fractions of a yen; each
member pays the whole-yen floor of its exact share, and the yen left over (fewer than the number of members)
go one each to the members with the largest fractional parts, ties broken by more usage, then larger
population, then more months, then the smaller organization code. The shares therefore add up to the cost
exactly, and a member with more use never pays less than an otherwise equal member.

Pure functions: no database. Amounts are integers of yen; weights integers of percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from django.utils.translation import gettext

from madoguchi.lib.japanese import InputError, to_halfwidth_ascii, ungroup_digits


def _typed(text: str, strip: str) -> str:
    """What the secretariat typed, half-width, without spaces and without the characters in `strip` at
    its end."""
    t = to_halfwidth_ascii(text or "").strip().replace(" ", "")
    for suffix in strip:
        t = t.removesuffix(suffix)
    return t


def whole_number(text: str, *, strip: str = "") -> int | None:
    """A whole number of at most 15 digits as the secretariat types it: '30,000,000円' / '３０，０００，０００' /
    '40%' / '188,465人' → int, the characters in `strip` taken off its end; None when it is not one ≥ 0,
    or when its commas do not group the digits in threes ('30,000,00': `japanese.ungroup_digits`)."""
    try:
        t = ungroup_digits(_typed(text, strip))
    except InputError:
        return None
    if not t or len(t) > 15 or not (t.isascii() and t.isdigit()):
        return None
    return int(t)


def misplaced_commas(text: str, *, strip: str = "") -> bool:
    """Whether whole_number refuses `text` for its commas alone ('30,000,00', '12,34'), for a message that
    says where commas go (japanese.GROUPING_MESSAGE) rather than what a number must be."""
    try:
        ungroup_digits(_typed(text, strip))
    except InputError:
        return True
    return False


class CostShareError(ValueError):
    """Input that cannot be split; the message is Japanese and shown to the secretariat as it is."""


@dataclass(frozen=True)
class Weights:
    """Percent of the cost split equally, by population and by usage: integers summing to 100."""

    equal: int
    population: int
    usage: int

    def check(self) -> None:
        """Raises CostShareError unless every weight is 0–100 and they sum to 100."""
        for label, value in (
            (gettext("均等割"), self.equal),
            (gettext("人口割"), self.population),
            (gettext("件数割"), self.usage),
        ):
            if not isinstance(value, int) or value < 0 or value > 100:
                raise CostShareError(
                    gettext("%(part)sの割合は0から100までの整数（%%）で入力してください。") % {"part": label}
                )
        total = self.equal + self.population + self.usage
        if total != 100:
            raise CostShareError(
                gettext(
                    "均等割・人口割・件数割の割合の合計が%(total)s%%です。合計が100%%になるように入力してください。"
                )
                % {"total": total}
            )


@dataclass(frozen=True)
class Member:
    """One member of the 部会 in the 年度: its code (sort key of last resort), population, usage and months."""

    code: str
    population: int
    usage: int
    months: int


@dataclass(frozen=True)
class Share:
    """One member's share in whole yen, with the exact parts it came from (for the formula shown per member)."""

    code: str
    equal: Fraction
    population: Fraction
    usage: Fraction
    exact: Fraction
    rounded_up: bool
    amount: int


@dataclass(frozen=True)
class Result:
    cost: int
    weights: Weights
    shares: list[Share] = field(default_factory=list)

    @property
    def remainder(self) -> int:
        """Yen handed out one each after the floors (0 ≤ remainder < number of paying members)."""
        return sum(1 for share in self.shares if share.rounded_up)


def months_of_membership(fiscal_year: int, joined_on: date | None, left_on: date | None = None) -> int:
    """Months of 年度 `fiscal_year` (April to March) whose first day falls within the membership.

    `joined_on` is the first day of membership (None: a member from before the 年度), `left_on` the last day
    (None: still a member). A member who joins on 1 October is counted from October (6 months); one who
    joins on 15 October, from November (5 months). Returns 0–12.
    """
    count = 0
    for index in range(12):
        month = 4 + index
        year = fiscal_year + (month - 1) // 12
        first = date(year, (month - 1) % 12 + 1, 1)
        if (joined_on is None or joined_on <= first) and (left_on is None or first <= left_on):
            count += 1
    return count


def _split(amount: Fraction, weights: dict[str, int]) -> dict[str, Fraction]:
    total = sum(weights.values())
    if total == 0:
        return {code: Fraction(0) for code in weights}
    return {code: amount * weight / total for code, weight in weights.items()}


def compute(*, cost: int, weights: Weights, members: list[Member]) -> Result:
    """Each member's share of `cost` yen for one 部会 and 年度 (see the module docstring for the rule).

    Members with 0 months pay nothing. A part whose basis is zero for every paying member (no usage at all in
    the 年度, say) is split equally by months instead, so the shares still add up to the cost.
    Raises CostShareError (Japanese message) for a negative or non-integer cost, weights not summing to 100,
    a negative population or usage, months outside 0–12, a duplicated code, or a cost with no paying member.
    """
    if not isinstance(cost, int) or isinstance(cost, bool) or cost < 0:
        raise CostShareError(gettext("年間の費用は0円以上の整数（円）で入力してください。"))
    weights.check()
    codes = [m.code for m in members]
    if len(set(codes)) != len(codes):
        raise CostShareError(gettext("同じ団体が2回入っています。"))
    for m in members:
        if m.population < 0 or m.usage < 0:
            raise CostShareError(
                gettext("%(code)s：人口と件数は0以上で入力してください。") % {"code": m.code}
            )
        if not 0 <= m.months <= 12:
            raise CostShareError(gettext("%(code)s：加入月数は0から12までです。") % {"code": m.code})
    paying = [m for m in members if m.months > 0]
    if cost > 0 and not paying:
        raise CostShareError(gettext("この年度に加入していた団体がありません。"))

    by_months = {m.code: m.months for m in paying}
    by_population = {m.code: m.population * m.months for m in paying}
    by_usage = {m.code: m.usage for m in paying}
    if sum(by_population.values()) == 0:
        by_population = by_months
    if sum(by_usage.values()) == 0:
        by_usage = by_months
    equal = _split(Fraction(cost * weights.equal, 100), by_months)
    population = _split(Fraction(cost * weights.population, 100), by_population)
    usage = _split(Fraction(cost * weights.usage, 100), by_usage)

    exact = {m.code: equal[m.code] + population[m.code] + usage[m.code] for m in paying}
    floors = {code: value.numerator // value.denominator for code, value in exact.items()}
    left = cost - sum(floors.values())
    order = sorted(
        paying,
        key=lambda m: (-(exact[m.code] - floors[m.code]), -m.usage, -m.population, -m.months, m.code),
    )
    up = {m.code for m in order[:left]}
    shares = []
    for m in members:
        if m.months == 0:
            shares.append(Share(m.code, Fraction(0), Fraction(0), Fraction(0), Fraction(0), False, 0))
            continue
        shares.append(
            Share(
                code=m.code,
                equal=equal[m.code],
                population=population[m.code],
                usage=usage[m.code],
                exact=exact[m.code],
                rounded_up=m.code in up,
                amount=floors[m.code] + (1 if m.code in up else 0),
            )
        )
    return Result(cost=cost, weights=weights, shares=shares)
