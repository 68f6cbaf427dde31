from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "madoguchi.organizations"
    verbose_name = "団体"
