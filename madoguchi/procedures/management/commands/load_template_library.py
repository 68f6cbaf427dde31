from django.core.management.base import BaseCommand, CommandError

from madoguchi.organizations.models import Council
from madoguchi.procedures.library import load_library


class Command(BaseCommand):
    help = "同梱のひな形（手続のテンプレート）を協議会のひな形に登録します。もう一度実行すると最新の内容に更新します。"

    def add_arguments(self, parser):
        parser.add_argument("council", help="協議会の名称")

    def handle(self, *args, council: str, **options):
        found = Council.objects.filter(name=council).first()
        if found is None:
            raise CommandError(f"協議会「{council}」は登録されていません。")
        count = load_library(council=found)
        self.stdout.write(self.style.SUCCESS(f"{found.name}に、ひな形{count}件を登録しました。"))
