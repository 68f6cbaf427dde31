"""The council's view of its members and the organizations' 件数 pages.

Personas: the council's secretariat (counts of every member, never an answer), a clerk of 鳥取市 (their own
organization's 件数), an outsider of 米子市 (404 on 鳥取市's), and the secretariat of another council."""

import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from madoguchi.accounts.models import CouncilRole
from madoguchi.audit.models import AuditLog
from madoguchi.lib.japanese import fiscal_year, format_fiscal_year
from madoguchi.organizations.models import Council, CouncilMembership, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.stats.models import DailyCount, MonthlyCount
from madoguchi.stats.services import count_submission
from tests.conftest import make_procedure, make_submission, make_user

pytestmark = pytest.mark.django_db

YEAR = fiscal_year(timezone.now())


def council_url(council, **query):
    url = reverse("staff:council", kwargs={"council_id": council.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def arrive(procedure, n: int, at: datetime | None = None) -> None:
    with transaction.atomic():
        for _ in range(n):
            count_submission(procedure=procedure, at=at or timezone.now())


@pytest.fixture
def used(council, pref, tottori, yonago):
    """This 年度: 鳥取市 30 (two procedures), 米子市 2, 鳥取県 0; the 年度 before: 米子市 5."""
    signup = make_procedure(tottori, title="スマートフォン教室")
    survey = make_procedure(tottori, title="利用者アンケート", kind="survey")
    yonago_signup = make_procedure(yonago, title="子育て講座")
    make_submission(signup)  # a real one, with a resident's name in it
    arrive(signup, 19)
    arrive(survey, 10)
    arrive(yonago_signup, 2)
    arrive(yonago_signup, 5, at=datetime(YEAR - 1, 6, 1, tzinfo=UTC))
    return signup


def test_the_secretariat_sees_members_side_by_side_and_who_hardly_uses_it(client, secretariat, council, used):
    client.force_login(secretariat)
    response = client.get(council_url(council))
    assert response.status_code == 200
    page = response.content.decode()
    rows = {r.organization.code: r for r in response.context["rows"]}
    assert (rows["312011"].count, rows["312029"].count, rows["310000"].count) == (30, 2, 0)
    assert rows["312029"].previous == 5
    assert str(rows["312011"].share) == "93.8" and str(rows["312029"].share) == "6.3"
    assert rows["312011"].published == 2 and rows["310000"].published == 0
    # Zero use is named in words, not by colour alone, and the rule is on the page.
    assert "利用なし" in page and "中央値の10%" in page
    assert rows["310000"].low_use == "none"
    assert '<td class="num">32</td>' in page  # the council's total
    assert "髙橋" not in page and "sakiko@example.jp" not in page


def test_sorting_and_showing_only_members_with_little_use(client, secretariat, council, used):
    client.force_login(secretariat)
    most = client.get(council_url(council, sort="count")).context["rows"]
    assert [r.organization.code for r in most] == ["312011", "312029", "310000"]
    least = client.get(council_url(council, sort="count_asc")).context["rows"]
    assert [r.organization.code for r in least] == ["310000", "312029", "312011"]
    low = client.get(council_url(council, low="1")).context["rows"]
    assert [r.organization.code for r in low] == ["310000"]
    odd = client.get(council_url(council, sort="drop table")).context
    assert odd["sort"] == "code"


def test_the_year_before_and_a_wareki_year(client, secretariat, council, used):
    client.force_login(secretariat)
    before = client.get(council_url(council, fy=YEAR - 1)).context
    assert before["fiscal_year"] == YEAR - 1 and before["use"].total == 5
    from madoguchi.lib.japanese import format_fiscal_year

    typed = client.get(council_url(council, fy=format_fiscal_year(YEAR - 1))).context
    assert typed["fiscal_year"] == YEAR - 1


@pytest.mark.parametrize("typed", ["abc", "1800", "9999"])
def test_a_year_that_cannot_be_read_is_explained_and_the_current_one_shown(
    client, secretariat, council, typed
):
    client.force_login(secretariat)
    response = client.get(council_url(council, fy=typed))
    assert response.status_code == 200
    assert response.context["fiscal_year"] == YEAR and response.context["error"]
    assert 'role="alert"' in response.content.decode()


def test_months_and_kinds_of_the_whole_council(client, secretariat, council, used):
    client.force_login(secretariat)
    context = client.get(council_url(council)).context
    assert sum(n for _, n in context["months"]) == 32
    assert dict((kind, n) for kind, _, n in context["kinds"]) == {
        "application": 0,
        "notification": 0,
        "survey": 10,
        "signup": 22,
    }
    assert "<svg" in str(context["month_chart"])


def test_a_member_in_detail_for_the_secretariat(client, secretariat, council, used, tottori):
    client.force_login(secretariat)
    url = reverse("staff:council_member_counts", kwargs={"council_id": council.pk, "code": "312011"})
    response = client.get(url)
    assert response.status_code == 200
    context = response.context
    assert context["total"] == 30
    assert [(p.title, p.count) for p in context["procedures"]] == [
        ("スマートフォン教室", 20),
        ("利用者アンケート", 10),
    ]
    assert [(d.name, d.count) for d in context["departments"]] == [("生涯学習課", 30)]
    page = response.content.decode()
    assert "髙橋" not in page and council.name in page


def test_a_clerk_sees_their_organizations_counts(client, colleague, used):
    client.force_login(colleague)
    response = client.get(reverse("staff:counts", kwargs={"code": "312011"}))
    assert response.status_code == 200
    context = response.context
    assert context["total"] == 30 and context["published_total"] == 2
    assert dict(context["by_year"])  # per 年度
    assert dict((kind, n) for kind, _, n in context["kinds"])["survey"] == 10
    assert "髙橋" not in response.content.decode()


def test_an_outsider_gets_404_on_another_organizations_counts(client, outsider, used):
    client.force_login(outsider)
    assert client.get(reverse("staff:counts", kwargs={"code": "312011"})).status_code == 404
    assert client.get(reverse("staff:counts", kwargs={"code": "312029"})).status_code == 200


def test_nobody_but_the_secretariat_reaches_the_council_pages(client, owner, outsider, council, used, pref):
    other_council = Council.objects.create(name="別の協議会", secretariat=pref)
    other_secretariat = make_user("other-secretariat")
    CouncilRole.objects.create(user=other_secretariat, council=other_council)
    urls = [
        council_url(council),
        reverse("staff:council_member_counts", kwargs={"council_id": council.pk, "code": "312011"}),
    ]
    for user in (owner, outsider, other_secretariat):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        post = client.post(
            reverse("staff:council_open_data_license", kwargs={"council_id": council.pk}),
            {"license": "CC0-1.0"},
        )
        assert post.status_code == 404
    council.refresh_from_db()
    assert council.open_data_license == "CC-BY-4.0"
    client.logout()
    assert client.get(urls[0]).status_code == 302  # to the login page


def test_an_organization_outside_the_council_is_404_for_its_secretariat(client, secretariat, council):
    Organization.objects.create(code="322016", kind="municipality", name="松江市")
    client.force_login(secretariat)
    url = reverse("staff:council_member_counts", kwargs={"council_id": council.pk, "code": "322016"})
    assert client.get(url).status_code == 404


def test_the_secretariat_sets_the_open_data_licence_audited(client, secretariat, council):
    client.force_login(secretariat)
    url = reverse("staff:council_open_data_license", kwargs={"council_id": council.pk})
    response = client.post(url, {"license": "CC0-1.0"}, follow=True)
    assert "ライセンスを保存しました" in response.content.decode()
    council.refresh_from_db()
    assert council.open_data_license == "CC0-1.0"
    entry = AuditLog.objects.get(action="council.open_data_license")
    assert entry.detail == {"old": "CC-BY-4.0", "new": "CC0-1.0"} and entry.actor == secretariat
    bad = client.post(url, {"license": "GPL"}, follow=True)
    assert "ライセンスを一覧から選んでください" in bad.content.decode()
    council.refresh_from_db()
    assert council.open_data_license == "CC0-1.0"
    assert client.get(url).status_code == 405


def _many_members(council, n: int) -> None:
    """n more members, each with one published procedure and a count this 年度 (bulk: no services)."""
    organizations = Organization.objects.bulk_create(
        Organization(code=f"9{i:05d}", kind="municipality", name=f"団体{i}") for i in range(n)
    )
    CouncilMembership.objects.bulk_create(
        CouncilMembership(council=council, organization=o) for o in organizations
    )
    procedures = Procedure.objects.bulk_create(
        Procedure(organization=o, title="手続", status=Procedure.Status.PUBLISHED) for o in organizations
    )
    today = timezone.now().date()
    DailyCount.objects.bulk_create(
        DailyCount(
            organization=p.organization, procedure=p, day=today, fiscal_year=fiscal_year(today), count=i % 7
        )
        for i, p in enumerate(procedures)
    )
    MonthlyCount.objects.bulk_create(
        MonthlyCount(
            organization=p.organization,
            procedure=p,
            month=today.replace(day=1),
            fiscal_year=fiscal_year(today),
            count=i % 7,
        )
        for i, p in enumerate(procedures)
    )


def test_no_n_plus_1_with_1788_members(client, secretariat, council, used):
    client.force_login(secretariat)
    client.get(council_url(council))  # the session, warmed
    with CaptureQueriesContext(connection) as few:
        assert client.get(council_url(council)).status_code == 200
    _many_members(council, 1785)  # 1,788 members in all
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as many:
        response = client.get(council_url(council))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and len(response.context["rows"]) == 1788
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    print(f"council page, 1,788 members: {len(many)} queries, {elapsed * 1000:.0f} ms")
    assert elapsed < 5


def test_the_counts_page_costs_the_same_whatever_the_procedures(client, colleague, used, tottori):
    client.force_login(colleague)
    url = reverse("staff:counts", kwargs={"code": "312011"})
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(20):
        arrive(make_procedure(tottori, title=f"手続{i}"), 1)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["procedures"]) == 22
    assert len(many) == len(few)


def test_a_year_not_yet_begun_is_refused_with_the_years_there_are_in_wareki(client, secretariat, council):
    client.force_login(secretariat)
    current = fiscal_year(timezone.now())
    response = client.get(council_url(council, fy=str(current + 1)))
    assert response.context["fiscal_year"] == current
    wareki = format_fiscal_year(current)
    assert response.context["error"] == (
        f"「{current + 1}」の件数はありません。平成12年度から{wareki}までを、{wareki} や {current} のように"
        "入力してください。"
    )
    # Nor one that cannot be read, or before 2000: the same message, naming what was typed.
    for typed in ("abc", "1900", "昭和65年度"):
        error = client.get(council_url(council, fy=typed)).context["error"]
        assert error.startswith(f"「{typed}」の件数はありません。平成12年度から{wareki}まで")


def test_the_staff_home_links_each_organizations_counts_page(client, colleague, tottori):
    client.force_login(colleague)
    page = client.get(reverse("staff:home")).content.decode()
    url = reverse("staff:counts", kwargs={"code": tottori.code})
    assert f'href="{url}"' in page and "申請件数の集計" in page
    assert client.get(url).status_code == 200


def test_the_procedures_published_are_broken_down_by_kind_in_the_pages_language(
    client, colleague, used, tottori
):
    client.force_login(colleague)
    url = reverse("staff:counts", kwargs={"code": tottori.code})
    kinds = dict(Procedure.Kind.choices)
    shown = client.get(url).context["published_breakdown"]
    assert shown == f"（{kinds['survey']} 1・{kinds['signup']} 1）", shown  # no separator left over
    client.post(reverse("set_language"), {"language": "en", "next": url})
    assert client.get(url).context["published_breakdown"] == "(Survey 1, Sign-up 1)"


def test_counts_of_a_thousand_and_more_are_grouped_by_thousands(client, secretariat, council, tottori):
    """1,234件, not 1234件: in the summaries and in every table of the council page and a member's 件数."""
    procedure = make_procedure(tottori, title="プレミアム付商品券の申込")
    arrive(procedure, 1)
    DailyCount.objects.filter(procedure=procedure).update(count=1234)
    MonthlyCount.objects.filter(procedure=procedure).update(count=1234)
    client.force_login(secretariat)
    council_page = client.get(council_url(council)).content.decode()
    member_page = client.get(
        reverse("staff:council_member_counts", kwargs={"council_id": council.pk, "code": tottori.code})
    ).content.decode()
    assert "1,234件" in council_page and ">1,234</td>" in council_page and "1234" not in council_page
    assert "1,234件" in member_page and "1234" not in member_page
    assert member_page.count(">1,234</td>") >= 4  # by 年度, month, 所属 and procedure
