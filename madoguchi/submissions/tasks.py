import logging

from django.utils import timezone
from django_tasks import task

from madoguchi.submissions import exports
from madoguchi.submissions.models import ExportFile

logger = logging.getLogger(__name__)


@task()
def build_export_file(export_id: int) -> str:
    """Build one requested .xlsx. Taken once: a second run of the same task leaves the file alone."""
    if not ExportFile.objects.filter(pk=export_id, status=ExportFile.Status.PENDING).update(
        status=ExportFile.Status.RUNNING
    ):
        return "skipped"
    export = ExportFile.objects.select_related("procedure").get(pk=export_id)
    try:
        rows = exports.build_file(export)
    except Exception:
        # Ids only: the answers being written must not reach the log.
        logger.exception("export file %s could not be built", export_id)
        ExportFile.objects.filter(pk=export_id).update(
            status=ExportFile.Status.FAILED, finished_at=timezone.now()
        )
        return "failed"
    export.rows, export.status, export.finished_at = rows, ExportFile.Status.DONE, timezone.now()
    export.save(update_fields=["file", "rows", "status", "finished_at"])
    return "done"
