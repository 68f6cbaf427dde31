from django.core.management.base import BaseCommand

from madoguchi.submissions import counters
from madoguchi.submissions.drafts import purge_expired_drafts


class Command(BaseCommand):
    help = (
        "保存期限（手続ごとの一時保存の保存期間）を過ぎた一時保存と、期間の終わった試行回数の記録を削除します。"
        "cron で毎日実行してください。"
    )

    def handle(self, *args, **options):
        removed = purge_expired_drafts()
        self.stdout.write(f"{removed}件の一時保存を削除しました")
        self.stdout.write(f"{counters.purge_expired()}件の試行回数の記録を削除しました")
