"""Health endpoints, the organization import and the demo data."""

import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

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
def test_the_demo_is_not_loaded_on_a_server_with_its_own_secret_key(settings):
    settings.SECRET_KEY = "a-real-production-key-" + "x" * 40
    with pytest.raises(CommandError, match="--on-a-server"):
        call_command("load_demo")
    assert not Organization.objects.exists()


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
    # The demo admins' second factor: make run says how to pass it, `make demo-code` gives the code.
    assert "make demo-code" in out
    client = Client()
    landed = client.post(
        reverse("staff:login"), {"username": "tottori-admin", "password": "madoguchi-demo-2026"}
    )
    assert client.get(landed["Location"])["Location"].startswith(reverse("staff:two_factor_verify"))
    call_command("demo_code")
    code = re.search(r"確認コード: (\d{6})", capsys.readouterr().out).group(1)
    assert client.post(reverse("staff:two_factor_verify"), {"code": code}).status_code == 302
    assert client.get(reverse("staff:home")).status_code == 200
    # A processor of the demo logs in with the password alone.
    staff = Client()
    staff.post(reverse("staff:login"), {"username": "tottori-staff", "password": "madoguchi-demo-2026"})
    assert staff.get(reverse("staff:home")).status_code == 200


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


@pytest.mark.django_db
def test_purge_removes_abandoned_uploads_and_keeps_fresh_ones(tottori, settings, tmp_path, capsys):
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from madoguchi.submissions.models import StagedUpload
    from madoguchi.submissions.services import stage_upload
    from tests.conftest import ALL_TYPES_SCHEMA, make_procedure

    settings.MEDIA_ROOT = tmp_path
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    old, fresh = (
        stage_upload(
            procedure=procedure,
            session_key=f"session-{n}",
            upload=SimpleUploadedFile(f"{n}.pdf", b"%PDF-1.4\n" + b"0" * 10),
            content_type="application/pdf",
        )
        for n in ("old", "fresh")
    )
    StagedUpload.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    old_path = tmp_path / old.file.name
    assert old_path.exists()
    call_command("purge_staged_uploads")
    assert "1件の一時ファイルを削除しました" in capsys.readouterr().out
    assert not old_path.exists() and (tmp_path / fresh.file.name).exists()
    assert list(StagedUpload.objects.values_list("pk", flat=True)) == [fresh.pk]


@pytest.mark.django_db(transaction=True)
def test_task_left_running_by_a_killed_worker_is_requeued_and_the_mail_goes_out(
    procedure, mailoutbox, capsys
):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from madoguchi.notifications.models import OutgoingEmail
    from tests.conftest import make_submission

    make_submission(procedure)
    # The worker took the task and was killed before finishing it.
    DBTaskResult.objects.update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - timedelta(minutes=20)
    )
    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0.1, verbosity=0)
    assert mailoutbox == []  # a running task is not taken again by itself
    call_command("requeue_stale_tasks")
    assert "1件のタスクを待ち行列に戻しました" in capsys.readouterr().out
    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0.1, verbosity=0)
    assert len(mailoutbox) == 1 and "髙橋" not in mailoutbox[0].subject
    assert OutgoingEmail.objects.get().status == OutgoingEmail.Status.SENT


@pytest.mark.django_db
def test_a_request_too_large_for_any_form_is_refused_before_it_is_read(client, procedure, settings):
    from madoguchi.submissions.models import StagedUpload, Submission

    settings.MAX_REQUEST_BYTES = 1024 * 1024
    url = f"/{procedure.organization.code}/procedures/{procedure.pk}/"
    response = client.generic(
        "POST",
        url,
        b"x" * 100,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(2 * 1024 * 1024),
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "一度に送信できるのは合計1MBまでです" in page
    assert not Submission.objects.exists() and not StagedUpload.objects.exists()


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy(client, procedure):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    # The operator's admin has the same policy (tests/browser/test_admin_csp.py: its pages break nothing).
    assert client.get("/admin/").headers["Content-Security-Policy"] == policy
    assert "report-uri /csp-report/" in policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title"), [("en", "What you sent is too large"), ("ja", "送信する内容が大きすぎます")]
)
def test_the_413_page_is_in_the_residents_language(client, procedure, settings, language, title):
    from django.utils import translation

    settings.MAX_REQUEST_BYTES = 1024 * 1024
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    translation.activate("ja" if language == "en" else "en")  # whatever this thread served last
    response = client.generic(
        "POST",
        f"/{procedure.organization.code}/procedures/{procedure.pk}/",
        b"x",
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(2 * 1024 * 1024),
    )
    translation.deactivate()
    page = response.content.decode()
    assert response.status_code == 413 and f'<html lang="{language}"' in page and title in page


@pytest.mark.django_db
def test_the_413_page_links_back_to_the_form_on_this_site_only(client, procedure, settings):
    settings.MAX_REQUEST_BYTES = 1024 * 1024
    url = f"/{procedure.organization.code}/procedures/{procedure.pk}/"
    big = {"content_type": "multipart/form-data; boundary=b", "CONTENT_LENGTH": str(2 * 1024 * 1024)}
    page = client.generic("POST", url, b"x", HTTP_REFERER=f"http://testserver{url}", **big).content.decode()
    assert f'href="http://testserver{url}">入力画面に戻る</a>' in page
    page = client.generic("POST", url, b"x", HTTP_REFERER="https://evil.example/", **big).content.decode()
    assert "evil.example" not in page and "入力画面に戻る" not in page


@pytest.mark.django_db
def test_every_page_names_its_icon_and_the_icon_is_served(client):
    """Browsers ask for an icon on every page: named in the page, it is one small static file, not a 404."""
    import re

    page = client.get("/").content.decode()
    href = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)[1]
    response = client.get(href)
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg")
