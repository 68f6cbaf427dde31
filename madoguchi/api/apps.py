from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "madoguchi.api"
    verbose_name = "API"
