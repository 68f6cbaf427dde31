from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from madoguchi.submissions.exports import EXPORT_FILE_DAYS
from madoguchi.submissions.models import ExportFile


class Command(BaseCommand):
    help = f"作成から{EXPORT_FILE_DAYS}日を過ぎた出力ファイル（Excel）を削除します。cron で毎日実行してください。"

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=EXPORT_FILE_DAYS)

    def handle(self, *args, days: int, **options):
        cutoff = timezone.now() - timedelta(days=days)
        removed = 0
        for export in ExportFile.objects.filter(created_at__lt=cutoff).iterator():
            export.delete()  # its file goes with it (a post_delete receiver), even one the row never named
            removed += 1
        self.stdout.write(f"{removed}件の出力ファイルを削除しました")
