from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "madoguchi.stats"
    verbose_name = "統計"
