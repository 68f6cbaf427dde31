"""`manage.py demo_code`: the current 6-digit code of the demo admins' authenticator app (2段階認証), for
trying the demo without a phone. Only the demo's published key (load_demo.DEMO_TOTP_KEY) is read: a real
member's key is never shown."""

from django.core.management.base import BaseCommand
from django_otp.oath import TOTP

from madoguchi.organizations.management.commands.load_demo import (
    DEMO_TOTP_KEY,
    demo_totp_secret,
    two_factor_demo_logins,
)


class Command(BaseCommand):
    help = "デモの管理者ログインで入力する、いまの確認コード（2段階認証）を表示します。"

    def handle(self, *args, **options):
        totp = TOTP(bytes.fromhex(DEMO_TOTP_KEY), step=30, t0=0, digits=6)
        remaining = 30 - int(totp.time) % 30
        self.stdout.write(
            f"確認コード: {totp.token():06d}（あと{remaining}秒有効。"
            f"対象: {', '.join(two_factor_demo_logins())}。同じコードは一度しか使えません）"
        )
        self.stdout.write(f"認証アプリに登録する鍵: {demo_totp_secret()}")
