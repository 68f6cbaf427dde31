"""Counts at every grain (stats/counts.py), read from the daily rollups: per 年度 (April–March, JST, by the
moment of arrival), month, organization, 所属, procedure and kind, and the procedures online."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.organizations.models import Department
from madoguchi.procedures.models import Procedure
from madoguchi.stats import counts
from madoguchi.stats.models import DailyCount, MonthlyCount
from madoguchi.stats.services import count_submission
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db

# 1 April 2026, 00:00 JST is 31 March 2026, 15:00 UTC: the first moment of 令和8年度.
FY2026_STARTS = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)


def arrive(procedure, at: datetime, n: int = 1) -> None:
    """n submissions arriving at `at`, written to the rollups as the submit service writes them."""
    with transaction.atomic():
        for _ in range(n):
            count_submission(procedure=procedure, at=at)


@pytest.fixture
def signup(tottori):
    return make_procedure(tottori, title="スマートフォン教室")


@pytest.fixture
def survey(tottori):
    procedure = make_procedure(tottori, title="利用者アンケート", kind="survey")
    procedure.department = Department.objects.create(organization=tottori, name="情報政策課")
    procedure.save(update_fields=["department"])
    return procedure


@pytest.fixture
def yonago_signup(yonago):
    return make_procedure(yonago, title="子育て講座")


def test_the_last_second_of_march_jst_and_the_first_of_april_fall_in_two_fiscal_years(tottori, signup):
    arrive(signup, FY2026_STARTS - timedelta(seconds=1))  # 31 March 23:59:59 JST
    arrive(signup, FY2026_STARTS, n=2)  # 1 April 00:00:00 JST
    assert counts.totals_by_fiscal_year(tottori) == {2025: 1, 2026: 2}
    march = counts.totals_by_month(tottori, 2025)
    april = counts.totals_by_month(tottori, 2026)
    assert march[-1] == (date(2026, 3, 1), 1) and sum(n for _, n in march) == 1
    assert april[0] == (date(2026, 4, 1), 2) and sum(n for _, n in april) == 2


def test_a_utc_date_of_31_march_after_15_00_is_already_april_in_japan(tottori, signup):
    # 20:00 UTC on 31 March: the UTC date says March, the JST date (1 April, 05:00) says the new 年度.
    arrive(signup, datetime(2026, 3, 31, 20, 0, tzinfo=UTC))
    assert counts.totals_by_fiscal_year(tottori) == {2026: 1}


def test_a_real_submission_at_jst_midnight_counts_in_the_new_fiscal_year(tottori, signup, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: FY2026_STARTS)
    make_submission(signup)
    assert counts.totals_by_fiscal_year(tottori) == {2026: 1}
    assert counts.totals_by_month(tottori, 2026)[0] == (date(2026, 4, 1), 1)


def test_twelve_months_from_april_to_march_with_zeros(tottori, signup):
    arrive(signup, datetime(2026, 5, 10, 3, tzinfo=UTC), n=3)
    arrive(signup, datetime(2027, 1, 31, 14, 59, tzinfo=UTC))  # 31 January 23:59 JST
    arrive(signup, datetime(2027, 1, 31, 15, 0, tzinfo=UTC))  # 1 February 00:00 JST
    months = counts.totals_by_month(tottori, 2026)
    assert [m for m, _ in months] == counts.fiscal_year_months(2026)
    assert [m.month for m, _ in months] == [4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3]
    assert dict(months) == {m: 0 for m in counts.fiscal_year_months(2026)} | {
        date(2026, 5, 1): 3,
        date(2027, 1, 1): 1,
        date(2027, 2, 1): 1,
    }


def test_per_organization_department_procedure_and_kind(tottori, yonago, signup, survey, yonago_signup):
    day = datetime(2026, 6, 1, 1, tzinfo=UTC)
    arrive(signup, day, n=4)
    arrive(survey, day, n=2)
    arrive(yonago_signup, day, n=1)
    arrive(signup, day - timedelta(days=365))  # the 年度 before: not in these counts

    assert counts.totals_by_organization([tottori, yonago], 2026) == {tottori.pk: 6, yonago.pk: 1}
    assert counts.totals_by_organization([yonago.pk], 2026) == {yonago.pk: 1}
    departments = counts.totals_by_department(tottori, 2026)
    assert [(d.name, d.count) for d in departments] == [("生涯学習課", 4), ("情報政策課", 2)]
    assert counts.totals_by_kind(tottori, 2026) == [
        ("application", "申請", 0),
        ("notification", "届出", 0),
        ("survey", "アンケート", 2),
        ("signup", "申込", 4),
    ]
    rows = counts.totals_by_procedure([tottori, yonago], 2026)
    assert [(r.organization_code, r.title, r.kind_label, r.department, r.count) for r in rows] == [
        ("312011", "スマートフォン教室", "申込", "生涯学習課", 4),
        ("312011", "利用者アンケート", "アンケート", "情報政策課", 2),
        ("312029", "子育て講座", "申込", "生涯学習課", 1),
    ]


def test_a_procedure_without_a_department_is_counted_under_none(tottori):
    procedure = make_procedure(tottori, title="所属のない手続")
    procedure.department = None
    procedure.save(update_fields=["department"])
    arrive(procedure, datetime(2026, 6, 1, tzinfo=UTC))
    assert counts.totals_by_department(tottori, 2026) == [counts.DepartmentCount(None, "", 1)]


def test_procedures_online_are_those_published_now(tottori, yonago, signup, survey):
    from madoguchi.procedures.services import set_procedure_status

    set_procedure_status(procedure=survey, status=Procedure.Status.CLOSED)
    Procedure.objects.create(organization=tottori, title="作成中の手続")  # a draft
    assert counts.published_procedures([tottori, yonago]) == {tottori.pk: 1}
    assert counts.published_procedures_by_kind(tottori) == {tottori.pk: {"signup": 1}}


def test_council_use_counts_members_side_by_side_and_marks_little_use(
    council, pref, tottori, yonago, signup, yonago_signup
):
    arrive(signup, datetime(2026, 6, 1, tzinfo=UTC), n=30)
    arrive(yonago_signup, datetime(2026, 6, 1, tzinfo=UTC), n=2)
    arrive(yonago_signup, datetime(2025, 6, 1, tzinfo=UTC), n=5)
    use = counts.council_use(council, 2026)
    by_code = {m.organization.code: m for m in use.members}
    assert [m.organization.code for m in use.members] == ["310000", "312011", "312029"]
    assert use.total == 32 and use.previous_total == 5
    assert use.median == 2 and use.threshold == counts.Decimal("0.2")
    assert by_code["310000"].count == 0 and by_code["310000"].low_use == "none"
    assert by_code["312011"].share == counts.Decimal("93.8") and by_code["312011"].low_use == ""
    assert by_code["312029"].previous == 5 and by_code["312029"].low_use == ""
    assert by_code["312011"].published == 1 and use.published_total == 2


def test_below_a_tenth_of_the_median_is_little_use(council, pref, tottori, yonago, signup, yonago_signup):
    pref_procedure = make_procedure(pref, title="県の手続")
    arrive(signup, datetime(2026, 6, 1, tzinfo=UTC), n=100)
    arrive(pref_procedure, datetime(2026, 6, 1, tzinfo=UTC), n=100)
    arrive(yonago_signup, datetime(2026, 6, 1, tzinfo=UTC), n=9)  # median 100 → below 10
    use = counts.council_use(council, 2026)
    assert [m.low_use for m in use.members] == ["", "", "low"]
    assert use.low_use_count == 1


def test_a_council_with_no_use_marks_every_member(council):
    use = counts.council_use(council, 2026)
    assert use.total == 0 and all(m.low_use == "none" and m.share is None for m in use.members)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
        ),
        max_size=25,
    )
)
def test_every_arrival_is_counted_once_in_its_jst_fiscal_year_and_month(tottori, signup, moments):
    jst = timezone.get_fixed_timezone(9 * 60)
    with transaction.atomic():
        for moment in moments:
            count_submission(procedure=signup, at=moment)
        expected_years: dict[int, int] = {}
        for moment in moments:
            day = moment.astimezone(jst).date()
            year = day.year if day.month >= 4 else day.year - 1
            expected_years[year] = expected_years.get(year, 0) + 1
        assert counts.totals_by_fiscal_year(tottori) == expected_years
        for year, total in expected_years.items():
            months = counts.totals_by_month(tottori, year)
            assert sum(n for _, n in months) == total
            for month, n in months:
                assert n == sum(
                    1
                    for m in moments
                    if (d := m.astimezone(jst).date()).year == month.year and d.month == month.month
                )
        transaction.set_rollback(True)


# Moments near a JST month's start (15:00 UTC on the day before), where a UTC date and a JST date differ.
month_edges = st.builds(
    lambda year, month, seconds: (
        datetime(year, month, 1, tzinfo=timezone.get_fixed_timezone(9 * 60)) + timedelta(seconds=seconds)
    ),
    st.integers(2024, 2028),
    st.integers(1, 12),
    st.integers(-3, 3),
)


def _months_from_days() -> dict[tuple[int, date], tuple[int, int]]:
    summed: dict[tuple[int, date], tuple[int, int]] = {}
    for row in DailyCount.objects.all():
        key = (row.procedure_id, row.day.replace(day=1))
        total, _year = summed.get(key, (0, row.fiscal_year))
        summed[key] = (total + row.count, row.fiscal_year)
    return summed


def _months() -> dict[tuple[int, date], tuple[int, int]]:
    return {(m.procedure_id, m.month): (m.count, m.fiscal_year) for m in MonthlyCount.objects.all()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrivals=st.lists(
        st.tuples(
            st.booleans(),
            st.one_of(
                month_edges,
                st.datetimes(
                    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
                ),
            ),
        ),
        max_size=25,
    )
)
def test_the_monthly_counts_are_always_the_daily_counts_summed_by_jst_month(
    tottori, signup, survey, arrivals
):
    """The council's pages read the monthly rollup, the cost share the daily one: they never disagree, and the
    migration that filled the monthly counts from the daily ones gives the same rows."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.db import connection

    fill = import_module("madoguchi.stats.migrations.0006_monthly_count").fill
    with transaction.atomic():
        for first, moment in arrivals:
            count_submission(procedure=signup if first else survey, at=moment)
        written = _months()
        assert written == _months_from_days()
        assert all(
            year == (month.year if month.month >= 4 else month.year - 1)
            for (_p, month), (_n, year) in written.items()
        )
        MonthlyCount.objects.all().delete()
        with connection.cursor() as cursor:  # the migration's own SQL, inside this test's transaction
            fill(None, SimpleNamespace(connection=connection, execute=cursor.execute))
        assert _months() == written
        transaction.set_rollback(True)


@given(part=st.integers(min_value=0, max_value=10**9), whole=st.integers(min_value=0, max_value=10**9))
def test_percent_is_rounded_half_up_to_one_place(part, whole):
    result = counts.percent(part, whole)
    if whole == 0:
        assert result is None
    else:
        assert abs(result - counts.Decimal(part) * 100 / whole) <= counts.Decimal("0.05")
        assert result.as_tuple().exponent == -1


def month_start_jst(today: date, months_back: int) -> datetime:
    """00:00 JST on the first day of the month `months_back` months before today's."""
    month = date(today.year, today.month, 1)
    for _ in range(months_back):
        month = (month - timedelta(days=1)).replace(day=1)
    return datetime(month.year, month.month, 1, tzinfo=timezone.get_fixed_timezone(9 * 60))


def _reference_by_organization_and_year() -> dict[tuple[int, int], int]:
    """The same sums straight from the monthly counts, for comparison."""
    summed: dict[tuple[int, int], int] = {}
    for row in MonthlyCount.objects.all():
        key = (row.organization_id, row.fiscal_year)
        summed[key] = summed.get(key, 0) + row.count
    return summed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("arrive"), st.booleans(), st.integers(0, 40), st.integers(0, 86399)),
            st.tuples(st.just("read"), st.just(False), st.just(0), st.just(0)),
        ),
        max_size=20,
    )
)
def test_sums_by_organization_from_closed_months_always_equal_the_monthly_counts(tottori, yonago, steps):
    """Pages read closed months from ClosedMonthCount, kept the first time they are read. Arrivals in any
    month (today's, last month's, or back-dated into a month already kept), reads in between: the sums
    always equal the monthly counts'."""
    signup_a = make_procedure(tottori, title="申込A")
    signup_b = make_procedure(yonago, title="申込B")
    today = timezone.localdate()
    with transaction.atomic():
        for kind, first, months_back, second in steps:
            if kind == "arrive":
                moment = month_start_jst(today, months_back)
                count_submission(
                    procedure=signup_a if first else signup_b, at=moment + timedelta(seconds=second)
                )
                continue
            expected = _reference_by_organization_and_year()
            both = [tottori.pk, yonago.pk]
            for year in {year for _org, year in expected} | {2026}:
                assert counts.totals_by_organization(both, year) == {
                    org: n for (org, y), n in expected.items() if y == year
                }
            by_year: dict[int, int] = {}
            for (_org, year), n in expected.items():
                by_year[year] = by_year.get(year, 0) + n
            assert counts.totals_by_fiscal_year(both) == by_year
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    ("today", "first_open"),
    [
        (date(2026, 12, 1), date(2026, 11, 1)),  # the month just ended stays open on its next day
        (date(2027, 1, 1), date(2026, 12, 1)),
        (date(2026, 4, 1), date(2026, 3, 1)),
        (date(2026, 12, 2), date(2026, 12, 1)),  # and closes the day after
        (date(2026, 12, 31), date(2026, 12, 1)),
        (date(2027, 1, 15), date(2027, 1, 1)),
    ],
)
def test_the_month_just_ended_stays_open_for_a_day(today, first_open):
    assert counts.first_open_month(today) == first_open


def test_a_closed_month_is_kept_once_and_summed_again_after_a_back_dated_count(tottori, signup):
    from madoguchi.stats.models import ClosedMonth, ClosedMonthCount

    long_ago = datetime(2024, 5, 10, 3, 0, tzinfo=UTC)
    count_submission(procedure=signup, at=long_ago)
    assert counts.totals_by_fiscal_year(tottori) == {2024: 1}
    assert ClosedMonthCount.objects.get(month=date(2024, 5, 1)).count == 1
    assert ClosedMonth.objects.filter(month=date(2024, 5, 1)).exists()
    count_submission(procedure=signup, at=long_ago)
    assert not ClosedMonth.objects.filter(month=date(2024, 5, 1)).exists()  # to be summed again
    assert counts.totals_by_fiscal_year(tottori) == {2024: 2}
    assert ClosedMonthCount.objects.get(month=date(2024, 5, 1)).count == 2


@pytest.mark.django_db(transaction=True)
def test_requests_reading_a_closed_month_at_once_keep_it_once(tottori):
    """Several pages asking for a month that has just closed at the same moment: each gets the right sums,
    none fails, and the month is kept once."""
    from django.db import close_old_connections

    from madoguchi.stats.models import ClosedMonth, ClosedMonthCount
    from tests.conftest import run_at_once

    procedure = make_procedure(tottori)
    for day in (3, 4, 5):
        count_submission(procedure=procedure, at=datetime(2025, 6, day, 3, 0, tzinfo=UTC))
    results, errors = [], []

    def read():
        try:
            results.append(counts.totals_by_fiscal_year(tottori))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            close_old_connections()

    run_at_once(*([read] * 6))
    assert errors == [] and results == [{2025: 3}] * 6
    assert ClosedMonthCount.objects.get(month=date(2025, 6, 1)).count == 3
    assert ClosedMonth.objects.filter(month=date(2025, 6, 1)).count() == 1


def _reference_council_by_month(council) -> dict[date, int]:
    """The council's members' sums by month straight from the monthly counts, for comparison."""
    from madoguchi.organizations.models import CouncilMembership

    members = set(CouncilMembership.objects.filter(council=council).values_list("organization_id", flat=True))
    summed: dict[date, int] = {}
    for row in MonthlyCount.objects.filter(organization_id__in=members):
        summed[row.month] = summed.get(row.month, 0) + row.count
    return {month: n for month, n in summed.items() if n}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(
                st.just("arrive"), st.sampled_from([0, 1, 2]), st.integers(0, 30), st.integers(0, 86399)
            ),
            st.tuples(st.just("read"), st.just(0), st.just(0), st.just(0)),
            st.tuples(st.sampled_from(["join", "leave"]), st.sampled_from([0, 1, 2]), st.just(0), st.just(0)),
        ),
        max_size=20,
    )
)
def test_the_councils_sums_from_its_closed_months_always_equal_its_members_monthly_counts(
    council, pref, tottori, yonago, steps
):
    """The council's pages read its own closed months (CouncilClosedMonthCount), kept the first time they are
    read. Arrivals in any month (back-dated into a month already kept included), members joining and leaving,
    reads in between: the council's sums by month and by 年度 always equal its members' monthly counts now."""
    from madoguchi.organizations.models import CouncilMembership

    organizations = [pref, tottori, yonago]
    procedures = [make_procedure(o, title=f"申込{i}") for i, o in enumerate(organizations)]
    today = timezone.localdate()
    with transaction.atomic():
        for kind, which, months_back, second in steps:
            if kind == "arrive":
                moment = month_start_jst(today, months_back)
                count_submission(procedure=procedures[which], at=moment + timedelta(seconds=second))
            elif kind == "join":
                CouncilMembership.objects.get_or_create(council=council, organization=organizations[which])
            elif kind == "leave":
                for membership in CouncilMembership.objects.filter(
                    council=council, organization=organizations[which]
                ):
                    membership.delete()
            else:
                expected = _reference_council_by_month(council)
                assert counts.council_totals_by_month(council.pk) == expected
                by_year: dict[int, int] = {}
                for month, n in expected.items():
                    by_year[counts.ja.fiscal_year(month)] = by_year.get(counts.ja.fiscal_year(month), 0) + n
                assert counts.council_totals_by_fiscal_year(council.pk) == by_year
                for year in by_year:
                    assert dict(counts.council_months_of_year(council.pk, year)) == {
                        month: expected.get(month, 0) for month in counts.fiscal_year_months(year)
                    }
        transaction.set_rollback(True)


def test_a_councils_closed_month_is_kept_once_and_summed_again_when_its_members_change(
    council, pref, tottori, yonago, signup, yonago_signup
):
    from madoguchi.organizations.models import CouncilMembership
    from madoguchi.stats.models import CouncilClosedMonthCount

    long_ago = datetime(2024, 5, 10, 3, 0, tzinfo=UTC)
    arrive(signup, long_ago, n=2)
    arrive(yonago_signup, long_ago)
    assert counts.council_totals_by_fiscal_year(council.pk) == {2024: 3}
    kept = CouncilClosedMonthCount.objects.get(council=council, month=date(2024, 5, 1))
    assert kept.count == 3 and kept.fiscal_year == 2024
    # Every closed month from the first counted one has its row, zeros included: its presence marks it kept.
    assert CouncilClosedMonthCount.objects.filter(council=council, count=0).exists()

    CouncilMembership.objects.get(council=council, organization=yonago).delete()  # 米子市 leaves
    assert not CouncilClosedMonthCount.objects.filter(council=council).exists()
    assert counts.council_totals_by_fiscal_year(council.pk) == {2024: 2}
    assert CouncilClosedMonthCount.objects.get(council=council, month=date(2024, 5, 1)).count == 2

    arrive(signup, long_ago)  # a back-dated count: the month is summed again
    assert counts.council_totals_by_fiscal_year(council.pk) == {2024: 3}
    CouncilMembership.objects.create(council=council, organization=yonago)  # and joins again
    assert counts.council_totals_by_fiscal_year(council.pk) == {2024: 4}
    assert dict(counts.council_months_of_year(council.pk, 2024))[date(2024, 5, 1)] == 4


def test_a_councils_pages_read_the_same_queries_whatever_its_members_and_months(
    council, pref, tottori, yonago, signup, yonago_signup, django_assert_num_queries
):
    """Once its closed months are kept, the council's sums cost five queries: the first counted month, the
    organizations' marks, the council's kept months, then one sum each for the closed and the open months."""
    for months_back in range(0, 40, 3):
        arrive(signup, datetime(2023, 4, 1, 3, 0, tzinfo=UTC) + timedelta(days=30 * months_back))
        arrive(yonago_signup, datetime(2023, 4, 2, 3, 0, tzinfo=UTC) + timedelta(days=30 * months_back))
    counts.council_totals_by_month(council.pk)
    with django_assert_num_queries(5):
        assert sum(counts.council_totals_by_month(council.pk).values()) == 28
