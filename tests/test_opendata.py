"""A council's open data: anyone, without logging in, reads the counts per member and procedure for each
年度 as CSV (UTF-8 with BOM) and JSON, the procedures online, the council's indicators, and a DCAT catalogue
a CKAN portal harvests. Never a resident's data."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib.exporting import clean_text
from madoguchi.lib.japanese import fiscal_year
from madoguchi.organizations.models import Council
from madoguchi.stats import indicators
from madoguchi.stats.models import Indicator
from madoguchi.stats.services import count_submission
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db

YEAR = fiscal_year(timezone.now())
# 1 April of this 年度, 00:00 JST
NEW_YEAR = datetime(YEAR, 3, 31, 15, 0, tzinfo=UTC)


def arrive(procedure, n: int, at: datetime) -> None:
    with transaction.atomic():
        for _ in range(n):
            count_submission(procedure=procedure, at=at)


def file_url(council, dataset: str, ext: str) -> str:
    return reverse("public:opendata_file", kwargs={"council_id": council.pk, "dataset": dataset, "ext": ext})


def read_csv(response) -> list[dict]:
    body = b"".join(response) if response.streaming else response.content
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@pytest.fixture
def used(council, pref, tottori, yonago):
    """鳥取市: 3 to the sign-up (one a real submission with a resident's name) at the start of this 年度 and 1
    in the last second of the 年度 before; 1 to a survey. 米子市: 2. 鳥取県: none."""
    signup = make_procedure(tottori, title="シニア向けスマートフォン教室")
    survey = make_procedure(tottori, title="利用者アンケート", kind="survey")
    yonago_signup = make_procedure(yonago, title="子育て講座")
    make_submission(signup)  # now
    arrive(signup, 2, NEW_YEAR)
    arrive(signup, 1, NEW_YEAR - timedelta(seconds=1))
    arrive(survey, 1, NEW_YEAR + timedelta(days=1))
    arrive(yonago_signup, 2, NEW_YEAR + timedelta(days=40))
    return signup


def test_the_page_lists_every_dataset_with_its_licence_without_login(client, council, used):
    response = client.get(reverse("public:opendata", kwargs={"council_id": council.pk}))
    assert response.status_code == 200
    page = response.content.decode()
    assert "クリエイティブ・コモンズ 表示 4.0 国際（CC BY 4.0）" in page
    assert "https://creativecommons.org/licenses/by/4.0/" in page
    assert "少ない件数もそのまま公開しています" in page
    for dataset in (f"counts-{YEAR}", f"organizations-{YEAR}", f"counts-{YEAR - 1}", "procedures-online"):
        assert file_url(council, dataset, "csv") in page and file_url(council, dataset, "json") in page
    assert "髙橋" not in page


def test_counts_per_member_and_procedure_read_back_with_the_csv_module(client, council, used):
    response = client.get(file_url(council, f"counts-{YEAR}", "csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    assert list(rows[0]) == [
        "年度",
        "年度（和暦）",
        "団体コード",
        "団体名",
        "手続番号",
        "手続名",
        "種類",
        "所属",
        "件数",
    ]
    assert [(r["団体コード"], r["手続名"], r["種類"], r["件数"]) for r in rows] == [
        ("312011", "シニア向けスマートフォン教室", "申込", "3"),
        ("312011", "利用者アンケート", "アンケート", "1"),
        ("312029", "子育て講座", "申込", "2"),
    ]
    assert {r["年度"] for r in rows} == {str(YEAR)}
    before = read_csv(client.get(file_url(council, f"counts-{YEAR - 1}", "csv")))
    assert [(r["手続名"], r["件数"]) for r in before] == [("シニア向けスマートフォン教室", "1")]


def test_the_json_holds_the_same_rows_and_the_licence(client, council, used):
    response = client.get(file_url(council, f"counts-{YEAR}", "json"))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    document = json.loads(response.content)
    assert document["license"] == {
        "id": "CC-BY-4.0",
        "name": "クリエイティブ・コモンズ 表示 4.0 国際（CC BY 4.0）",
        "url": "https://creativecommons.org/licenses/by/4.0/",
    }
    assert document["fiscal_year"] == YEAR and document["publisher"] == council.name
    assert [c["key"] for c in document["columns"]][:3] == [
        "fiscal_year",
        "fiscal_year_name",
        "organization_code",
    ]
    assert [(r["organization_code"], r["count"]) for r in document["rows"]] == [
        ("312011", 3),
        ("312011", 1),
        ("312029", 2),
    ]
    assert sum(r["count"] for r in document["rows"]) == 6


def test_every_member_with_its_share_even_with_none(client, council, used):
    rows = read_csv(client.get(file_url(council, f"organizations-{YEAR}", "csv")))
    assert [(r["団体コード"], r["件数"], r["構成比（%）"]) for r in rows] == [
        ("310000", "0", "0.0"),
        ("312011", "4", "66.7"),
        ("312029", "2", "33.3"),
    ]
    document = json.loads(client.get(file_url(council, f"organizations-{YEAR}", "json")).content)
    assert [r["share_percent"] for r in document["rows"]] == [0.0, 66.7, 33.3]


def test_procedures_online_per_member(client, council, used):
    rows = read_csv(client.get(file_url(council, "procedures-online", "csv")))
    assert [(r["団体コード"], r["公開中の手続数"], r["うち申込"], r["うちアンケート"]) for r in rows] == [
        ("310000", "0", "0", "0"),
        ("312011", "2", "1", "1"),
        ("312029", "1", "1", "0"),
    ]


def test_nothing_of_a_resident_in_any_file(client, council, used):
    for dataset in (f"counts-{YEAR}", f"organizations-{YEAR}", f"counts-{YEAR - 1}", "procedures-online"):
        for ext in ("csv", "json"):
            body = client.get(file_url(council, dataset, ext)).content.decode("utf-8-sig")
            for personal in ("髙橋", "﨑子", "sakiko@example.jp", "0857-20-3111", "たかはし"):
                assert personal not in body, (dataset, ext, personal)


def test_files_answer_conditional_requests_by_their_etag(client, council, used):
    url = file_url(council, f"counts-{YEAR}", "csv")
    first = client.get(url)
    etag = first["ETag"]
    assert (
        etag.startswith('"')
        and "public" in first["Cache-Control"]
        and "max-age=3600" in first["Cache-Control"]
    )
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    arrive(used, 1, timezone.now())  # one more submission: the file changes, and so does its ETag
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


@pytest.mark.parametrize(
    "dataset, ext",
    [("counts-1999", "csv"), ("counts-2026", "xlsx"), ("secrets", "csv"), ("counts-20260", "json")],
)
def test_a_dataset_the_catalogue_does_not_list_is_404(client, council, used, dataset, ext):
    assert client.get(file_url(council, dataset, ext)).status_code == 404


def test_an_unknown_council_is_404(client, council):
    assert client.get(reverse("public:opendata", kwargs={"council_id": council.pk + 99})).status_code == 404
    assert (
        client.get(reverse("public:opendata_catalog", kwargs={"council_id": council.pk + 99})).status_code
        == 404
    )


def _catalog(client, council) -> dict:
    response = client.get(reverse("public:opendata_catalog", kwargs={"council_id": council.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json; charset=utf-8"
    assert response["ETag"]
    return json.loads(response.content)


def _literal(value) -> str:
    return value["@value"] if isinstance(value, dict) else value


def test_the_dcat_catalogue_describes_every_dataset_and_every_file_resolves(client, council, used):
    catalog = _catalog(client, council)
    context = catalog["@context"]
    assert context["dcat"] == "http://www.w3.org/ns/dcat#" and context["dct"] == "http://purl.org/dc/terms/"
    assert catalog["@type"] == "dcat:Catalog"
    for key in ("@id", "dct:title", "dct:description", "dct:publisher", "dct:license", "dcat:dataset"):
        assert catalog[key], key
    assert catalog["dct:publisher"]["foaf:name"] == council.name
    assert catalog["@id"].startswith(django_settings.SITE_URL + "/opendata/")
    identifiers = [d["dct:identifier"] for d in catalog["dcat:dataset"]]
    assert identifiers == [
        f"counts-{YEAR}",
        f"organizations-{YEAR}",
        f"counts-{YEAR - 1}",
        f"organizations-{YEAR - 1}",
        "procedures-online",
    ]
    seen = 0
    for dataset in catalog["dcat:dataset"]:
        assert dataset["@type"] == "dcat:Dataset"
        for key in ("@id", "dct:title", "dct:description", "dct:publisher", "dct:issued", "dct:modified"):
            assert dataset[key], (dataset["dct:identifier"], key)
        assert dataset["dct:issued"]["@type"] == "xsd:date"
        assert datetime.fromisoformat(_literal(dataset["dct:modified"]))
        if dataset["dct:identifier"].startswith("counts-"):
            year = int(dataset["dct:identifier"][-4:])
            assert _literal(dataset["dct:temporal"]["dcat:startDate"]) == f"{year}-04-01"
            assert _literal(dataset["dct:temporal"]["dcat:endDate"]) == f"{year + 1}-03-31"
        assert len(dataset["dcat:distribution"]) == 2
        for distribution in dataset["dcat:distribution"]:
            assert distribution["@type"] == "dcat:Distribution"
            url = distribution["dcat:downloadURL"]["@id"]
            assert distribution["dcat:accessURL"]["@id"] == url
            assert distribution["dct:license"]["@id"] == "https://creativecommons.org/licenses/by/4.0/"
            media_type = distribution["dcat:mediaType"]["@id"]
            assert media_type in (
                "https://www.iana.org/assignments/media-types/text/csv",
                "https://www.iana.org/assignments/media-types/application/json",
            )
            for key in ("dct:issued", "dct:modified", "dct:format", "dct:title"):
                assert distribution[key], key
            assert url.startswith(django_settings.SITE_URL)
            response = client.get(urlsplit(url).path)
            assert response.status_code == 200, url
            assert (
                response["Content-Type"].split(";")[0]
                == media_type.rsplit("/", 2)[-2] + "/" + media_type.rsplit("/", 1)[-1]
            )
            seen += 1
    assert seen == 10


def members_unchanged_since_2020(council) -> None:
    Council.objects.filter(pk=council.pk).update(members_changed_at=datetime(2020, 4, 1, tzinfo=UTC))


def test_the_current_years_dataset_says_through_which_day(client, council, used):
    members_unchanged_since_2020(council)
    catalog = _catalog(client, council)
    current = next(d for d in catalog["dcat:dataset"] if d["dct:identifier"] == f"counts-{YEAR}")
    today = timezone.localdate(timezone=timezone.get_fixed_timezone(540))
    assert _literal(current["dct:modified"]) == today.isoformat()
    assert "年度途中" in _literal(current["dct:description"])
    closed = next(d for d in catalog["dcat:dataset"] if d["dct:identifier"] == f"counts-{YEAR - 1}")
    assert _literal(closed["dct:modified"]) == f"{YEAR}-03-31"
    assert "年度途中" not in _literal(closed["dct:description"])


def test_the_councils_licence_is_the_one_published(client, council, used, secretariat):
    client.force_login(secretariat)
    client.post(
        reverse("staff:council_open_data_license", kwargs={"council_id": council.pk}), {"license": "PDL-1.0"}
    )
    client.logout()
    catalog = _catalog(client, council)
    url = "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0"
    assert catalog["dct:license"]["@id"] == url
    assert all(
        d["dct:license"]["@id"] == url for ds in catalog["dcat:dataset"] for d in ds["dcat:distribution"]
    )
    page = client.get(reverse("public:opendata", kwargs={"council_id": council.pk})).content.decode()
    assert "公共データ利用規約（第1.0版）（PDL1.0）" in page
    assert (
        json.loads(client.get(file_url(council, f"counts-{YEAR}", "json")).content)["license"]["id"]
        == "PDL-1.0"
    )


def test_another_councils_counts_are_not_in_this_councils_files(client, council, used, pref):
    from madoguchi.organizations.models import CouncilMembership, Organization

    matsue = Organization.objects.create(code="322016", kind="municipality", name="松江市")
    other = Council.objects.create(name="島根県の協議会", secretariat=matsue)
    CouncilMembership.objects.create(council=other, organization=matsue)
    arrive(make_procedure(matsue, title="松江の手続"), 9, timezone.now())
    rows = read_csv(client.get(file_url(council, f"counts-{YEAR}", "csv")))
    assert "松江の手続" not in {r["手続名"] for r in rows}
    theirs = read_csv(client.get(file_url(other, f"counts-{YEAR}", "csv")))
    assert [(r["手続名"], r["件数"]) for r in theirs] == [("松江の手続", "9")]


def test_the_councils_indicators_are_published_with_their_rating(client, council, used, secretariat):
    counted = indicators.create_indicator(
        council=council,
        actor=secretariat,
        name="電子申請システムの申請件数",
        kind=Indicator.Kind.OUTCOME,
        unit="件",
        actual_source=Indicator.Source.COUNCIL,
        baseline_value=Decimal(1005),
        baseline_when="H22年",
    )
    indicators.set_target(indicator=counted, fiscal_year=YEAR, target=Decimal(4), actor=secretariat)
    manual = indicators.create_indicator(
        council=council,
        actor=secretariat,
        name="基幹系システムの年間停止時間",
        kind="activity",
        unit="分",
        direction=Indicator.Direction.LOWER,
    )
    indicators.set_target(indicator=manual, fiscal_year=YEAR - 1, target=Decimal(35), actor=secretariat)
    indicators.set_actual(indicator=manual, fiscal_year=YEAR - 1, actual=Decimal("72.5"), actor=secretariat)
    catalog = _catalog(client, council)
    assert catalog["dcat:dataset"][-1]["dct:identifier"] == "indicators"
    rows = read_csv(client.get(file_url(council, "indicators", "csv")))
    mine = {(r["指標名"], r["年度"]): r for r in rows}
    count_row = mine[("電子申請システムの申請件数", str(YEAR))]
    # 6 submissions this 年度 against a target of 4: 150.0 %, ◎
    assert (count_row["目標値"], count_row["実績値"], count_row["達成率（%）"], count_row["進捗評価"]) == (
        "4",
        "6",
        "150.0",
        "◎",
    )
    assert count_row["基準値"] == "1005" and count_row["基準値の時点"] == "H22年"
    stop = mine[("基幹系システムの年間停止時間", str(YEAR - 1))]
    assert (stop["実績値"], stop["進捗評価"]) == ("72.5", "×")
    body = client.get(file_url(council, "indicators", "json")).content.decode()
    assert secretariat.get_username() not in body  # who entered a value is not published
    counted_rows = [r for r in json.loads(body)["rows"] if r["indicator_id"] == counted.pk]
    assert [(r["fiscal_year"], r["actual"]) for r in counted_rows] == [(YEAR - 1, 1), (YEAR, 6)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# NUL is left out: PostgreSQL text cannot hold it, so no procedure title ever has one; utf-8 only (no lone
# surrogate), as every title arrives through a UTF-8 request.
@given(
    title=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=60).filter(
        lambda t: t.strip()
    )
)
def test_any_procedure_title_reads_back_the_same_from_csv_and_json(client, council, tottori, title):
    """Commas, quotes, line breaks, formula-like text, emoji and rare kanji come back as written (control
    characters removed, CR as a line feed: lib/exporting.clean_text); the CSV is plain data, not Excel text."""
    with transaction.atomic():
        procedure = make_procedure(tottori, title=title)
        arrive(procedure, 1, timezone.now())
        expected = clean_text(title)
        csv_rows = read_csv(client.get(file_url(council, f"counts-{YEAR}", "csv")))
        assert [r["手続名"] for r in csv_rows] == [expected]
        json_rows = json.loads(client.get(file_url(council, f"counts-{YEAR}", "json")).content)["rows"]
        assert [r["procedure_title"] for r in json_rows] == [expected]
        transaction.set_rollback(True)


def test_a_council_with_no_submission_yet_publishes_its_procedures_online_only(client, pref):
    quiet = Council.objects.create(name="始めたばかりの協議会", secretariat=pref)
    page = client.get(reverse("public:opendata", kwargs={"council_id": quiet.pk}))
    assert page.status_code == 200
    catalog = _catalog(client, quiet)
    assert [d["dct:identifier"] for d in catalog["dcat:dataset"]] == ["procedures-online"]
    assert read_csv(client.get(file_url(quiet, "procedures-online", "csv"))) == []
    assert client.get(file_url(quiet, f"counts-{YEAR}", "csv")).status_code == 404


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrivals=st.lists(
        st.tuples(st.sampled_from([0, 1, 2]), st.integers(0, 3 * 365 * 86400 - 1)), min_size=1, max_size=12
    )
)
def test_each_years_dataset_spans_its_members_first_and_last_counted_day(
    council, pref, tottori, yonago, arrivals
):
    """A 年度's dataset is issued on the first and modified on the last JST day a member's submission arrived
    in it, counts of an organization outside the council not taken into account; a 年度 with none of the
    members' has no dataset."""
    from madoguchi.lib.timeutil import jst_date
    from madoguchi.organizations.models import Organization
    from madoguchi.stats import opendata

    start = NEW_YEAR.replace(year=YEAR - 2)
    with transaction.atomic():
        outsider = Organization.objects.create(
            code="322016", kind="municipality", name="松江市", name_kana="マツエシ"
        )
        procedures = [make_procedure(o, title="申込") for o in (tottori, yonago, outsider)]
        expected: dict[int, list] = {}
        for which, seconds in arrivals:
            moment = start + timedelta(seconds=seconds)
            count_submission(procedure=procedures[which], at=moment)
            if which < 2:
                day = jst_date(moment)
                first, last = expected.get(fiscal_year(day), (day, day))
                expected[fiscal_year(day)] = [min(first, day), max(last, day)]
        found = {
            d.fiscal_year: [d.issued, d.modified]
            for d in opendata.datasets(council)
            if d.identifier.startswith("counts-")
        }
        assert found == expected
        transaction.set_rollback(True)


def test_a_member_leaving_changes_every_years_files_that_day(client, council, yonago, used):
    """The counts are the members' now: when one leaves, each 年度's files are modified today, also a 年度
    whose last submission arrived long ago, so a portal that harvests by date fetches them again."""
    from madoguchi.organizations.models import CouncilMembership
    from madoguchi.stats import opendata

    today = timezone.localdate(timezone=timezone.get_fixed_timezone(540))
    members_unchanged_since_2020(council)
    council.refresh_from_db()
    before = {d.identifier: d.modified for d in opendata.datasets(council)}
    assert before[f"counts-{YEAR - 1}"] == datetime(YEAR, 3, 31).date()
    CouncilMembership.objects.get(council=council, organization=yonago).delete()
    council.refresh_from_db()
    after = {d.identifier: d.modified for d in opendata.datasets(council)}
    assert after[f"counts-{YEAR - 1}"] == today and after[f"organizations-{YEAR}"] == today
    assert after["procedures-online"] == today
    catalog = _catalog(client, council)
    past = next(d for d in catalog["dcat:dataset"] if d["dct:identifier"] == f"counts-{YEAR - 1}")
    assert _literal(past["dct:modified"]) == today.isoformat()
