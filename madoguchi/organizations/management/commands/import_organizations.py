from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.organizations.services import CODES_CSV, import_organizations


class Command(BaseCommand):
    help = "全国地方公共団体コードの一覧から、都道府県とその市区町村を登録・更新します。"

    def add_arguments(self, parser):
        parser.add_argument(
            "prefecture", nargs="?", help="都道府県名（例：鳥取県）または2桁のコード（例：31）"
        )
        parser.add_argument("--all", action="store_true", help="全国のすべての団体を登録します")
        parser.add_argument("--csv", type=Path, default=CODES_CSV, help="読み込むCSV（既定は同梱の一覧）")

    def handle(self, *args, prefecture=None, all=False, csv=CODES_CSV, **options):
        if not prefecture and not all:
            raise CommandError(
                "都道府県名を指定してください（例：manage.py import_organizations 鳥取県）。全国なら --all。"
            )
        try:
            created, updated = import_organizations(prefecture=None if all else prefecture, path=csv)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"登録 {created}件、更新 {updated}件")
