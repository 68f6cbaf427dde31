from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "madoguchi.accounts"
    verbose_name = "職員"

    def ready(self) -> None:
        from madoguchi.accounts import login_security, staff_sessions  # noqa: F401 (connect their receivers)
