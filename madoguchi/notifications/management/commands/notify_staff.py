from django.core.management.base import BaseCommand

from madoguchi.notifications.services import queue_staff_notices


class Command(BaseCommand):
    help = "新しい申請を、手続ごとに登録された職員のメールアドレスへ知らせます（数分ごとに実行）。"

    def handle(self, *args, **options):
        queued = queue_staff_notices()
        self.stdout.write(f"{queued}通のお知らせを送信待ちにしました。")
