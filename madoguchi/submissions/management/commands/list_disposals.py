from django.core.management.base import BaseCommand

from madoguchi.submissions.retention import list_disposals


class Command(BaseCommand):
    help = "保存期間を過ぎた申請を団体ごとに一覧にし、管理者の承認を待ちます（月に一度）。"

    def handle(self, *args, **options):
        made = list_disposals()
        for disposal_list in made:
            self.stdout.write(f"{disposal_list.organization.code}: {disposal_list.count}")
        self.stdout.write(f"lists: {len(made)}")
