from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult


class Command(BaseCommand):
    help = (
        "実行中のまま止まったタスク（ワーカーが強制終了された場合）を、再実行の待ち行列に戻します。"
        " cron などで数分ごとに実行してください。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=int, default=600, help="この秒数より前に始まったものを戻す（既定 600）"
        )

    def handle(self, *args, older_than: int, **options):
        # Our tasks are idempotent (they check the row's state first), so running one again is safe.
        cutoff = timezone.now() - timedelta(seconds=older_than)
        count = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff).update(
            status=TaskResultStatus.READY, started_at=None
        )
        self.stdout.write(f"{count}件のタスクを待ち行列に戻しました")
