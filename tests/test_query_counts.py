"""No N+1 on the list pages: the same number of queries with 2 and with 20 rows of what each page lists.

Data from the seeding generator (submissions/seeding.py), so rows look like production's; each page is
asked once to warm up, then counted (CaptureQueriesContext), at 2 rows and again at 20.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from madoguchi.accounts.models import CouncilRole, Role
from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.stats import indicators as svc
from madoguchi.submissions.seeding import SEED_COUNCIL, rebuild_derived, seed_load, write_submissions
from tests.conftest import make_procedure, make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def queries(client, url: str) -> int:
    assert client.get(url).status_code == 200  # warm up: session, caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.fixture
def seeded():
    return seed_load(submissions=0, organizations=2, seed=1, now=NOW)


@pytest.fixture
def clerk_org(seeded):
    return Organization.objects.get(pk=seeded.organization_ids[1])


@pytest.fixture
def clerk(clerk_org):
    return make_user("clerk", clerk_org, Role.ADMIN)


def test_the_inbox_reads_as_many_queries_for_2_cases_as_for_20(client, clerk, clerk_org):
    client.force_login(clerk)
    procedure = Procedure.objects.select_related("current_version").get(
        organization=clerk_org, kind="application"
    )
    url = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
    write_submissions([procedure], 2, seed=1, now=NOW, assignees=[clerk.pk])
    rebuild_derived([procedure.pk])
    few = queries(client, url)
    write_submissions([procedure], 18, seed=2, now=NOW, assignees=[clerk.pk])
    rebuild_derived([procedure.pk])
    assert procedure.submissions.count() == 20
    assert queries(client, url) == few


def test_the_staff_home_and_the_counts_page_read_as_many_queries_for_4_procedures_as_for_20(
    client, clerk, clerk_org
):
    client.force_login(clerk)
    home, counts = reverse("staff:home"), reverse("staff:counts", kwargs={"code": clerk_org.code})
    few = (queries(client, home), queries(client, counts))
    for number in range(4, 20):
        make_procedure(clerk_org, title=f"追加の手続 {number}")
    procedures = list(Procedure.objects.filter(organization=clerk_org).select_related("current_version"))
    assert len(procedures) == 20
    write_submissions(procedures, 60, seed=3, now=NOW)
    rebuild_derived([p.pk for p in procedures])
    assert (queries(client, home), queries(client, counts)) == few


def test_the_council_pages_read_as_many_queries_for_2_members_as_for_20(client, seeded):
    council = Council.objects.get(name=SEED_COUNCIL)
    secretariat = make_user("secretariat")
    CouncilRole.objects.create(user=secretariat, council=council)
    client.force_login(secretariat)
    member = Organization.objects.get(pk=seeded.organization_ids[1])
    urls = [
        reverse("staff:council", kwargs={"council_id": council.pk}),
        reverse("staff:council_member_counts", kwargs={"council_id": council.pk, "code": member.code}),
        reverse("staff:council_indicators", kwargs={"council_id": council.pk}),
    ]
    few = [queries(client, url) for url in urls]
    seed_load(submissions=200, organizations=20, seed=1, now=NOW)
    assert council.members.count() == 20
    assert [queries(client, url) for url in urls] == few


def test_the_indicator_lists_read_as_many_queries_for_3_indicators_as_for_20(
    client, clerk, clerk_org, seeded
):
    council = Council.objects.get(name=SEED_COUNCIL)
    secretariat = make_user("secretariat")
    CouncilRole.objects.create(user=secretariat, council=council)
    procedure = Procedure.objects.get(organization=clerk_org, kind="application")

    def add(first: int, last: int) -> None:
        for number in range(first, last):
            source = ["procedures", "manual", "organization"][number % 3]
            indicator = svc.create_indicator(
                organization=clerk_org, actor=clerk, name=f"指標 {number}", kind="outcome", unit="件",
                actual_source=source, procedures=[procedure] if source == "procedures" else (),
            )  # fmt: skip
            svc.set_target(indicator=indicator, fiscal_year=2025, target=Decimal(100 + number), actor=clerk)
            if source == "manual":
                svc.set_actual(
                    indicator=indicator, fiscal_year=2025, actual=Decimal(90 + number), actor=clerk
                )
            svc.create_indicator(
                council=council, actor=secretariat, name=f"協議会の指標 {number}", kind="outcome", unit="件",
                actual_source="council",
            )  # fmt: skip

    organization_url = reverse("staff:organization_indicators", kwargs={"code": clerk_org.code})
    council_url = reverse("staff:council_indicators", kwargs={"council_id": council.pk})
    add(0, 3)  # one of each way of counting
    client.force_login(clerk)
    few_organization = queries(client, organization_url)
    client.force_login(secretariat)
    few_council = queries(client, council_url)
    add(3, 20)
    client.force_login(clerk)
    assert queries(client, organization_url) == few_organization
    client.force_login(secretariat)
    assert queries(client, council_url) == few_council


def test_an_indicator_page_reads_as_many_queries_for_2_years_as_for_20(client, clerk, clerk_org):
    indicator = svc.create_indicator(
        organization=clerk_org, actor=clerk, name="電子申請の件数", kind="outcome", unit="件",
    )  # fmt: skip
    url = reverse("staff:indicator", kwargs={"indicator_id": indicator.pk})
    client.force_login(clerk)
    for year in (2024, 2025):
        svc.set_target(indicator=indicator, fiscal_year=year, target=Decimal(100), actor=clerk)
        svc.set_actual(indicator=indicator, fiscal_year=year, actual=Decimal(95), actor=clerk)
    few = queries(client, url)
    for year in range(2006, 2024):
        svc.set_target(indicator=indicator, fiscal_year=year, target=Decimal(100), actor=clerk)
        svc.set_actual(indicator=indicator, fiscal_year=year, actual=Decimal(year - 1950), actor=clerk)
    assert queries(client, url) == few


@pytest.mark.database("postgresql")
def test_the_planner_knows_a_procedure_decides_its_organization(db):
    """Staff queries name a submission's organization and procedure: PostgreSQL must not take them as
    independent, or for a busy procedure it expects a few dozen rows, reads thousands and sorts them
    instead of reading the inbox's first page off sub_inbox (submissions/0018)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxkind FROM pg_statistic_ext WHERE stxname = 'submission_organization_procedure'"
        )
        kinds = cursor.fetchone()
    assert kinds is not None and "f" in kinds[0]  # f: functional dependencies
