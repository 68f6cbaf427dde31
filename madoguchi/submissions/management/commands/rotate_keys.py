from django.core.management.base import BaseCommand, CommandError

from madoguchi.organizations.models import Organization
from madoguchi.submissions import key_rotation


class Command(BaseCommand):
    help = (
        "暗号鍵を更新します（サービスを止めずに実行できます）。"
        "--rewrap: データ鍵をマスター鍵の主鍵で包み直す。"
        "--new-data-keys: 団体ごとのデータ鍵に新しい主鍵を加える。"
        "--reencrypt: 回答・一時保存・添付ファイルを主鍵で暗号化し直す（暗号化前のものを含む）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--rewrap", action="store_true")
        parser.add_argument("--new-data-keys", action="store_true")
        parser.add_argument("--reencrypt", action="store_true")
        parser.add_argument(
            "--organization", action="append", default=[], metavar="団体コード",
            help="--new-data-keys を特定の団体だけに（繰り返し指定できます）",
        )  # fmt: skip

    def handle(self, *args, rewrap, new_data_keys, reencrypt, organization, **options):
        if not (rewrap or new_data_keys or reencrypt):
            raise CommandError("--rewrap、--new-data-keys、--reencrypt のどれかを指定してください。")
        if rewrap:
            count = key_rotation.rewrap()
            self.stdout.write(f"データ鍵 {count}件をマスター鍵の主鍵で包み直しました。")
        if new_data_keys:
            ids = None
            if organization:
                found = dict(Organization.objects.filter(code__in=organization).values_list("code", "pk"))
                if missing := sorted(set(organization) - set(found)):
                    raise CommandError(f"団体コードが見つかりません: {', '.join(missing)}")
                ids = list(found.values())
            count = key_rotation.new_data_keys(organization_ids=ids)
            self.stdout.write(f"データ鍵 {count}件に新しい主鍵を加えました。")
        if reencrypt:
            counts = key_rotation.reencrypt(progress=self.stdout.write)
            self.stdout.write(f"暗号化し直しました: 計{sum(counts.values()):,}件")
