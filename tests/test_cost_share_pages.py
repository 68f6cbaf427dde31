"""The secretariat's 負担金 pages: enter cost and weights, see each member's share and formula, decide, export,
populations by hand and from CSV. Nobody outside the council's secretariat reaches them."""

import csv
import io
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from madoguchi.audit.models import AuditLog
from madoguchi.organizations.models import Council, Organization
from madoguchi.stats.models import CostShare, DailyCount, WorkingGroup, WorkingGroupMembership
from tests.conftest import make_procedure, make_user

pytestmark = pytest.mark.django_db

YEAR = 2026


@pytest.fixture
def group(council, pref, tottori, yonago):
    pref.population, tottori.population, yonago.population = 550_000, 190_000, 150_000
    for organization in (pref, tottori, yonago):
        organization.save()
    group = WorkingGroup.objects.create(council=council, name="電子申請部会")
    WorkingGroupMembership.objects.create(working_group=group, organization=pref)
    WorkingGroupMembership.objects.create(working_group=group, organization=tottori)
    # 米子市 joined on 1 October: 6 months of the 年度.
    WorkingGroupMembership.objects.create(
        working_group=group, organization=yonago, joined_on=date(2026, 10, 1)
    )
    return group


def page_url(council, group, year=YEAR):
    return reverse("staff:cost_share", kwargs={"council_id": council.pk, "group_id": group.pk, "year": year})


def amounts(page_rows):
    return {r["code"]: r["amount"] for r in page_rows}


def test_the_secretariat_enters_cost_and_weights_and_sees_shares_that_add_up(
    client, secretariat, council, group
):
    client.force_login(secretariat)
    response = client.post(
        page_url(council, group),
        {
            "cost": "３０，０００，０００円",
            "weight_equal": "10",
            "weight_population": "40%",
            "weight_usage": "50",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "費用と割合を保存しました" in page
    rows = response.context["rows"]
    assert sum(r["amount"] for r in rows) == 30_000_000
    assert {r["code"]: r["months"] for r in rows} == {"310000": 12, "312011": 12, "312029": 6}
    assert "均等割" in page and "端数" in page
    assert AuditLog.objects.filter(action="cost_share.save", organization=council.secretariat).exists()


def test_usage_counts_only_while_a_member_and_only_within_the_year(
    client, secretariat, council, group, yonago
):
    procedure = make_procedure(yonago)
    # Before joining (September): not counted. After (October): counted. Next 年度: not counted.
    for day, count in ((date(2026, 9, 30), 100), (date(2026, 10, 1), 7), (date(2027, 4, 1), 50)):
        DailyCount.objects.create(
            organization=yonago,
            procedure=procedure,
            day=day,
            fiscal_year=2026 if day.month != 4 else 2027,
            count=count,
        )
    client.force_login(secretariat)
    client.post(
        page_url(council, group),
        {"cost": "1000", "weight_equal": "0", "weight_population": "0", "weight_usage": "100"},
    )
    rows = client.get(page_url(council, group)).context["rows"]
    assert {r["code"]: r["usage"] for r in rows}["312029"] == 7
    # All usage is 米子市's: it pays the whole 件数割.
    assert amounts(rows) == {"310000": 0, "312011": 0, "312029": 1000}


def test_a_decided_year_keeps_its_amounts_when_populations_change(
    client, secretariat, council, group, tottori
):
    client.force_login(secretariat)
    client.post(
        page_url(council, group),
        {"cost": "900000", "weight_equal": "0", "weight_population": "100", "weight_usage": "0"},
    )
    response = client.post(page_url(council, group), {"action": "decide", "confirm": "yes"}, follow=True)
    assert "負担金を確定しました" in response.content.decode()
    before = amounts(response.context["rows"])
    tottori.population = 10
    tottori.save()
    after = client.get(page_url(council, group))
    assert amounts(after.context["rows"]) == before
    assert "確定しました" in after.content.decode()
    # Nor can the cost be changed afterwards.
    refused = client.post(
        page_url(council, group),
        {"cost": "1", "weight_equal": "100", "weight_population": "0", "weight_usage": "0"},
    )
    assert refused.status_code == 400 and "確定しています" in refused.content.decode()
    assert CostShare.objects.get().cost == 900000


def test_deciding_needs_the_confirmation_box(client, secretariat, council, group):
    client.force_login(secretariat)
    client.post(
        page_url(council, group),
        {"cost": "900000", "weight_equal": "100", "weight_population": "0", "weight_usage": "0"},
    )
    response = client.post(page_url(council, group), {"action": "decide"}, follow=True)
    assert "チェックを入れてください" in response.content.decode()
    assert CostShare.objects.get().decided_at is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"cost": "-5", "weight_equal": "10", "weight_population": "40", "weight_usage": "50"},
            "0円以上、15桁までの整数",
        ),
        (
            {
                "cost": "9223372036854775807",
                "weight_equal": "10",
                "weight_population": "40",
                "weight_usage": "50",
            },
            "0円以上、15桁までの整数",
        ),
        (
            {"cost": "1000", "weight_equal": "10", "weight_population": "40", "weight_usage": "40"},
            "合計が90%",
        ),
        ({"cost": "1000", "weight_equal": "十", "weight_population": "40", "weight_usage": "50"}, "0から100"),
        (
            {"cost": "1000\x00", "weight_equal": "10", "weight_population": "40", "weight_usage": "50"},
            "見えない文字",
        ),
        (
            {"cost": "9" * 40, "weight_equal": "10", "weight_population": "40", "weight_usage": "50"},
            "30 文字以下",
        ),
    ],
)
def test_bad_figures_get_a_japanese_message_keep_what_was_typed_and_save_nothing(
    client, secretariat, council, group, data, message
):
    client.force_login(secretariat)
    response = client.post(page_url(council, group), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert f'value="{data["weight_population"]}"' in page
    assert not CostShare.objects.exists()


def test_exports_read_back_with_the_same_amounts(client, secretariat, council, group):
    client.force_login(secretariat)
    client.post(
        page_url(council, group),
        {"cost": "30000000", "weight_equal": "10", "weight_population": "40", "weight_usage": "50"},
    )
    shown = amounts(client.get(page_url(council, group)).context["rows"])
    kwargs = {"council_id": council.pk, "group_id": group.pk, "year": YEAR}
    response = client.get(reverse("staff:cost_share_export", kwargs={**kwargs, "ext": "csv"}))
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff団体コード")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r[0]: int(r[-1]) for r in rows[1:-1]} == shown
    assert rows[-1][0] == "合計" and int(rows[-1][-1]) == 30_000_000
    response = client.get(reverse("staff:cost_share_export", kwargs={**kwargs, "ext": "xlsx"}))
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert {r[0]: r[-1] for r in values[1:-1]} == shown
    assert all(isinstance(r[-1], int) for r in values[1:])  # amounts are number cells
    assert AuditLog.objects.filter(action="cost_share.export").count() == 2


def test_a_wareki_year_opens_that_year_and_a_bad_one_is_explained(client, secretariat, council, group):
    client.force_login(secretariat)
    url = reverse("staff:cost_shares", kwargs={"council_id": council.pk})
    response = client.get(url, {"group": group.pk, "fy": "令和8年度"})
    assert response.status_code == 302 and response["Location"] == page_url(council, group, 2026)
    page = client.get(url, {"group": group.pk, "fy": "平成40年度"}).content.decode()
    assert "という年度はありません" in page and 'value="平成40年度"' in page


def test_populations_by_hand_and_from_a_shift_jis_csv(client, secretariat, council, tottori, yonago):
    client.force_login(secretariat)
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    response = client.post(url, {"population-312011": "１８８，４６５", "population-312029": "abc"})
    assert (
        response.status_code == 400 and "米子市：人口は0以上1億5,000万以下の整数" in response.content.decode()
    )
    tottori.refresh_from_db()
    assert tottori.population is None  # all or nothing
    client.post(url, {"population-312011": "188465"})
    tottori.refresh_from_db()
    assert tottori.population == 188465
    data = '団体コード,団体名,人口\r\n312029,米子市,"147,317"\r\n'.encode("cp932")
    response = client.post(
        url, {"action": "import", "file": SimpleUploadedFile("人口.csv", data)}, follow=True
    )
    assert "1団体分更新しました" in response.content.decode()
    yonago.refresh_from_db()
    assert yonago.population == 147317
    assert AuditLog.objects.filter(action="population.update").count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("団体コード,人数\r\n312029,1\r\n".encode("cp932"), "「人口」の列がありません"),
        ("団体コード,人口\r\n999999,1\r\n".encode(), "構成団体ではありません"),
        ("団体コード,人口\r\n312029,-1\r\n".encode(), "2行目：人口は0以上1億5,000万以下の整数"),
        # Past the database column (2,147,483,647) and past any member's population: a message, not a 500.
        ("団体コード,人口\r\n312029,3000000000\r\n".encode(), "2行目：人口は0以上1億5,000万以下の整数"),
        ("団体コード,人口\r\n312029,150000001\r\n".encode(), "2行目：人口は0以上1億5,000万以下の整数"),
        ("団体コード,人口\r\n312029\r\n".encode(), "2行目：団体コードか人口がありません"),
        (b"\xff\xfe\x00\x00garbage\x81", "文字コード"),
    ],
)
def test_a_bad_population_csv_is_refused_with_the_line_and_changes_nothing(
    client, secretariat, council, yonago, data, message
):
    client.force_login(secretariat)
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    response = client.post(url, {"action": "import", "file": SimpleUploadedFile("人口.csv", data)})
    assert response.status_code == 400 and message in response.content.decode()
    yonago.refresh_from_db()
    assert yonago.population is None


@pytest.mark.parametrize("who", ["owner", "outsider", "other_secretariat"])
def test_nobody_but_the_councils_secretariat_reaches_the_pages(client, council, group, who, tottori, yonago):
    if who == "other_secretariat":
        from madoguchi.accounts.models import CouncilRole

        other = Council.objects.create(name="別の協議会", secretariat=Organization.objects.get(code="310000"))
        user = make_user("other-secretariat")
        CouncilRole.objects.create(user=user, council=other)
    else:
        user = make_user(who, tottori if who == "owner" else yonago, "admin")
    client.force_login(user)
    kwargs = {"council_id": council.pk, "group_id": group.pk, "year": YEAR}
    for url in (
        reverse("staff:cost_shares", kwargs={"council_id": council.pk}),
        reverse("staff:cost_share", kwargs=kwargs),
        reverse("staff:cost_share_export", kwargs={**kwargs, "ext": "csv"}),
        reverse("staff:populations", kwargs={"council_id": council.pk}),
    ):
        assert client.get(url).status_code == 404, url
        assert (
            client.post(
                url, {"cost": "1", "weight_equal": "100", "weight_population": "0", "weight_usage": "0"}
            ).status_code
            == 404
        )
    assert not CostShare.objects.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=st.integers(min_value=0, max_value=10**14), width=st.booleans(), commas=st.booleans())
def test_any_typed_population_is_saved_or_refused_with_a_message_never_a_500(
    client, secretariat, council, yonago, number, width, commas
):
    client.force_login(secretariat)
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    typed = f"{number:,}" if commas else str(number)
    if width:
        typed = typed.translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))
    before = Organization.objects.get(pk=yonago.pk).population
    response = client.post(url, {"population-312029": typed})
    saved = Organization.objects.get(pk=yonago.pk).population
    if number <= 150_000_000:
        assert response.status_code == 302 and saved == number
    else:
        assert response.status_code == 400
        assert "米子市：人口は0以上1億5,000万以下の整数" in response.content.decode()
        assert saved == before and f'value="{typed}"' in response.content.decode()  # kept as typed


def test_an_empty_cost_form_says_what_each_box_needs_in_its_own_words(client, secretariat, council, group):
    client.force_login(secretariat)
    page = client.post(page_url(council, group), {"cost": "", "weight_equal": "", "weight_population": ""})
    html = page.content.decode()
    assert page.status_code == 400 and "このフィールドは必須です" not in html
    for words in ("年間の費用を円で入力してください", "均等割の割合を", "人口割の割合を", "件数割の割合を"):
        assert words in html
    assert not CostShare.objects.exists()


def test_weights_that_do_not_add_up_mark_each_of_the_three_boxes(client, secretariat, council, group):
    client.force_login(secretariat)
    page = client.post(
        page_url(council, group),
        {"cost": "1000", "weight_equal": "10", "weight_population": "40", "weight_usage": "40"},
    ).content.decode()
    for name in ("weight_equal", "weight_population", "weight_usage"):
        box = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in box and f"id_{name}-error" in box
        assert f'href="#id_{name}"' in page  # the summary links to it
    assert page.count("合計が90%") >= 3 and 'value="40"' in page


def test_an_empty_year_is_explained_at_the_box_and_not_refilled(client, secretariat, council, group):
    client.force_login(secretariat)
    url = reverse("staff:cost_shares", kwargs={"council_id": council.pk})
    page = client.get(url, {"group": group.pk, "fy": ""}).content.decode()
    box = re.search(r'<input[^>]*id="fy"[^>]*>', page).group(0)
    assert 'value=""' in box and 'aria-describedby="fy-error"' in box and 'id="fy-error"' in page


def test_the_page_states_how_a_part_with_no_basis_is_split(client, secretariat, council, group):
    client.force_login(secretariat)
    client.post(
        page_url(council, group),
        {"cost": "1200", "weight_equal": "0", "weight_population": "0", "weight_usage": "100"},
    )
    page = client.get(page_url(council, group)).content.decode()
    # No member has an application in the 年度: 件数割 goes by months, and the page says so.
    assert "申請件数がどの団体も0の年度は件数割を、均等割と同じく加入月数の比で割り当てます" in page
    assert "1,200" in page


def test_a_bad_population_is_marked_at_its_members_box_and_linked_from_the_summary(
    client, secretariat, council, tottori, yonago
):
    client.force_login(secretariat)
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    page = client.post(
        url, {"population-312011": "188465", "population-312029": "2147483648"}
    ).content.decode()
    box = re.search(r'<input[^>]*id="population-312029"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in box and 'aria-describedby="population-312029-error"' in box
    assert 'value="2147483648"' in box
    assert re.search(r'id="population-312029-error">.*人口は0以上1億5,000万以下', page)
    assert 'href="#population-312029"' in page and "米子市：人口は" in page
    other = re.search(r'<input[^>]*id="population-312011"[^>]*>', page).group(0)
    assert "aria-invalid" not in other and 'value="188465"' in other


def test_the_error_summary_joins_a_box_and_its_message_in_the_pages_language(
    client, secretariat, council, group
):
    client.force_login(secretariat)
    client.post(reverse("set_language"), {"language": "en", "next": "/staff/"})
    page = client.post(page_url(council, group), {"cost": ""}).content.decode()
    assert re.search(r'href="#id_cost">[^<]*: Enter the yearly cost', page)
    assert "：Enter" not in page


def test_emptying_a_population_box_clears_it_and_an_unchanged_page_says_so(
    client, secretariat, council, group, tottori, yonago
):
    client.force_login(secretariat)
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    response = client.post(
        url,
        {"population-310000": "550000", "population-312011": "", "population-312029": "150,000"},
        follow=True,
    )
    tottori.refresh_from_db()
    yonago.refresh_from_db()
    assert tottori.population is None and yonago.population == 150_000
    assert "人口を1団体分更新しました" in response.content.decode()
    entry = AuditLog.objects.filter(action="population.update").latest("pk")
    assert entry.detail["changed"] == {"312011": [190_000, None]}
    # The same page sent again changes nothing, and says so instead of 「0団体分更新しました」.
    response = client.post(
        url,
        {"population-310000": "550000", "population-312011": "", "population-312029": "150000"},
        follow=True,
    )
    html = response.content.decode()
    assert "人口は変わっていません" in html and "0団体分" not in html
    # A member whose box was not on the page sent (it joined since) keeps its population.
    client.post(url, {"population-312011": "190000"})
    tottori.refresh_from_db()
    yonago.refresh_from_db()
    assert tottori.population == 190_000 and yonago.population == 150_000


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (None, "人口のCSVファイルを選んでください。"),
        (SimpleUploadedFile("人口.csv", b""), "選んだファイルは空です（0バイト）"),
        (SimpleUploadedFile("人口.csv", "団体コード,人数\r\n".encode()), "「人口」の列がありません"),
    ],
)
def test_a_population_csv_problem_is_shown_at_the_file_box_and_linked_from_the_summary(
    client, secretariat, council, yonago, upload, message
):
    client.force_login(secretariat)
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    data = {"action": "import"} | ({"file": upload} if upload else {})
    response = client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 400 and "このフィールドは必須です" not in html
    at_box = re.search(r'<p class="error-text" id="id_file-error">(.*?)</p>', html)
    assert at_box and message in at_box.group(1)
    box = re.search(r'<input[^>]*name="file"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in box and "id_file-error" in box
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert 'href="#id_file"' in summary and message in summary


def test_misplaced_commas_are_named_in_the_cost_the_weights_and_the_populations(
    client, secretariat, council, group, yonago
):
    client.force_login(secretariat)
    page = client.post(
        page_url(council, group),
        {"cost": "30,000,00", "weight_equal": "1,0", "weight_population": "40", "weight_usage": "50"},
    ).content.decode()
    assert page.count("カンマ（,）は3桁ごとに入れてください") >= 2 and not CostShare.objects.exists()
    url = reverse("staff:populations", kwargs={"council_id": council.pk})
    page = client.post(url, {"population-312029": "12,34"}).content.decode()
    assert "人口：カンマ（,）は3桁ごとに入れてください" in page and 'value="12,34"' in page
    data = '団体コード,人口\r\n312029,"12,34"\r\n'.encode("cp932")
    page = client.post(
        url, {"action": "import", "file": SimpleUploadedFile("人口.csv", data)}
    ).content.decode()
    assert "2行目：人口：カンマ（,）は3桁ごとに入れてください" in page
    yonago.refresh_from_db()
    assert yonago.population == 150_000  # unchanged by either
