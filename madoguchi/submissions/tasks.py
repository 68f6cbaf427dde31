import logging

from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from madoguchi.submissions import exports
from madoguchi.submissions.models import ExportFile, delete_stored_file

logger = logging.getLogger(__name__)


# Below the resident e-mails: when both wait, a receipt goes before a build of several minutes.
@task(priority=-10)
def build_export_file(export_id: int) -> str:
    """Build one requested .xlsx. Taken once: a second run leaves it alone, unless the first was left
    running by a worker that stopped (requeue_stale_tasks runs it again), which this one takes over."""
    waiting = Q(status=ExportFile.Status.PENDING)
    abandoned = Q(status=ExportFile.Status.RUNNING, started_at__lt=exports.stale_before())
    if not ExportFile.objects.filter(waiting | abandoned, pk=export_id).update(
        status=ExportFile.Status.RUNNING, started_at=timezone.now()
    ):
        return "skipped"
    export = ExportFile.objects.select_related("procedure").get(pk=export_id)
    try:
        export.rows = exports.build_file(export)
        export.status, export.finished_at = ExportFile.Status.DONE, timezone.now()
        export.save(update_fields=["file", "rows", "status", "finished_at"])
    except Exception:
        # Ids only: the answers being written must not reach the log.
        logger.exception("export file %s could not be built", export_id)
        delete_stored_file(export)
        ExportFile.objects.filter(pk=export_id).update(
            status=ExportFile.Status.FAILED, finished_at=timezone.now()
        )
        return "failed"
    return "done"
