from django.db import models

from madoguchi.organizations.models import Organization
from madoguchi.procedures.models import Procedure


class DailyCount(models.Model):
    """Submissions per procedure per JST day, written in the submission's own transaction.

    Dashboards and indicators read this table, never the submissions table.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    day = models.DateField("日付（日本時間）")
    fiscal_year = models.PositiveSmallIntegerField("年度")
    count = models.PositiveIntegerField("件数", default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["procedure", "day"], name="daily_count_unique")]
        indexes = [models.Index(fields=["organization", "fiscal_year"], name="daily_count_org_fy")]
        verbose_name = verbose_name_plural = "日別件数"


class StatusCount(models.Model):
    """Submissions of a procedure in each status now, moved in the same transaction as the status itself.

    The staff home page and the inbox read this table, so their counts cost the same at 1M submissions.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    status = models.CharField("状態", max_length=16)
    count = models.IntegerField("件数", default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["procedure", "status"], name="status_count_unique")]
        verbose_name = verbose_name_plural = "状態別件数"
