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
from madoguchi.lib import envelope
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
    assert AuditLog.objects.get(action="submission.export_request").detail == {
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
    assert len(rows) == 3 and {r[header.index("電話番号")] for r in rows} >= {
        "0120-123-456"
    }  # text, leading 0 kept, in the one written form
    assert {r[header.index("氏名（姓）")] for r in rows} == {"髙橋"}
    assert AuditLog.objects.filter(action="submission.export_download", actor=colleague).count() == 1
    page = export_page(client, large)  # 最近の出力 lists the request and the download
    assert "（作成を依頼）" in page and "（作成したファイルをダウンロード）" in page


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
        status=ExportFile.Status.RUNNING, started_at=timezone.now() - timedelta(hours=3)
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


def built(procedure, user) -> ExportFile:
    export = exports.request_export_file(procedure=procedure, user=user)
    assert build_export_file.call(export.pk) == "done"
    export.refresh_from_db()
    return export


def test_files_are_deleted_seven_days_after_they_were_made(
    client, colleague, large, capsys, django_capture_on_commit_callbacks
):
    old, new = built(large, colleague), built(large, colleague)
    ExportFile.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    client.force_login(colleague)
    # Past the days files are kept, it is no longer offered, even before the purge has run.
    assert client.get(reverse("staff:export_file", kwargs={"export_id": old.pk})).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_export_files")
    assert "1件の出力ファイルを削除しました" in capsys.readouterr().out
    assert not default_storage.exists(old.file.name) and default_storage.exists(new.file.name)
    assert list(ExportFile.objects.all()) == [new]
    assert not AuditLog.objects.filter(action="submission.export_download").exists()


def test_a_file_stored_by_a_worker_that_stopped_before_saving_its_row_is_still_purged(
    colleague, large, django_capture_on_commit_callbacks
):
    export = exports.request_export_file(procedure=large, user=colleague)
    exports.build_file(export)  # stored; then the worker stopped: the row never learnt the name
    stored = export.file.name
    assert default_storage.exists(stored) and not ExportFile.objects.get().file
    ExportFile.objects.update(created_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_export_files", stdout=io.StringIO())
    assert not default_storage.exists(stored)


def test_deleting_an_export_row_anywhere_deletes_its_file(
    colleague, large, django_capture_on_commit_callbacks
):
    export = built(large, colleague)
    with django_capture_on_commit_callbacks(execute=True):
        ExportFile.objects.filter(pk=export.pk).delete()  # as the admin's bulk delete does
    assert not default_storage.exists(export.file.name)


def test_a_file_gone_from_storage_is_a_404_not_a_500(client, colleague, large):
    export = built(large, colleague)
    default_storage.delete(export.file.name)
    client.force_login(colleague)
    assert client.get(reverse("staff:export_file", kwargs={"export_id": export.pk})).status_code == 404
    assert not AuditLog.objects.filter(action="submission.export_download").exists()


def test_asking_again_while_one_is_on_its_way_gives_that_one(client, colleague, owner, large):
    client.force_login(colleague)
    for _ in range(3):
        client.post(reverse("staff:export_file_request", kwargs={"procedure_id": large.pk}))
    client.force_login(owner)
    client.post(reverse("staff:export_file_request", kwargs={"procedure_id": large.pk}))
    export = ExportFile.objects.get()
    assert DBTaskResult.objects.filter(task_path__endswith="build_export_file").count() == 1
    build_export_file.call(export.pk)
    client.post(reverse("staff:export_file_request", kwargs={"procedure_id": large.pk}))
    assert ExportFile.objects.count() == 2  # once built, asking again makes a new one (new rows since)


def test_a_build_left_by_a_stopped_worker_is_taken_over_when_its_task_runs_again(colleague, large):
    export = exports.request_export_file(procedure=large, user=colleague)
    ExportFile.objects.filter(pk=export.pk).update(status="running", started_at=timezone.now())
    assert build_export_file.call(export.pk) == "skipped"  # still running somewhere: left alone
    ExportFile.objects.filter(pk=export.pk).update(started_at=timezone.now() - timedelta(hours=2))
    assert build_export_file.call(export.pk) == "done"  # requeued after its worker stopped
    # A request long in the queue is waiting, not failed.
    waiting = exports.request_export_file(procedure=large, user=colleague)
    ExportFile.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=5))
    waiting.refresh_from_db()
    assert exports.shown_status(waiting) == ExportFile.Status.PENDING


def test_the_worker_built_file_has_numbers_dates_and_text_as_typed(colleague, tottori, monkeypatch):
    from datetime import datetime

    from madoguchi.lib.timeutil import JST
    from tests.conftest import ALL_TYPES_SCHEMA, make_procedure
    from tests.test_exports_excel import ANSWERS

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS_IN_REQUEST", 0)
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目の手続")
    submission = make_submission(procedure, ANSWERS).submission
    export = built(procedure, colleague)

    with envelope.open_file(export.organization_id, export.file.storage, export.file.name) as stored:
        sheet = load_workbook(io.BytesIO(stored.read())).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, sheet[2], strict=False))
    assert row["件名"].value == "=SUM(A1)" and row["件名"].data_type == "s"
    assert row["人数"].value == 3 and row["人数"].data_type == "n"
    assert row["生年月日"].is_date and row["生年月日"].value == datetime(1950, 4, 1)
    arrived = submission.submitted_at.astimezone(JST).replace(tzinfo=None, microsecond=0)
    assert row["到達日時"].value == arrived
    assert export.rows == 1
