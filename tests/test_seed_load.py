"""manage.py seed_load: a small seeded set is what the services would have written (both databases).

A clerk of a seeded organization finds a seeded resident by kana typed either way, the inbox, council and
indicator pages render, the rollups equal recounts, receipt numbers are valid and distinct, and the same
seed gives the same data.
"""

import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from madoguchi.accounts.models import CouncilRole, Role
from madoguchi.lib.japanese import fiscal_year
from madoguchi.lib.receipt import format_receipt_number, is_valid_damm
from madoguchi.lib.search import applicant_columns, search_text
from madoguchi.lib.timeutil import JST
from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.stats.models import DailyCount, MonthlyCount, StatusCount
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import StatusChange, Submission
from madoguchi.submissions.seeding import SEED_COUNCIL, seed_load
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_HIRAGANA = {code + 0x60: code for code in range(0x3041, 0x3097)}


@pytest.fixture
def seeded(db):
    return seed_load(submissions=400, organizations=5, seed=7, now=NOW)


def snapshot() -> list[tuple]:
    # The answers as read back: stored, they are encrypted with a fresh nonce each time.
    return [
        (*row[:-1], read_answers(row[-1]))
        for row in (
            (s.procedure.organization.code, s.procedure.kind, s.receipt_number, s.status, s.submitted_at,
             s.updated_at, s.applicant_name, s.applicant_kana, s.search_text, s)
            for s in Submission.objects.select_related("procedure__organization").order_by("receipt_number")
        )
    ]  # fmt: skip


def test_every_kind_in_every_seeded_organization_spread_over_several_fiscal_years(seeded):
    assert Organization.objects.filter(pk__in=seeded.organization_ids).count() == 5
    assert Organization.objects.get(pk=seeded.organization_ids[0]).code == "310000"  # 鳥取県 first
    kinds = Counter(Procedure.objects.filter(pk__in=seeded.procedure_ids).values_list("kind", flat=True))
    assert kinds == {kind: 5 for kind in Procedure.Kind.values}
    assert Submission.objects.count() == 400
    years = {fiscal_year(at) for at in Submission.objects.values_list("submitted_at", flat=True)}
    assert years == {2024, 2025, 2026}
    assert len(set(Submission.objects.values_list("status", flat=True))) >= 5
    assert Council.objects.get(name=SEED_COUNCIL).members.count() == 5


def test_rollups_and_history_equal_recounts(seeded):
    rows = list(Submission.objects.values_list("id", "procedure_id", "status", "submitted_at"))
    daily = Counter((p, at.astimezone(JST).date()) for _i, p, _s, at in rows)
    assert {(d.procedure_id, d.day): d.count for d in DailyCount.objects.all()} == daily
    assert all(d.fiscal_year == fiscal_year(d.day) for d in DailyCount.objects.all())
    monthly = Counter((p, at.astimezone(JST).date().replace(day=1)) for _i, p, _s, at in rows)
    assert {(m.procedure_id, m.month): m.count for m in MonthlyCount.objects.all()} == monthly
    assert all(m.fiscal_year == fiscal_year(m.month) for m in MonthlyCount.objects.all())
    statuses = Counter((p, s) for _i, p, s, _at in rows)
    assert {(c.procedure_id, c.status): c.count for c in StatusCount.objects.all()} == statuses
    for submission_id, _p, status, at in rows:
        history = list(StatusChange.objects.filter(submission_id=submission_id).order_by("created_at", "pk"))
        assert (history[0].from_status, history[0].to_status, history[0].created_at) == ("", "received", at)
        assert history[-1].to_status == status
        assert len(history) == (1 if status == "received" else 2)


def test_search_columns_are_what_the_services_write_and_receipts_valid_and_distinct(seeded):
    receipts = []
    for submission in Submission.objects.select_related("form_version"):
        fields = submission.form_version.spec.fields
        answers = read_answers(submission)
        assert (submission.applicant_name, submission.applicant_kana) == applicant_columns(fields, answers)
        assert submission.search_text == search_text(fields, answers)
        assert submission.organization_id == submission.form_version.organization_id
        receipts.append(submission.receipt_number)
    assert all(len(r) == 10 and is_valid_damm(r) for r in receipts)
    assert len(set(receipts)) == len(receipts)
    names = "".join(Submission.objects.values_list("applicant_name", flat=True))
    assert any(old in names for old in "髙﨑𠮷邉齋濵")


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(seeded):
    first = snapshot()
    Submission.objects.all().delete()
    seed_load(submissions=400, organizations=5, seed=7, now=NOW)
    assert snapshot() == first
    Submission.objects.all().delete()
    seed_load(submissions=400, organizations=5, seed=8, now=NOW)
    assert snapshot() != first


def test_a_clerk_finds_a_seeded_resident_by_kana_typed_in_either_script(client, seeded):
    # The first seeded application (an organization's share depends on its id, so not always the first's).
    case = (
        Submission.objects.filter(organization_id__in=seeded.organization_ids, procedure__kind="application")
        .order_by("pk")
        .first()
    )
    organization = Organization.objects.get(pk=case.organization_id)
    client.force_login(make_user("clerk", organization, Role.PROCESSOR))
    url = reverse("staff:inbox", kwargs={"procedure_id": case.procedure_id})
    page = client.get(url).content.decode()
    assert re.search(r">\d{4}-\d{4}-\d{2}</a>", page)
    for kana in (case.applicant_kana.translate(_KATAKANA), case.applicant_kana.translate(_HIRAGANA)):
        response = client.post(url, {"q": kana})
        assert response.status_code == 302 and kana not in response["Location"]
        found = client.get(response["Location"]).content.decode()
        assert format_receipt_number(case.receipt_number) in found


def test_council_and_indicator_pages_render_and_an_outsider_gets_404(client, seeded):
    council = Council.objects.get(name=SEED_COUNCIL)
    secretariat = make_user("secretariat")
    CouncilRole.objects.create(user=secretariat, council=council)
    client.force_login(secretariat)
    page = client.get(reverse("staff:council", kwargs={"council_id": council.pk}))
    assert page.status_code == 200
    assert "鳥取市" in page.content.decode()
    organization = Organization.objects.get(pk=seeded.organization_ids[1])
    client.force_login(make_user("admin", organization, Role.ADMIN))
    assert (
        client.get(reverse("staff:organization_indicators", kwargs={"code": organization.code})).status_code
        == 200
    )
    other = Submission.objects.exclude(organization=organization).first()
    assert client.get(reverse("staff:inbox", kwargs={"procedure_id": other.procedure_id})).status_code == 404


def test_the_command_reports_what_it_made_and_refuses_a_bad_count(db, capsys):
    call_command("seed_load", submissions=20, organizations=2, seed=3)
    assert "2団体・8手続に20件の申請を作りました。" in capsys.readouterr().out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_load", submissions=1, organizations=5000)


def test_a_seeded_receipt_number_never_clashes_with_one_a_resident_already_has(db):
    """The seeder's numbers are a fixed sequence; a resident's (random) number may be among them. Then the
    seeded row takes another number, and seeding goes through."""
    from madoguchi.submissions.seeding import receipt_number
    from tests.conftest import make_procedure, make_submission

    seed_load(submissions=0, organizations=1, seed=7, now=NOW)
    resident = make_submission(make_procedure(Organization.objects.get(code="310000"))).submission
    Submission.objects.filter(pk=resident.pk).update(receipt_number=receipt_number(0))
    seed_load(submissions=20, organizations=1, seed=7, now=NOW)
    numbers = list(Submission.objects.values_list("receipt_number", flat=True))
    assert len(numbers) == 21 and len(set(numbers)) == 21
    assert all(is_valid_damm(n) for n in numbers)
