from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from madoguchi.lib import envelope


class Command(BaseCommand):
    help = (
        "マスター鍵（Tink の JSON キーセット）を標準出力に書き出します。"
        "引数なし: 新しいキーセット。--add-primary: 今のキーセットに新しい主鍵を加えたもの"
        "（MADOGUCHI_MASTER_KEYSET に設定してから rotate_keys --rewrap を実行）。"
        "--only-primary: 主鍵だけを残したもの（--rewrap の後に）。"
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--add-primary", action="store_true")
        group.add_argument("--only-primary", action="store_true")

    def handle(self, *args, add_primary, only_primary, **options):
        if (add_primary or only_primary) and not settings.MASTER_KEYSET:
            raise CommandError("MADOGUCHI_MASTER_KEYSET が設定されていません。")
        if add_primary:
            self.stdout.write(envelope.new_master_keyset(settings.MASTER_KEYSET))
        elif only_primary:
            self.stdout.write(envelope.only_primary(settings.MASTER_KEYSET))
        else:
            self.stdout.write(envelope.new_master_keyset())
