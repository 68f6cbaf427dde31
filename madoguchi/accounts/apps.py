from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "madoguchi.accounts"
    verbose_name = "職員"

    def ready(self) -> None:
        from madoguchi.accounts import login_security  # noqa: F401 (connects the login audit receivers)
