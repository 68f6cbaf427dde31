"""負担金: the shares always add up to the cost, more use never pays less, 6 months pays for 6."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.stats.cost_share import CostShareError, Member, Weights, compute, months_of_membership

percent_triples = (
    st.tuples(st.integers(0, 100), st.integers(0, 100))
    .filter(lambda t: t[0] + t[1] <= 100)
    .map(lambda t: Weights(t[0], t[1], 100 - t[0] - t[1]))
)
members_lists = st.lists(
    st.builds(
        Member,
        code=st.from_regex(r"3[0-9]{5}", fullmatch=True),
        population=st.integers(0, 3_000_000),
        usage=st.integers(0, 100_000),
        months=st.integers(0, 12),
    ),
    min_size=1,
    max_size=25,
    unique_by=lambda m: m.code,
).filter(lambda ms: any(m.months for m in ms))


@settings(max_examples=300)
@given(cost=st.integers(0, 10**10), weights=percent_triples, members=members_lists)
def test_the_shares_always_add_up_to_the_cost_in_whole_yen(cost, weights, members):
    result = compute(cost=cost, weights=weights, members=members)
    assert sum(s.amount for s in result.shares) == cost
    for share in result.shares:
        assert isinstance(share.amount, int) and share.amount >= 0
        # Never more than one yen away from the exact share.
        assert share.exact - 1 < share.amount < share.exact + 1 or share.amount == share.exact
    assert 0 <= result.remainder < max(1, len([m for m in members if m.months]))


@settings(max_examples=300)
@given(
    cost=st.integers(0, 10**9),
    weights=percent_triples,
    members=members_lists,
    extra=st.integers(1, 10_000),
    index=st.integers(0, 24),
)
def test_a_member_with_more_use_never_pays_less_than_an_otherwise_equal_member(
    cost, weights, members, extra, index
):
    base = members[index % len(members)]
    if base.months == 0:
        base = replace(base, months=12)
    twin = replace(base, code="999999" if base.code != "999999" else "399999")
    busier = replace(base, usage=base.usage + extra)
    others = [m for m in members if m.code not in (base.code, twin.code)]
    result = compute(cost=cost, weights=weights, members=[*others, twin, busier])
    amounts = {s.code: s.amount for s in result.shares}
    assert amounts[busier.code] >= amounts[twin.code]


@settings(max_examples=200)
@given(
    cost=st.integers(0, 10**9), weights=percent_triples, members=members_lists, extra=st.integers(1, 10_000)
)
def test_more_use_never_lowers_a_members_own_share(cost, weights, members, extra):
    before = compute(cost=cost, weights=weights, members=members)
    first = next(m for m in members if m.months)
    after = compute(
        cost=cost,
        weights=weights,
        members=[replace(m, usage=m.usage + extra) if m is first else m for m in members],
    )
    own = {s.code: s.amount for s in before.shares}[first.code]
    assert {s.code: s.amount for s in after.shares}[first.code] >= own


def test_a_member_that_joined_for_six_months_pays_for_six():
    # Only the equal and population parts depend on months: with the same population, half the months
    # is half the share (usage is what it used while a member).
    members = [
        Member("312011", population=100_000, usage=0, months=12),
        Member("312029", population=100_000, usage=0, months=6),
    ]
    result = compute(cost=1_800_000, weights=Weights(50, 50, 0), members=members)
    amounts = {s.code: s.amount for s in result.shares}
    assert amounts == {"312011": 1_200_000, "312029": 600_000}


def test_tottoris_late_joiners_are_counted_from_the_first_month_they_belonged():
    # Joined on 1 April of the next year: nothing in FY2020, all 12 months of FY2021.
    assert months_of_membership(2020, date(2021, 4, 1)) == 0
    assert months_of_membership(2021, date(2021, 4, 1)) == 12
    assert months_of_membership(2021, date(2021, 10, 1)) == 6
    assert months_of_membership(2021, date(2021, 10, 15)) == 5  # from November
    assert months_of_membership(2021, None, date(2021, 9, 30)) == 6  # left at the end of September
    assert months_of_membership(2021, None, None) == 12
    assert months_of_membership(2021, date(2022, 3, 1)) == 1


def test_the_formula_parts_and_the_stated_remainder_rule():
    # 100 yen among three equal members: 33 each and one yen left, which goes to the busiest.
    members = [
        Member("312011", population=10, usage=5, months=12),
        Member("312029", population=10, usage=7, months=12),
        Member("312037", population=10, usage=5, months=12),
    ]
    result = compute(cost=100, weights=Weights(100, 0, 0), members=members)
    amounts = {s.code: s.amount for s in result.shares}
    assert amounts == {"312011": 33, "312029": 34, "312037": 33}
    assert result.remainder == 1
    share = next(s for s in result.shares if s.code == "312029")
    assert share.rounded_up and share.equal * 3 == 100


def test_no_usage_at_all_is_split_by_months_so_the_cost_is_still_covered():
    members = [Member("312011", 1, 0, 12), Member("312029", 1, 0, 12)]
    result = compute(cost=1_000, weights=Weights(0, 0, 100), members=members)
    assert [s.amount for s in result.shares] == [500, 500]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cost": -1}, "0円以上"),
        ({"cost": 1.5}, "0円以上"),
        ({"weights": Weights(10, 40, 40)}, "合計が90%"),
        ({"weights": Weights(-10, 60, 50)}, "均等割"),
        ({"members": [Member("312011", -1, 0, 12)]}, "0以上"),
        ({"members": [Member("312011", 1, 0, 13)]}, "0から12"),
        ({"members": [Member("312011", 1, 0, 12), Member("312011", 2, 0, 12)]}, "2回"),
        ({"members": [Member("312011", 1, 0, 0)]}, "加入していた団体がありません"),
    ],
)
def test_bad_input_is_refused_with_a_japanese_message(kwargs, message):
    arguments = {
        "cost": 1000,
        "weights": Weights(10, 40, 50),
        "members": [Member("312011", 1, 1, 12)],
        **kwargs,
    }
    with pytest.raises(CostShareError, match=message):
        compute(**arguments)
