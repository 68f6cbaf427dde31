"""Tasks left "running" by a worker that was killed go back to the queue.

An e-mail task is taken back once it has run longer than a send can take (notifications.tasks.sending_timeout,
and a margin): with `--every 10` (a long-running process beside the workers) a killed worker's receipt is sent
again within a minute. Any other task (a large Excel export runs for minutes) after `--older-than` seconds.
Every task here is idempotent: it checks its row's state first (an e-mail in 送信中 is left to the worker that
is still sending it), so running one again is safe.
"""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from madoguchi.notifications.tasks import send_email, sending_timeout

EMAIL_TASK = f"{send_email.func.__module__}.{send_email.func.__qualname__}"


def requeue(*, older_than: int) -> int:
    """Put back the stale running tasks; how many."""
    now = timezone.now()
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING)
    emails = running.filter(
        task_path=EMAIL_TASK, started_at__lt=now - sending_timeout() - timedelta(seconds=5)
    )
    others = running.exclude(task_path=EMAIL_TASK).filter(started_at__lt=now - timedelta(seconds=older_than))
    count = 0
    for stale in (emails, others):
        count += stale.update(status=TaskResultStatus.READY, started_at=None)
    return count


class Command(BaseCommand):
    help = (
        "実行中のまま止まったタスク（ワーカーが強制終了された場合）を、再実行の待ち行列に戻します。"
        " メールのタスクは送信にかかる時間を過ぎたもの、ほかは --older-than 秒より前に始まったものです。"
        " --every を付けると、その秒数ごとに繰り返します（ワーカーと並べて常駐させる場合）。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=600,
            help="メール以外のタスク: この秒数より前に始まったものを戻す（既定 600）",
        )
        parser.add_argument("--every", type=int, default=0, help="この秒数ごとに繰り返す（既定: 1回だけ）")

    def handle(self, *args, older_than: int, every: int, **options):
        while True:
            count = requeue(older_than=older_than)
            if count or not every:
                self.stdout.write(f"{count}件のタスクを待ち行列に戻しました")
            if not every:
                return
            time.sleep(every)
