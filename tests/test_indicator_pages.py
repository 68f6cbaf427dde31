"""指標と進捗評価 pages: a clerk of 鳥取市 defines an indicator, sets targets and actuals (a 年度 in 和暦 too) and
sees its rating; bad input is explained in Japanese with the typed text kept and nothing saved; the council's
secretariat does the same for the council. An outsider from another organization, another council's
secretariat, and the secretariat organization's staff without the council role get 404; list pages cost the
same number of queries for 2 indicators as for 12."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from madoguchi.accounts.models import CouncilRole, Role
from madoguchi.audit.models import AuditLog
from madoguchi.lib.japanese import fiscal_year, format_fiscal_year
from madoguchi.organizations.models import Council, CouncilMembership, Organization
from madoguchi.stats import indicators as svc
from madoguchi.stats.models import Indicator, IndicatorYear, RatingThresholds
from madoguchi.stats.services import count_submission
from tests.conftest import make_procedure, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def applications(tottori, owner):
    indicator = svc.create_indicator(
        organization=tottori, actor=owner, name="電子申請システムの申請件数", kind="outcome", unit="件",
        baseline_value=Decimal(1005), baseline_when="H22年", long_term_target=Decimal(20000),
        long_term_when="R3年度末",
    )  # fmt: skip
    svc.set_target(indicator=indicator, fiscal_year=2020, target=Decimal(18000), actor=owner)
    svc.set_actual(indicator=indicator, fiscal_year=2020, actual=Decimal(42800), actor=owner)
    return indicator


@pytest.fixture
def council_indicator(council, secretariat):
    return svc.create_indicator(
        council=council, actor=secretariat, name="協議会全体の申請件数", kind="outcome", unit="件",
        actual_source=Indicator.Source.COUNCIL,
    )  # fmt: skip


@pytest.fixture
def other_council_secretariat(yonago):
    other = Council.objects.create(name="米子市周辺の協議会", secretariat=yonago)
    CouncilMembership.objects.create(council=other, organization=yonago)
    user = make_user("other-secretariat")
    CouncilRole.objects.create(user=user, council=other)
    return user


def page(indicator):
    return reverse("staff:indicator", kwargs={"indicator_id": indicator.pk})


def org_list(organization):
    return reverse("staff:organization_indicators", kwargs={"code": organization.code})


def council_list(council):
    return reverse("staff:council_indicators", kwargs={"council_id": council.pk})


# --- A clerk of the organization ---------------------------------------------------------------


def test_the_staff_home_links_to_the_organizations_indicators(client, editor, tottori):
    client.force_login(editor)
    assert org_list(tottori) in client.get(reverse("staff:home")).content.decode()


def test_an_editor_defines_an_indicator_and_enters_a_target_in_wareki_and_an_actual(client, editor, tottori):
    client.force_login(editor)
    response = client.post(
        reverse("staff:organization_indicator_new", kwargs={"code": tottori.code}),
        {
            "name": "電子申請システムの申請件数",
            "kind": "outcome",
            "unit": "件",
            "direction": "higher",
            "baseline_value": "１，００５",
            "baseline_when": "H22年",
            "long_term_target": "20,000",
            "long_term_when": "R3年度末",
            "actual_source": "manual",
        },
    )
    indicator = Indicator.objects.get()
    assert response.status_code == 302 and response["Location"] == page(indicator)
    assert (indicator.organization, indicator.council, indicator.baseline_value) == (tottori, None, 1005)

    response = client.post(
        page(indicator),
        {"action": "target", "target-fiscal_year": "令和2年度", "target-value": "18,000"},
        follow=True,
    )
    assert "令和2年度の目標値を保存しました" in response.content.decode()
    response = client.post(
        page(indicator),
        {"action": "actual", "actual-fiscal_year": "R2", "actual-value": "42800件"},
        follow=True,
    )
    html = response.content.decode()
    assert "令和2年度の実績値を保存しました" in html
    assert "237.7%" in html and "予定以上" in html and "editor" in html
    assert "<svg" in html and "年度ごとの値" in html  # the chart and its table
    record = IndicatorYear.objects.get(indicator=indicator, fiscal_year=2020)
    assert (record.target, record.actual, record.actual_entered_by.username) == (18000, 42800, "editor")
    assert AuditLog.objects.filter(organization=tottori, action="indicator.actual").count() == 1

    listing = client.get(org_list(tottori)).content.decode()
    assert "電子申請システムの申請件数" in listing and "予定以上" in listing and "令和2年度" in listing


@pytest.mark.parametrize(
    ("year", "value", "message"),
    [
        ("令和2年度", "0", "目標値に0は設定できません"),
        ("令和2年度", "-5", "目標値は0より大きい値を入力してください"),
        ("令和2年度", "18\x00000", "見えない文字"),
        ("令和2年度", "8" * 10_000, "長すぎます"),
        ("令和2年度", "たくさん", "数字で入力してください"),
        ("来年度", "18000", "年度は 2026 や 令和8年度 のように入力してください"),
        ("令和2年度\x00", "18000", "見えない文字"),
        ("2" * 10_000, "18000", "20文字以内"),
    ],
)
def test_a_bad_target_is_explained_keeps_what_was_typed_and_saves_nothing(
    client, editor, applications, year, value, message
):
    client.force_login(editor)
    before = list(IndicatorYear.objects.values_list("fiscal_year", "target", "actual"))
    response = client.post(
        page(applications), {"action": "target", "target-fiscal_year": year, "target-value": value}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html and "入力内容を確認してください" in html
    if "\x00" not in value and len(value) < 100:
        assert f'value="{value}"' in html
    assert list(IndicatorYear.objects.values_list("fiscal_year", "target", "actual")) == before
    assert not AuditLog.objects.filter(action="indicator.target", detail__fiscal_year=2021).exists()


def test_a_negative_actual_is_refused(client, owner, applications):
    client.force_login(owner)
    response = client.post(
        page(applications), {"action": "actual", "actual-fiscal_year": "2020", "actual-value": "－３"}
    )
    assert response.status_code == 400 and "実績値は0以上で入力してください" in response.content.decode()
    assert IndicatorYear.objects.get(fiscal_year=2020).actual == 42800


def test_a_definition_with_bad_input_is_explained_and_nothing_is_made(client, editor, tottori):
    make_procedure(tottori)  # one procedure to count: its box is offered
    client.force_login(editor)
    response = client.post(
        reverse("staff:organization_indicator_new", kwargs={"code": tottori.code}),
        {"name": "停止時間\x00", "kind": "activity", "unit": "分" * 10_000, "direction": "lower",
         "baseline_value": "-1", "actual_source": "procedures"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 400
    assert "見えない文字" in html and "20文字以内" in html and "0以上で入力してください" in html
    assert "数える手続を1つ以上選んでください" in html
    # The summary's links lead to boxes that exist: a list of checkboxes or radio buttons by its first one.
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    for target in re.findall(r'href="#([^"]+)"', summary):
        assert f'id="{target}"' in html, target
    assert 'href="#id_procedures_0"' in summary
    assert not Indicator.objects.exists()


def test_the_admin_sets_the_thresholds_and_the_ratings_follow(client, owner, tottori, applications):
    client.force_login(owner)
    response = client.post(
        org_list(tottori), {"excellent": "300", "on_track": "200", "slightly_behind": "100"}
    )
    assert response.status_code == 302
    html = client.get(org_list(tottori)).content.decode()
    table = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "予定通り" in table and "予定以上" not in table  # 237.7 %: ○ under ◎ 300 %, ○ 200 %
    bad = client.post(org_list(tottori), {"excellent": "90", "on_track": "100", "slightly_behind": "80"})
    assert bad.status_code == 400 and "◎ ≧ ○ ≧ △" in bad.content.decode()
    assert RatingThresholds.objects.get().excellent == 300


def test_a_viewer_sees_the_indicators_but_changes_nothing(client, viewer, tottori, applications):
    client.force_login(viewer)
    assert client.get(org_list(tottori)).status_code == 200
    html = client.get(page(applications)).content.decode()
    assert "予定以上" in html and "目標値を保存する" not in html
    response = client.post(
        page(applications), {"action": "target", "target-fiscal_year": "2021", "target-value": "1"}
    )
    assert response.status_code == 403
    assert (
        client.get(reverse("staff:indicator_edit", kwargs={"indicator_id": applications.pk})).status_code
        == 403
    )
    assert (
        client.get(reverse("staff:organization_indicator_new", kwargs={"code": tottori.code})).status_code
        == 403
    )
    assert (
        client.post(
            org_list(tottori), {"excellent": "1", "on_track": "1", "slightly_behind": "1"}
        ).status_code
        == 403
    )


def test_an_editor_changes_the_definition_and_it_is_audited(client, editor, applications):
    client.force_login(editor)
    url = reverse("staff:indicator_edit", kwargs={"indicator_id": applications.pk})
    form = client.get(url).content.decode()
    assert 'value="1,005"' in form
    response = client.post(
        url,
        {"name": "電子申請の申請件数", "kind": "outcome", "unit": "件", "direction": "higher",
         "baseline_value": "1,005", "baseline_when": "H22年", "long_term_target": "25000",
         "long_term_when": "R5年度", "actual_source": "manual"},
    )  # fmt: skip
    assert response.status_code == 302
    entry = AuditLog.objects.get(action="indicator.update")
    assert entry.detail["changed"]["long_term_target"] == ["20000", "25000"]


# --- Counted indicators: the monthly chart --------------------------------------------------------


def test_a_counted_indicator_shows_its_months_with_a_table(client, owner, tottori):
    procedure = make_procedure(tottori)
    for at in (datetime(2026, 3, 31, 15, 0, tzinfo=UTC), datetime(2026, 5, 10, 1, 0, tzinfo=UTC)):
        count_submission(procedure=procedure, at=at)
    count_submission(procedure=procedure, at=datetime(2026, 3, 31, 14, 59, tzinfo=UTC))  # 年度 2025
    indicator = svc.create_indicator(
        organization=tottori, actor=owner, name="シニア教室の申込", kind="activity", unit="件",
        actual_source=Indicator.Source.PROCEDURES, procedures=[procedure],
    )  # fmt: skip
    svc.set_target(indicator=indicator, fiscal_year=2026, target=Decimal(4), actor=owner)
    client.force_login(owner)
    response = client.get(page(indicator), {"fy": "令和8年度"})
    html = response.content.decode()
    assert response.context["months"][:2] == [("4月", "1"), ("5月", "1")]
    client.post(reverse("set_language"), {"language": "en", "next": page(indicator)})
    english = client.get(page(indicator), {"fy": "2026"}).context["months"]
    assert [label for label, _n in english][:2] == ["April", "May"] and english[-1][0] == "March"
    client.post(reverse("set_language"), {"language": "ja", "next": page(indicator)})
    response = client.get(page(indicator), {"fy": "令和8年度"})
    assert "令和8年度の月別の件数" in html and "申請件数から集計" in html
    rows = {r["fiscal_year"]: r for r in response.context["rows"]}
    assert rows[2026]["actual"] == "2" and rows[2026]["mark"] == "×"  # 2 of 4: 50 %
    assert rows[2025]["actual"] == "1" and rows[2025]["rating"] == "評価できません（目標値がありません）"
    assert "実績値を保存する" not in html  # counted: no actual by hand
    response = client.post(
        page(indicator), {"action": "actual", "actual-fiscal_year": "2026", "actual-value": "99"}, follow=True
    )
    assert "自動で数えます" in response.content.decode()
    assert IndicatorYear.objects.get(indicator=indicator, fiscal_year=2026).actual is None


def test_a_mistyped_year_for_the_months_is_explained_and_kept(client, owner, tottori):
    indicator = svc.create_indicator(
        organization=tottori, actor=owner, name="申請件数", kind="outcome", unit="件",
        actual_source=Indicator.Source.ORGANIZATION,
    )  # fmt: skip
    client.force_login(owner)
    response = client.get(page(indicator), {"fy": "令和百年度"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "「令和百年度」の件数はありません。平成12年度から" in html and 'value="令和百年度"' in html
    # A 年度 not begun has no months to count: said so, and the current 年度's months shown.
    response = client.get(page(indicator), {"fy": "2030"})
    assert "「2030」の件数はありません。" in response.content.decode()
    assert response.context["month_label"] == format_fiscal_year(fiscal_year(timezone.now()))


def test_the_audit_log_lists_the_indicator_changes(client, owner, tottori, applications):
    client.force_login(owner)
    response = client.get(reverse("staff:audit", kwargs={"code": tottori.code}))
    assert response.status_code == 200
    assert AuditLog.objects.filter(organization=tottori, action__startswith="indicator.").count() == 3


# --- The council's secretariat ------------------------------------------------------------------


def test_the_council_page_links_to_the_councils_indicators(client, secretariat, council):
    client.force_login(secretariat)
    html = client.get(reverse("staff:council", kwargs={"council_id": council.pk})).content.decode()
    assert council_list(council) in html


def test_the_secretariat_defines_a_council_indicator_counted_over_all_members(
    client, secretariat, council, tottori, yonago
):
    for organization in (tottori, yonago):
        count_submission(procedure=make_procedure(organization), at=datetime(2026, 7, 1, tzinfo=UTC))
    client.force_login(secretariat)
    response = client.post(
        reverse("staff:council_indicator_new", kwargs={"council_id": council.pk}),
        {"name": "協議会全体の申請件数", "kind": "outcome", "unit": "件", "direction": "higher",
         "actual_source": "council"},
    )  # fmt: skip
    indicator = Indicator.objects.get()
    assert response.status_code == 302 and indicator.council == council
    client.post(page(indicator), {"action": "target", "target-fiscal_year": "2026", "target-value": "2"})
    html = client.get(council_list(council), {"fy": "令和8年度"}).content.decode()
    assert "協議会全体の申請件数" in html and "予定通り" in html and "100.0%" in html


def test_a_council_indicator_counts_its_members_now_in_closed_and_open_months(
    client, secretariat, council, council_indicator, tottori, yonago
):
    """Its 年度 and its months: a closed month (kept in the council's own sums) and this month (open), and
    after a member leaves, that member's submissions are no longer counted in either."""
    tottori_procedure, yonago_procedure = make_procedure(tottori), make_procedure(yonago)
    for procedure in (tottori_procedure, yonago_procedure, yonago_procedure):
        count_submission(procedure=procedure, at=datetime(2024, 5, 10, 1, 0, tzinfo=UTC))
        count_submission(procedure=procedure, at=timezone.now())
    this_year, this_month = fiscal_year(timezone.now()), f"{timezone.localdate().month}月"
    client.force_login(secretariat)

    def figures(year):
        response = client.get(page(council_indicator), {"fy": str(year)})
        rows = {r["fiscal_year"]: r["actual"] for r in response.context["rows"]}
        return rows.get(year), dict(response.context["months"])

    assert figures(2024)[0] == "3" and figures(2024)[1]["5月"] == "3"
    assert figures(this_year)[0] == "3" and figures(this_year)[1][this_month] == "3"
    CouncilMembership.objects.get(council=council, organization=yonago).delete()
    assert figures(2024)[0] == "1" and figures(2024)[1]["5月"] == "1"
    assert figures(this_year)[0] == "1" and figures(this_year)[1][this_month] == "1"
    list_html = client.get(council_list(council), {"fy": "2024"}).content.decode()
    assert "協議会全体の申請件数" in list_html


# --- Isolation: every new URL -------------------------------------------------------------------


def _urls(tottori, council, applications, council_indicator):
    return [
        org_list(tottori),
        reverse("staff:organization_indicator_new", kwargs={"code": tottori.code}),
        page(applications),
        reverse("staff:indicator_edit", kwargs={"indicator_id": applications.pk}),
        council_list(council),
        reverse("staff:council_indicator_new", kwargs={"council_id": council.pk}),
        page(council_indicator),
        reverse("staff:indicator_edit", kwargs={"indicator_id": council_indicator.pk}),
    ]


def test_an_outsider_admin_of_another_organization_gets_404_everywhere(
    client, outsider, tottori, council, applications, council_indicator
):
    client.force_login(outsider)
    for url in _urls(tottori, council, applications, council_indicator):
        assert client.get(url).status_code == 404, url
        assert (
            client.post(
                url, {"action": "target", "target-fiscal_year": "2026", "target-value": "1"}
            ).status_code
            == 404
        ), url
    assert IndicatorYear.objects.filter(fiscal_year=2026).count() == 0


def test_another_councils_secretariat_gets_404_on_this_councils_indicators(
    client, other_council_secretariat, council, council_indicator
):
    client.force_login(other_council_secretariat)
    for url in (
        council_list(council),
        reverse("staff:council_indicator_new", kwargs={"council_id": council.pk}),
        page(council_indicator),
        reverse("staff:indicator_edit", kwargs={"indicator_id": council_indicator.pk}),
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x"}).status_code == 404, url


def test_the_secretariat_organizations_admin_without_the_council_role_gets_404(
    client, pref, council, council_indicator
):
    client.force_login(make_user("pref-admin", pref, Role.ADMIN))
    assert client.get(page(council_indicator)).status_code == 404
    assert client.get(council_list(council)).status_code == 404
    # Their own organization's list does not show the council's indicators either.
    assert "協議会全体の申請件数" not in client.get(org_list(pref)).content.decode()


def test_the_secretariat_without_a_membership_gets_404_on_an_organizations_indicators(
    client, secretariat, tottori, applications
):
    client.force_login(secretariat)
    assert client.get(org_list(tottori)).status_code == 404
    assert client.get(page(applications)).status_code == 404


# --- No N+1 ---------------------------------------------------------------------------------------


def _queries(client, url) -> int:
    # The first read after counts are added to a closed month sums that month again (counts.ensure_closed).
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def _add_indicators(n, *, organization=None, council=None, actor, procedure=None):
    for i in range(n):
        source = [Indicator.Source.MANUAL, Indicator.Source.ORGANIZATION, Indicator.Source.PROCEDURES][i % 3]
        if council is not None:
            source = [Indicator.Source.MANUAL, Indicator.Source.COUNCIL][i % 2]
        indicator = svc.create_indicator(
            organization=organization, council=council, actor=actor, name=f"指標{i}", kind="outcome",
            unit="件", actual_source=source,
            procedures=[procedure] if source == Indicator.Source.PROCEDURES else [],
        )  # fmt: skip
        svc.set_target(indicator=indicator, fiscal_year=2026, target=Decimal(10), actor=actor)
        if source == Indicator.Source.MANUAL:
            svc.set_actual(indicator=indicator, fiscal_year=2026, actual=Decimal(i), actor=actor)


def test_the_organization_list_costs_the_same_queries_for_2_or_12_indicators(client, owner, tottori):
    procedure = make_procedure(tottori)
    count_submission(procedure=procedure, at=datetime(2026, 7, 1, tzinfo=UTC))
    client.force_login(owner)
    _add_indicators(3, organization=tottori, actor=owner, procedure=procedure)
    few = _queries(client, org_list(tottori))
    _add_indicators(9, organization=tottori, actor=owner, procedure=procedure)
    assert _queries(client, org_list(tottori)) == few


def test_the_council_list_costs_the_same_queries_for_2_or_12_indicators(
    client, secretariat, council, tottori
):
    count_submission(procedure=make_procedure(tottori), at=datetime(2026, 7, 1, tzinfo=UTC))
    client.force_login(secretariat)
    _add_indicators(2, council=council, actor=secretariat)
    few = _queries(client, council_list(council))
    _add_indicators(10, council=council, actor=secretariat)
    assert _queries(client, council_list(council)) == few


def test_an_unknown_indicator_is_404(client, owner):
    client.force_login(owner)
    assert client.get(reverse("staff:indicator", kwargs={"indicator_id": 999999})).status_code == 404
    assert Organization.objects.count() >= 1


def test_an_indicators_kinds_directions_and_sources_are_in_the_language_of_the_page(
    client, tottori, owner, applications
):
    client.force_login(owner)
    new = reverse("staff:organization_indicator_new", kwargs={"code": "312011"})
    japanese = client.get(new).content.decode()
    assert "成果指標" in japanese and "大きいほど良い" in japanese and "手入力" in japanese
    client.cookies["django_language"] = "en"
    english = client.get(new).content.decode()
    for words in (
        "Outcome indicator",
        "Activity indicator",
        "Higher is better",
        "Lower is better",
        "Entered by hand",
    ):
        assert words in english
    for words in ("成果指標", "活動指標", "大きいほど良い", "小さいほど良い", "手入力"):
        assert words not in english
    listing = client.get(reverse("staff:organization_indicators", kwargs={"code": "312011"})).content.decode()
    assert "Outcome indicator" in listing and "成果指標" not in listing


def test_the_demo_sheets_load_with_english_active(council):
    from django.utils import translation

    with translation.override("en"):
        created, _ = svc.load_indicator_csv(council=council)
    assert created > 0 and Indicator.objects.filter(kind="outcome").exists()
