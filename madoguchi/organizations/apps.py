from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "madoguchi.organizations"
    verbose_name = "団体"

    def ready(self):
        # Row-level security: each new connection's role and tenant scope (the worker's too)
        from madoguchi.lib import tenancy  # noqa: F401
