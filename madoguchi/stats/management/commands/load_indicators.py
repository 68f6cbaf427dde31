from django.core.management.base import BaseCommand, CommandError

from madoguchi.organizations.models import Council
from madoguchi.stats.indicators import DATA_FILE, ensure_counted_demo_indicator, load_indicator_csv


class Command(BaseCommand):
    help = (
        "政策の指標（基準値・年度ごとの目標値・実績値）のデモデータを読み込みます。団体コードのない行は協議会の指標に"
        "なります。もう一度実行しても何も変わりません。"
    )

    def add_arguments(self, parser):
        parser.add_argument("council", help="協議会の名称")
        parser.add_argument("--file", default=str(DATA_FILE), help="CSVファイル（既定：同梱のデモデータ）")
        parser.add_argument(
            "--with-counted",
            action="store_true",
            help="構成団体すべての申請件数を自動で数える指標（今年度の目標値つき）も登録します（デモ用）",
        )

    def handle(self, *args, council: str, file: str, with_counted: bool = False, **options):
        found = Council.objects.filter(name=council).first()
        if found is None:
            raise CommandError(f"協議会「{council}」は登録されていません。")
        from pathlib import Path

        created, changed = load_indicator_csv(council=found, path=Path(file))
        if with_counted:
            ensure_counted_demo_indicator(council=found)
        if options.get("verbosity", 1) > 0:
            self.stdout.write(
                self.style.SUCCESS(f"指標を{created}件登録し、年度ごとの値を{changed}件登録・更新しました。")
            )
