"""What an export of a procedure's submissions holds: its columns, its rows, its file name.

Used by the staff views (CSV and small .xlsx, streamed or built in the request) and by the worker
(large .xlsx, built in the background: see ExportFile).
"""

from collections.abc import Iterator

from django.utils import timezone, translation

from madoguchi.lib.receipt import format_receipt_number
from madoguchi.lib.timeutil import JST
from madoguchi.procedures.formspec import FormSpec
from madoguchi.procedures.models import FormVersion
from madoguchi.submissions import intake
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Status, Submission


class ExportColumns:
    """Columns of a procedure's export: every field of every version, current version's order first."""

    def __init__(self, procedure):
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
        header = ["受付番号", "到達日時", "状態", "フォームの版"]
        for field in self.fields:
            header.extend(intake.export_columns(field))
        return header

    def row(self, submission: Submission, version_numbers: dict[int, int]) -> list[str]:
        answers = read_answers(submission)
        spec = self.specs[submission.form_version_id]
        cells = [
            format_receipt_number(submission.receipt_number),
            submission.submitted_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
            Status(submission.status).label,
            str(version_numbers[submission.form_version_id]),
        ]
        for field in self.fields:
            own = spec.field(field.key) or field
            cells.extend(intake.export_cells(own, answers.get(field.key)))
        return cells


def export_rows(procedure) -> tuple[list[str], Iterator[list[str]]]:
    """Header and rows of a procedure's export, in Japanese whatever language the back office is shown in.

    The rows are produced lazily (the CSV streams after the view has returned), so Japanese is activated
    inside the generator, for as long as it runs, and not only while this function does.
    """
    columns = ExportColumns(procedure)
    version_numbers = dict(FormVersion.objects.filter(procedure=procedure).values_list("pk", "number"))
    queryset = (
        Submission.objects.filter(organization_id=procedure.organization_id, procedure=procedure)
        .only("receipt_number", "submitted_at", "status", "form_version_id", "answers_data")
        .order_by("id")
    )

    def rows() -> Iterator[list[str]]:
        with translation.override("ja"):
            for submission in queryset.iterator(chunk_size=2000):
                yield columns.row(submission, version_numbers)

    with translation.override("ja"):
        header = columns.header()
    return header, rows()


def export_filename(procedure, ext: str) -> str:
    stamp = timezone.now().astimezone(JST).strftime("%Y%m%d-%H%M")
    return f"{procedure.title}_{stamp}.{ext}"
