from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from madoguchi.lib import tenancy


class Command(BaseCommand):
    help = (
        "PostgreSQL: アプリケーションが使うロール（表の所有者ではないロール）を作り、表の読み書きを許可します。"
        "表の所有者として実行し、その後 DATABASE_APP_ROLE にロール名を設定します（行レベルセキュリティ）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="ロール名（例: madoguchi_app）")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("PostgreSQL でのみ使えます（SQLite には行レベルセキュリティがありません）。")
        try:
            tenancy.grant_app_role(role)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"ロール {role} に表の読み書きを許可しました。DATABASE_APP_ROLE={role} を設定してください。"
        )
