from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from madoguchi.submissions.models import StagedUpload


class Command(BaseCommand):
    help = (
        "申請されずに残った一時添付ファイル（既定：24時間より前）を削除します。cron で毎日実行してください。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24)

    def handle(self, *args, hours: int, **options):
        cutoff = timezone.now() - timedelta(hours=hours)
        removed = 0
        for staged in StagedUpload.objects.filter(created_at__lt=cutoff).iterator():
            staged.file.delete(save=False)
            staged.delete()
            removed += 1
        self.stdout.write(f"{removed}件の一時ファイルを削除しました")
