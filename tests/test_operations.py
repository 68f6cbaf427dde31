"""Health endpoints, the organization import and the demo data."""

import pytest
from django.core.management import CommandError, call_command

from madoguchi.accounts.models import CouncilRole, Membership
from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures.models import Procedure


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "migrations": True}


@pytest.mark.django_db
def test_import_one_prefecture(capsys):
    call_command("import_organizations", "鳥取県")
    assert Organization.objects.count() == 20
    tottori = Organization.objects.get(code="312011")
    assert (
        tottori.name == "鳥取市" and tottori.prefecture.code == "310000" and tottori.name_kana == "トットリシ"
    )
    call_command("import_organizations", "31")  # again: updates, never duplicates
    assert Organization.objects.count() == 20
    assert "更新 20件" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_unknown_prefecture_says_so():
    with pytest.raises(CommandError, match="見つかりません"):
        call_command("import_organizations", "鳥取都")


@pytest.mark.django_db
def test_import_all_1788():
    call_command("import_organizations", all=True)
    assert Organization.objects.count() == 1788
    assert Organization.objects.filter(kind="prefecture").count() == 47
    assert not Organization.objects.filter(kind="municipality", prefecture__isnull=True).exists()


@pytest.mark.django_db
def test_demo_data_is_complete_and_idempotent(capsys):
    call_command("load_demo")
    call_command("load_demo")
    council = Council.objects.get(name="鳥取県自治体ICT共同化推進協議会")
    assert council.members.count() == 20 and council.secretariat.code == "310000"
    published = Procedure.objects.filter(status="published")
    assert {(p.organization.code, p.kind) for p in published} >= {
        ("312011", "application"),
        ("310000", "survey"),
        ("312011", "signup"),
    }
    assert published.get(kind="signup").capacity == 20
    assert Membership.objects.filter(user__username="tottori-staff", role="processor").exists()
    assert CouncilRole.objects.filter(user__username="council").exists()
    out = capsys.readouterr().out
    assert "tottori-staff" in out and "madoguchi-demo-2026" in out


@pytest.mark.django_db
def test_public_api_lists_procedures_and_openapi(client, procedure):
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Madoguchi API"
    rows = client.get("/api/v1/organizations/312011/procedures").json()
    assert [r["title"] for r in rows] == ["シニア向けスマートフォン教室"]
    assert client.get("/api/v1/organizations/999999/procedures").status_code == 404


def test_postal_code_lookup(client):
    assert client.get("/api/v1/postal-codes/680-8570").json()["address"] == "鳥取県鳥取市東町"
    assert client.get("/api/v1/postal-codes/0000000").status_code == 404
    assert client.get("/api/v1/postal-codes/abc").status_code == 404


def test_stylesheet_and_script_are_served(client):
    for path in ("/static/madoguchi/site.css", "/static/madoguchi/form.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content)
