"""Large .xlsx exports: asked for on the export page, built by the worker, downloaded, deleted after 7 days."""

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from openpyxl import load_workbook

from madoguchi.audit.models import AuditLog
from madoguchi.submissions import exports
from madoguchi.submissions.models import ExportFile
from madoguchi.submissions.tasks import build_export_file
from tests.conftest import SIGNUP_ANSWERS, make_submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def large(procedure, monkeypatch):
    """A procedure with more rows than an .xlsx is built for in the request (the limit made small)."""
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS_IN_REQUEST", 2)
    for phone in ("0120123456", "0857201111", "0857202222"):
        make_submission(procedure, {**SIGNUP_ANSWERS, "phone": phone})
    return procedure


def export_page(client, procedure) -> str:
    return client.get(reverse("staff:export", kwargs={"procedure_id": procedure.pk})).content.decode()


def test_a_large_xlsx_is_built_by_the_worker_then_downloaded(client, colleague, large):
    client.force_login(colleague)
    page = export_page(client, large)
    assert reverse("staff:export_xlsx", kwargs={"procedure_id": large.pk}) not in page
    assert "Excelファイル（.xlsx）を作成する" in page
    response = client.post(
        reverse("staff:export_file_request", kwargs={"procedure_id": large.pk}), follow=True
    )
    page = response.content.decode()
    assert "Excelファイルの作成を受け付けました" in page
    assert '<strong data-testid="export-file-status">作成待ち</strong>' in page
    export = ExportFile.objects.get()
    assert DBTaskResult.objects.filter(
        task_path__endswith="build_export_file", args_kwargs__args=[export.pk]
    ).exists()
    assert AuditLog.objects.get(action="submission.export").detail == {
        "format": "xlsx",
        "export_file": export.pk,
    }

    assert build_export_file.call(export.pk) == "done"
    assert build_export_file.call(export.pk) == "skipped"  # a second run leaves the file alone
    page = export_page(client, large)
    assert "作成済み" in page and "ダウンロード（.xlsx、3件）" in page
    response = client.get(reverse("staff:export_file", kwargs={"export_id": export.pk}))
    assert response["Content-Disposition"].startswith('attachment; filename="export.xlsx"')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == 3 and {r[header.index("電話番号")] for r in rows} >= {"0120123456"}  # leading 0 kept
    assert {r[header.index("氏名（姓）")] for r in rows} == {"髙橋"}
    assert AuditLog.objects.filter(action="submission.export_download", actor=colleague).count() == 1


def test_the_request_page_refuses_a_direct_xlsx_beyond_the_limit(client, colleague, large):
    client.force_login(colleague)
    response = client.get(reverse("staff:export_xlsx", kwargs={"procedure_id": large.pk}))
    assert response.status_code == 409 and "Excelファイル（.xlsx）を作成する" in response.content.decode()
    assert not AuditLog.objects.filter(action="submission.export").exists()


def test_a_failed_or_abandoned_build_says_so_and_offers_nothing_to_download(client, colleague, large):
    client.force_login(colleague)
    client.post(reverse("staff:export_file_request", kwargs={"procedure_id": large.pk}))
    failed = ExportFile.objects.get()
    with mock.patch.object(exports, "build_file", side_effect=OSError("disk full")):
        assert build_export_file.call(failed.pk) == "failed"
    client.post(reverse("staff:export_file_request", kwargs={"procedure_id": large.pk}))
    abandoned = ExportFile.objects.exclude(pk=failed.pk).get()
    ExportFile.objects.filter(pk=abandoned.pk).update(
        status=ExportFile.Status.RUNNING, created_at=timezone.now() - timedelta(hours=3)
    )  # its worker stopped three hours ago
    page = export_page(client, large)
    assert page.count("作成できませんでした") == 2 and "もう一度作成するか、CSVをお使いください" in page
    for export in (failed, abandoned):
        assert client.get(reverse("staff:export_file", kwargs={"export_id": export.pk})).status_code == 404


def test_a_viewer_can_neither_ask_for_nor_download_a_file(client, colleague, viewer, large):
    export = exports.request_export_file(procedure=large, user=colleague)
    build_export_file.call(export.pk)
    client.force_login(viewer)
    assert (
        client.post(reverse("staff:export_file_request", kwargs={"procedure_id": large.pk})).status_code
        == 403
    )
    assert client.get(reverse("staff:export_file", kwargs={"export_id": export.pk})).status_code == 403
    assert ExportFile.objects.count() == 1


def test_files_are_deleted_seven_days_after_they_were_made(colleague, large, capsys):
    old, new = (exports.request_export_file(procedure=large, user=colleague) for _ in range(2))
    for export in (old, new):
        build_export_file.call(export.pk)
    old.refresh_from_db()
    ExportFile.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert default_storage.exists(old.file.name)
    call_command("purge_export_files")
    assert "1件の出力ファイルを削除しました" in capsys.readouterr().out
    assert not default_storage.exists(old.file.name)
    assert list(ExportFile.objects.all()) == [new]
