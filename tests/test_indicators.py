"""指標: the ◎○△× rating (property tests, higher and lower is better), counted actuals at the 年度 boundary
(JST midnight of 1 April), targets and actuals by hand (audited), and the policy sheets' CSV as demo data."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.stats import indicators as svc
from madoguchi.stats.indicators import DEFAULT_THRESHOLDS, IndicatorError, Thresholds, rate
from madoguchi.stats.models import Indicator, IndicatorYear
from madoguchi.stats.services import count_submission
from tests.conftest import make_procedure, make_user

HIGHER, LOWER = Indicator.Direction.HIGHER, Indicator.Direction.LOWER

values = st.decimals(min_value=0, max_value=Decimal("1e12"), places=3, allow_nan=False, allow_infinity=False)
positive = values.filter(lambda v: v > 0)
directions = st.sampled_from([HIGHER, LOWER])


@st.composite
def thresholds(draw):
    bounds = sorted(
        draw(st.lists(st.decimals(min_value=1, max_value=1000, places=1), min_size=3, max_size=3))
    )
    return Thresholds(excellent=bounds[2], on_track=bounds[1], slightly_behind=bounds[0])


# --- The rating -------------------------------------------------------------------------------


def test_tottori_fy2020_applications_are_far_above_plan():
    # 電子申請システムの申請件数: target 18,000, actual 42,800 (the COVID procedures).
    rating = rate(actual=Decimal(42800), target=Decimal(18000), direction=HIGHER)
    assert (rating.mark, rating.label, rating.ratio_text) == ("◎", "予定以上", "237.7%")


@pytest.mark.parametrize(
    ("actual", "mark"),
    [(110, "◎"), (Decimal("109.999"), "○"), (100, "○"), (Decimal("99.999"), "△"), (80, "△"), (79, "×")],
)
def test_the_default_thresholds_are_inclusive_lower_bounds(actual, mark):
    assert rate(actual=actual, target=100).mark == mark


def test_a_shown_ratio_is_cut_so_it_never_contradicts_the_mark():
    rating = rate(actual=Decimal("109.999"), target=100)
    assert (rating.mark, rating.ratio_text) == ("○", "109.9%")


@pytest.mark.parametrize(
    ("actual", "target", "mark"),
    [(35, 35, "○"), (30, 35, "◎"), (40, 35, "△"), (72, 35, "×"), (0, 35, "◎")],
)
def test_downtime_minutes_lower_is_better(actual, target, mark):
    # 全庁基盤システムの停止時間: target 35 minutes; 30 minutes is better than planned, 72 far behind.
    assert rate(actual=actual, target=target, direction=LOWER).mark == mark


@pytest.mark.parametrize("direction", [HIGHER, LOWER])
def test_no_target_no_actual_or_a_zero_target_give_a_clear_state(direction):
    assert rate(actual=5, target=0, direction=direction).label == "評価できません（目標値が0）"
    assert rate(actual=0, target=0, direction=direction).label == "評価できません（目標値が0）"
    assert rate(actual=None, target=10, direction=direction).label == "評価できません（実績値がありません）"
    assert rate(actual=10, target=None, direction=direction).label == "評価できません（目標値がありません）"
    assert rate(actual=5, target=0, direction=direction).mark == ""


@given(actual=values, better=values, target=positive, limits=thresholds())
def test_a_higher_actual_never_gets_a_worse_rating_when_higher_is_better(actual, better, target, limits):
    low, high = sorted([actual, better])
    assert (
        rate(actual=high, target=target, thresholds=limits).rank
        >= rate(actual=low, target=target, thresholds=limits).rank
    )


@given(actual=values, better=values, target=positive, limits=thresholds())
def test_a_lower_actual_never_gets_a_worse_rating_when_lower_is_better(actual, better, target, limits):
    low, high = sorted([actual, better])
    assert (
        rate(actual=low, target=target, direction=LOWER, thresholds=limits).rank
        >= rate(actual=high, target=target, direction=LOWER, thresholds=limits).rank
    )


@given(actual=positive, target=positive)
def test_lower_is_better_mirrors_higher_is_better(actual, target):
    # Being at half the target's downtime rates as having twice the target's applications.
    assert (
        rate(actual=actual, target=target, direction=LOWER).level
        == rate(actual=target, target=actual, direction=HIGHER).level
    )


@given(actual=st.one_of(st.none(), values), target=st.one_of(st.none(), values), direction=directions)
def test_any_actual_and_target_get_a_rating_or_a_reason_never_an_error(actual, target, direction):
    rating = rate(actual=actual, target=target, direction=direction)
    assert rating.level in ("", *svc.ORDER)
    assert rating.label


@given(target=positive, direction=directions, limits=thresholds())
def test_meeting_the_target_exactly_is_at_least_on_track_under_the_defaults(target, direction, limits):
    assert rate(actual=target, target=target, direction=direction).mark == "○"


@given(actual=values, target=positive, direction=directions, limits=thresholds())
def test_the_shown_ratio_agrees_with_the_mark(actual, target, direction, limits):
    rating = rate(actual=actual, target=target, direction=direction, thresholds=limits)
    if rating.ratio is None:
        return
    shown = Decimal(rating.ratio_text.removesuffix("%").replace(",", ""))
    bounds = {
        "excellent": limits.excellent,
        "on_track": limits.on_track,
        "slightly_behind": limits.slightly_behind,
    }
    for level, bound in bounds.items():
        reached = svc.ORDER.index(rating.level) >= svc.ORDER.index(level)
        assert (shown >= bound) == reached, (level, shown, bound)


def test_thresholds_must_be_ordered():
    with pytest.raises(IndicatorError, match="◎ ≧ ○ ≧ △"):
        Thresholds(Decimal(90), Decimal(100), Decimal(80)).check()
    with pytest.raises(IndicatorError):
        Thresholds(Decimal(110), Decimal(100), Decimal(0)).check()
    DEFAULT_THRESHOLDS.check()


# --- Typed values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"),
    [("18,000", 18000), ("１８，０００件", 18000), ("12.5%", Decimal("12.5")), (" 35 分", 35), ("0", 0)],
)
def test_typed_values_in_the_ways_staff_type_them(typed, value):
    assert svc.parse_value(typed, what="目標値") == Decimal(value)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "目標値を入力してください"),
        ("abc", "数字で入力してください"),
        ("1\x002", "見えない文字"),
        ("9" * 10_000, "長すぎます"),
        ("1.2345", "小数は3桁まで"),
        ("9" * 30, "大きすぎます"),
        ("1e5", "数字で入力してください"),
    ],
)
def test_typed_values_that_are_not_numbers_get_a_japanese_message(typed, message):
    with pytest.raises(IndicatorError, match=message):
        svc.parse_value(typed, what="目標値")


# --- Counted actuals and the 年度 boundary ----------------------------------------------------------

# 00:00 JST on 1 April 2027 is 15:00 UTC on 31 March 2027.
LAST_MOMENT_FY2026 = datetime(2027, 3, 31, 14, 59, 59, 999999, tzinfo=UTC)
FIRST_MOMENT_FY2027 = datetime(2027, 3, 31, 15, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_submission_at_jst_midnight_of_1_april_counts_in_the_new_year(tottori, owner):
    procedure = make_procedure(tottori)
    count_submission(procedure=procedure, at=LAST_MOMENT_FY2026)
    count_submission(procedure=procedure, at=FIRST_MOMENT_FY2027)
    count_submission(procedure=procedure, at=FIRST_MOMENT_FY2027)
    indicator = svc.create_indicator(
        organization=tottori,
        actor=owner,
        name="電子申請の件数",
        kind="outcome",
        unit="件",
        actual_source=Indicator.Source.ORGANIZATION,
    )
    counted = svc.counted_actuals([indicator])
    assert counted == {(indicator.pk, 2026): 1, (indicator.pk, 2027): 2}
    months_2026 = dict(svc.monthly_counts(indicator, 2026))
    assert months_2026[3] == 1 and sum(months_2026.values()) == 1
    assert dict(svc.monthly_counts(indicator, 2027))[4] == 2


@pytest.mark.django_db
def test_a_counted_year_in_progress_is_marked_and_a_later_year_has_no_actual_yet(tottori, owner):
    procedure = make_procedure(tottori)
    count_submission(procedure=procedure, at=datetime(2026, 5, 1, tzinfo=UTC))
    indicator = svc.create_indicator(
        organization=tottori, actor=owner, name="申請件数", kind="outcome", unit="件",
        actual_source=Indicator.Source.ORGANIZATION,
    )  # fmt: skip
    for year in (2026, 2027):
        svc.set_target(indicator=indicator, fiscal_year=year, target=Decimal(10), actor=owner)
    rows = svc.year_rows(
        indicator, DEFAULT_THRESHOLDS, svc.counted_actuals([indicator]), today=date(2026, 11, 30)
    )
    assert [(r.fiscal_year, r.actual, r.in_progress) for r in rows] == [(2026, 1, True), (2027, None, False)]
    assert rows[1].rating.label == "評価できません（実績値がありません）"
    # On 1 April 2027 (JST) 2026 is over and 2027 has begun.
    rows = svc.year_rows(
        indicator, DEFAULT_THRESHOLDS, svc.counted_actuals([indicator]), today=date(2027, 4, 1)
    )
    assert [(r.fiscal_year, r.actual, r.in_progress) for r in rows] == [(2026, 1, False), (2027, 0, True)]


@pytest.mark.django_db
def test_council_procedure_and_organization_counts_each_take_their_own_submissions(
    council, pref, tottori, yonago, owner, secretariat
):
    mine = make_procedure(tottori, title="住民票の写しの郵送請求")
    other = make_procedure(tottori, title="シニア向けスマートフォン教室")
    theirs = make_procedure(yonago)
    at = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    for procedure, n in ((mine, 3), (other, 2), (theirs, 5)):
        for _ in range(n):
            count_submission(procedure=procedure, at=at)
    whole = svc.create_indicator(
        council=council, actor=secretariat, name="協議会全体の申請件数", kind="outcome", unit="件",
        actual_source=Indicator.Source.COUNCIL,
    )  # fmt: skip
    own = svc.create_indicator(
        organization=tottori, actor=owner, name="鳥取市の申請件数", kind="outcome", unit="件",
        actual_source=Indicator.Source.ORGANIZATION,
    )  # fmt: skip
    chosen = svc.create_indicator(
        organization=tottori, actor=owner, name="住民票の郵送請求", kind="activity", unit="件",
        actual_source=Indicator.Source.PROCEDURES, procedures=[mine],
    )  # fmt: skip
    counted = svc.counted_actuals([whole, own, chosen])
    assert counted == {(whole.pk, 2026): 10, (own.pk, 2026): 5, (chosen.pk, 2026): 3}
    assert whole.organization == pref  # the council's row belongs to its secretariat


@pytest.mark.django_db
def test_a_procedure_of_another_organization_cannot_be_counted(tottori, yonago, owner):
    with pytest.raises(IndicatorError, match="別の団体"):
        svc.create_indicator(
            organization=tottori, actor=owner, name="x", kind="outcome", unit="件",
            actual_source=Indicator.Source.PROCEDURES, procedures=[make_procedure(yonago)],
        )  # fmt: skip
    assert not Indicator.objects.exists()


# --- Targets and actuals by hand -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_actual_by_hand_keeps_who_and_when_and_is_audited(tottori, owner):
    indicator = svc.create_indicator(
        organization=tottori, actor=owner, name="基盤システムの停止時間", kind="activity", unit="分",
        direction=LOWER,
    )  # fmt: skip
    svc.set_target(indicator=indicator, fiscal_year=2026, target=Decimal(35), actor=owner)
    svc.set_actual(indicator=indicator, fiscal_year=2026, actual=Decimal(30), actor=owner)
    svc.set_actual(indicator=indicator, fiscal_year=2026, actual=Decimal(40), actor=owner)
    record = IndicatorYear.objects.get(indicator=indicator, fiscal_year=2026)
    assert record.actual == 40 and record.actual_entered_by == owner and record.actual_entered_at
    entries = AuditLog.objects.filter(organization=tottori, action="indicator.actual").order_by("pk")
    assert [e.detail["new"] for e in entries] == ["30", "40"]
    assert entries.last().detail["old"] == "30"
    (row,) = svc.year_rows(indicator, DEFAULT_THRESHOLDS, {})
    assert (row.rating.mark, row.entered_by) == ("△", "owner")


@pytest.mark.django_db
def test_zero_or_negative_targets_and_negative_actuals_are_refused_and_nothing_is_saved(tottori, owner):
    indicator = svc.create_indicator(organization=tottori, actor=owner, name="x", kind="outcome", unit="件")
    with pytest.raises(IndicatorError, match="目標値に0は設定できません"):
        svc.set_target(indicator=indicator, fiscal_year=2026, target=Decimal(0), actor=owner)
    with pytest.raises(IndicatorError):
        svc.set_target(indicator=indicator, fiscal_year=2026, target=Decimal(-1), actor=owner)
    with pytest.raises(IndicatorError, match="0以上"):
        svc.set_actual(indicator=indicator, fiscal_year=2026, actual=Decimal(-1), actor=owner)
    assert not IndicatorYear.objects.exists()


@pytest.mark.django_db
def test_a_counted_indicator_takes_no_actual_by_hand(tottori, owner):
    indicator = svc.create_indicator(
        organization=tottori, actor=owner, name="x", kind="outcome", unit="件",
        actual_source=Indicator.Source.ORGANIZATION,
    )  # fmt: skip
    with pytest.raises(IndicatorError, match="自動で数えます"):
        svc.set_actual(indicator=indicator, fiscal_year=2026, actual=Decimal(5), actor=owner)


@pytest.mark.django_db
def test_thresholds_per_organization_change_the_rating(tottori, yonago, owner):
    svc.set_thresholds(
        organization=tottori, thresholds=Thresholds(Decimal(150), Decimal(100), Decimal(90)), actor=owner
    )
    limits = svc.thresholds_for(organization=tottori)
    assert rate(actual=120, target=100, thresholds=limits).mark == "○"
    assert rate(actual=85, target=100, thresholds=limits).mark == "×"
    assert svc.thresholds_for(organization=yonago) == DEFAULT_THRESHOLDS
    assert AuditLog.objects.filter(organization=tottori, action="indicator.thresholds").exists()


# --- The policy sheets as demo data --------------------------------------------------------------

EXPECTED = {
    # (indicator, 年度 of its row): (mark, label, ratio)
    ("共同化が実現したシステム数（累計）", 2020): ("○", "予定通り", "100.0%"),
    ("共同化に向けた検討部会の設置数（累計）", 2020): ("○", "予定通り", "100.0%"),
    ("電子申請システムの申請件数", 2020): ("◎", "予定以上", "237.7%"),
    ("スマート自治体の進展を実感する職員の割合", 2020): ("", "評価できません（実績値がありません）", ""),
    ("テレワークを利用した所属数", 2020): ("", "評価できません（実績値がありません）", ""),
    ("電子申請・届出システムによる申請件数", 2020): ("", "評価できません（実績値がありません）", ""),
    ("全庁基盤システムの停止時間", 2016): ("", "評価できません（実績値がありません）", ""),
    ("行政WAN等の基幹ネットワークの停止時間", 2016): ("", "評価できません（実績値がありません）", ""),
    ("システム評価で指摘した課題の改善率", 2016): ("", "評価できません（実績値がありません）", ""),
    ("電子申請・届出システムによる申請件数", 2016): ("", "評価できません（実績値がありません）", ""),
    ("携帯電話不通話地域の整備数（累計）", 2016): ("", "評価できません（実績値がありません）", ""),
}


def _ratings(council, pref):
    found = {}
    for organization, owner_council in ((pref, None), (pref, council)):
        indicators = svc.indicators_of(organization=organization, council=owner_council)
        for indicator in indicators:
            for row in svc.year_rows(indicator, DEFAULT_THRESHOLDS, {}):
                key = (indicator.name, row.fiscal_year)
                if key in EXPECTED:
                    found[key] = (row.rating.mark, row.rating.label, row.rating.ratio_text)
    return found


@pytest.mark.django_db
def test_the_policy_sheets_load_once_and_each_row_shows_its_rating(council, pref):
    call_command("load_indicators", council.name, verbosity=0)
    assert Indicator.objects.count() == 11
    assert Indicator.objects.filter(council=council).count() == 8
    assert Indicator.objects.filter(council__isnull=True, organization=pref).count() == 3
    assert _ratings(council, pref) == EXPECTED
    applications = Indicator.objects.get(name="電子申請システムの申請件数")
    assert (applications.baseline_value, applications.baseline_when) == (1005, "平成22年")
    assert (applications.long_term_target, applications.long_term_when) == (20000, "令和3年度末")
    downtime = Indicator.objects.get(name="全庁基盤システムの停止時間")
    assert downtime.direction == LOWER and downtime.get_kind_display() == "県民指標"
    # A note such as 「H29年度 target 45」 is that 年度's target.
    assert IndicatorYear.objects.get(indicator=downtime, fiscal_year=2017).target == 45

    before = list(
        IndicatorYear.objects.order_by("pk").values_list("pk", "target", "actual", "actual_entered_at")
    )
    call_command("load_indicators", council.name, verbosity=0)
    assert Indicator.objects.count() == 11
    after = list(
        IndicatorYear.objects.order_by("pk").values_list("pk", "target", "actual", "actual_entered_at")
    )
    assert after == before


@pytest.mark.django_db
def test_loading_keeps_a_value_entered_on_the_pages_since(council, pref):
    call_command("load_indicators", council.name, verbosity=0)
    clerk = make_user("clerk")
    indicator = Indicator.objects.get(name="テレワークを利用した所属数")
    svc.set_actual(indicator=indicator, fiscal_year=2020, actual=Decimal(70), actor=clerk)
    call_command("load_indicators", council.name, verbosity=0)
    assert IndicatorYear.objects.get(indicator=indicator, fiscal_year=2020).actual == 70


# --- The line against each 年度's target ----------------------------------------------------------


def test_the_yearly_line_draws_each_years_target_and_stays_well_formed():
    from xml.etree import ElementTree

    from madoguchi.lib import charts

    svg = charts.yearly_line(
        [
            charts.Point("令和元年度", 20000),
            charts.Point("令和2年度", 42800),
            charts.Point("令和3年度", None),
        ],
        title="申請件数 <&>",
        targets=[None, Decimal(18000), Decimal(20000)],
        target=Decimal(20000),
        target_label="長期目標（R3年度末）",
    )
    root = ElementTree.fromstring(str(svg))  # noqa: S314 - our own output
    ns = "{http://www.w3.org/2000/svg}"
    red = [e for e in root.iter() if e.get("fill") == charts.TARGET_COLOUR and e.tag == f"{ns}rect"]
    assert len(red) == 2  # 令和2年度 and 令和3年度 have a target
    dashed = [e for e in root.iter(f"{ns}polyline") if e.get("stroke") == charts.TARGET_COLOUR]
    assert len(dashed) == 1 and len(dashed[0].get("points").split()) == 2
    # Without targets the chart is as before: no square marks.
    plain = charts.yearly_line([charts.Point("令和2年度", 1)], title="x")
    assert "<rect" not in str(plain)


def test_the_bundled_sheets_notes_read_in_japanese():
    """The data set's 備考 mixes in English ("R3年度 target 20.0"); loaded, it reads in Japanese and the
    targets it names are still read."""
    import csv
    import re

    from madoguchi.stats.indicators import DATA_FILE, japanese_note

    with DATA_FILE.open(encoding="utf-8") as handle:
        notes = [japanese_note(row["note"]) for row in csv.DictReader(handle)]
    assert all(not re.search(r"[A-Za-z]{2,}", note) for note in notes), notes
    assert "平成29年度の目標値 45。保守作業と外部要因による停止を除く" in notes
    assert "令和3年度の目標値 20.0" in notes and "年度当初値 3 (令和2年4月)" in notes


@pytest.mark.parametrize(
    ("typed", "spelled"),
    [("R3年度末", "令和3年度末"), ("H28年4月", "平成28年4月"), ("R1年度", "令和元年度"), ("H22年", "平成22年"),
     ("令和5年度", "令和5年度"), ("HR3年", "HR3年")],
)  # fmt: skip
def test_the_sheets_era_letters_are_written_out(typed, spelled):
    from madoguchi.stats.indicators import spelled_eras

    assert spelled_eras(typed) == spelled
