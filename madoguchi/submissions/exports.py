"""What an export of a procedure's submissions holds: its columns, its rows, its file name.

Used by the staff views (CSV and small .xlsx, streamed or built in the request) and by the worker
(large .xlsx, built in the background: see ExportFile).
"""

import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation

from madoguchi.audit import services as audit
from madoguchi.lib import envelope, exporting
from madoguchi.lib.receipt import format_receipt_number
from madoguchi.lib.timeutil import JST
from madoguchi.procedures.formspec import FormSpec
from madoguchi.procedures.models import FormVersion
from madoguchi.submissions import intake
from madoguchi.submissions.answers import read_answers, stored_answers
from madoguchi.submissions.models import ExportFile, Submission
from madoguchi.submissions.services import status_label


class ExportColumns:
    """Columns of a procedure's export: every field of every version, current version's order first."""

    def __init__(self, procedure):
        self.kind = procedure.kind
        versions = list(FormVersion.objects.filter(procedure=procedure).order_by("-number"))
        self.specs: dict[int, FormSpec] = {v.pk: v.spec for v in versions}
        self.fields = []
        seen = set()
        for version in versions:
            for field in self.specs[version.pk].input_fields:
                if field.key not in seen:
                    seen.add(field.key)
                    self.fields.append(field)

    def header(self) -> list[str]:
        """The column headings, in the language active (the callers make it Japanese)."""
        header = ["受付番号", "到達日時", "状態", "フォームの版"]
        for field in self.fields:
            header.extend(intake.export_columns(field))
        return header

    def row(self, submission: Submission, version_numbers: dict[int, int]) -> list[exporting.Cell]:
        """One submission's cells: 受付番号 (text), 到達日時 (an aware datetime in JST), 状態 (text), the form
        version's number (int), then each field's cells (``intake.export_cells``: numbers, dates, text).

        The definition of a row; ``row_maker`` makes the same rows faster for a whole export."""
        answers = read_answers(submission)
        spec = self.specs[submission.form_version_id]
        cells: list[exporting.Cell] = [
            format_receipt_number(submission.receipt_number),
            submission.submitted_at.astimezone(JST),
            status_label(self.kind, submission.status),  # in the kind's own words (受理, 受付済み…)
            version_numbers[submission.form_version_id],
        ]
        for field in self.fields:
            own = spec.field(field.key) or field
            cells.extend(intake.export_cells(own, answers.get(field.key)))
        return cells

    def row_maker(self, version_numbers: dict[int, int]) -> Callable[..., list[exporting.Cell]]:
        """A function of one submission's stored columns, ``(receipt_number, submitted_at, status,
        form_version_id, organization_id, answers_data)`` (``ROW_COLUMNS``), to the cells ``row`` gives it.

        What depends only on the form version or the field is chosen once, in the language active when
        this is called: each version's field (``spec.field``) and its cell function
        (``intake.export_cells_for``) per column, and each status's label."""
        plans: dict[int, list[tuple[str, Callable[[Any], list]]]] = {}
        labels: dict[str, str] = {}
        kind = self.kind

        def plan(version_id: int) -> list[tuple[str, Callable[[Any], list]]]:
            spec = self.specs[version_id]
            fields = [
                (field.key, intake.export_cells_for(spec.field(field.key) or field)) for field in self.fields
            ]
            plans[version_id] = fields
            return fields

        def make(receipt_number, submitted_at, status, version_id, organization_id, answers_data):
            answers = stored_answers(organization_id, answers_data)
            label = labels.get(status)
            if label is None:
                label = labels[status] = status_label(kind, status)
            cells: list[exporting.Cell] = [
                format_receipt_number(receipt_number),
                submitted_at.astimezone(JST),
                label,
                version_numbers[version_id],
            ]
            get = answers.get
            for key, field_cells in plans.get(version_id) or plan(version_id):
                cells += field_cells(get(key))
            return cells

        return make


# The columns ExportColumns.row_maker's function takes, in its order.
ROW_COLUMNS = (
    "receipt_number",
    "submitted_at",
    "status",
    "form_version_id",
    "organization_id",
    "answers_data",
)


def export_rows(
    procedure, submission_ids: Iterable[int] | None = None
) -> tuple[list[str], Iterator[list[exporting.Cell]]]:
    """Header and rows of a procedure's export, in Japanese whatever language the back office is shown in.

    Each row holds typed cells (``ExportColumns.row``), for ``exporting.csv_stream`` and
    ``exporting.xlsx_file``; rows come in order of arrival. With ``submission_ids``, only those submissions
    (the inbox's selection); ids of another procedure's or another organization's submissions are ignored,
    never exported. The caller has checked the user's access to ``procedure``.

    The rows are produced lazily (the CSV streams after the view has returned), so Japanese is activated
    inside the generator, for as long as it runs, and not only while this function does.
    """
    columns = ExportColumns(procedure)
    version_numbers = dict(FormVersion.objects.filter(procedure=procedure).values_list("pk", "number"))
    queryset = Submission.objects.filter(
        organization_id=procedure.organization_id, procedure=procedure
    ).order_by("id")
    if submission_ids is not None:
        queryset = queryset.filter(pk__in={int(pk) for pk in submission_ids})

    def rows() -> Iterator[list[exporting.Cell]]:
        with translation.override("ja"):
            make = columns.row_maker(version_numbers)
            # Plain tuples rather than model instances: a million of them are built.
            for values in queryset.values_list(*ROW_COLUMNS).iterator(chunk_size=2000):
                yield make(*values)

    with translation.override("ja"):
        header = columns.header()
    return header, rows()


def export_filename(procedure, ext: str, at=None) -> str:
    stamp = (at or timezone.now()).astimezone(JST).strftime("%Y%m%d-%H%M")
    return f"{procedure.title}_{stamp}.{ext}"


# Beyond this many rows an .xlsx is built by the worker (ExportFile) instead of in the request: at about
# 5,000 rows a second, 100,000 rows take some 20 seconds, about as long as anyone should wait for a page.
XLSX_MAX_ROWS_IN_REQUEST = 100_000
# How long a built file is kept for download: it holds every applicant's answers.
EXPORT_FILE_DAYS = 7
# A build still running after this long was left by a worker that stopped (1,000,000 rows take about
# three minutes): it is shown as failed, and a requeued task may build the file again.
EXPORT_FILE_STALE = timedelta(hours=1)


@transaction.atomic
def request_export_file(*, procedure, user) -> ExportFile:
    """Ask the worker for a procedure's .xlsx: the row, its task and the audit entry in one transaction.

    While one is waiting or being built, asking again gives that one: ten clicks make one file.
    """
    from madoguchi.procedures.models import Procedure
    from madoguchi.submissions.tasks import build_export_file

    Procedure.objects.select_for_update().filter(pk=procedure.pk).first()  # one request at a time
    waiting = (
        ExportFile.objects.filter(procedure=procedure, status__in=UNFINISHED).order_by("-created_at").first()
    )
    if waiting is not None and shown_status(waiting) != ExportFile.Status.FAILED:
        return waiting
    export = ExportFile.objects.create(
        organization_id=procedure.organization_id,
        procedure=procedure,
        requested_by=user,
        storage_key=secrets.token_hex(16),
    )
    audit.record(
        organization=procedure.organization,
        actor=user,
        action="submission.export_request",
        obj=procedure,
        detail={"format": "xlsx", "export_file": export.pk},
    )
    build_export_file.enqueue(export.pk)
    return export


UNFINISHED = (ExportFile.Status.PENDING, ExportFile.Status.RUNNING)


def stale_before():
    return timezone.now() - EXPORT_FILE_STALE


def is_expired(export: ExportFile) -> bool:
    """Older than the days files are kept: gone for staff even before purge_export_files removes it."""
    return export.created_at < timezone.now() - timedelta(days=EXPORT_FILE_DAYS)


def build_file(export: ExportFile) -> int:
    """Write the .xlsx of export's procedure into storage; the number of rows written."""
    header, rows = export_rows(export.procedure)
    written = 0

    def counted() -> Iterator[list[exporting.Cell]]:
        nonlocal written
        for row in rows:
            written += 1
            yield row

    with tempfile.TemporaryFile() as spool:  # openpyxl's write-only mode: memory stays flat
        exporting.xlsx_file(header, counted(), spool)
        # Stored encrypted with the organization's key, like the answers it holds (lib/envelope.py).
        with envelope.encrypted_file(export.organization_id, spool) as encrypted:
            export.file.save(f"{export.storage_key}.xlsx", File(encrypted), save=False)
    return written


def shown_status(export: ExportFile) -> str:
    """The status staff see: a build left running by a worker that stopped is shown as failed. One still
    waiting in the queue is only waiting, however long."""
    if (
        export.status == ExportFile.Status.RUNNING
        and (export.started_at or export.created_at) < stale_before()
    ):
        return ExportFile.Status.FAILED
    return export.status
