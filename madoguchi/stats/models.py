from django.conf import settings
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


class WorkingGroup(models.Model):
    """部会: the council members that share one system (e.g. 電子申請部会) and split its yearly cost."""

    council = models.ForeignKey(
        "organizations.Council", on_delete=models.CASCADE, related_name="working_groups"
    )
    name = models.CharField("部会名", max_length=128)
    members = models.ManyToManyField(Organization, through="WorkingGroupMembership", related_name="+")

    class Meta:
        ordering = ["council", "name"]
        constraints = [models.UniqueConstraint(fields=["council", "name"], name="working_group_unique_name")]
        verbose_name = verbose_name_plural = "部会"

    def __str__(self) -> str:
        return self.name


class WorkingGroupMembership(models.Model):
    """A member of a 部会 from `joined_on` (None: from the start) to `left_on` (its last day; None: still in)."""

    working_group = models.ForeignKey(WorkingGroup, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    joined_on = models.DateField("加入日", null=True, blank=True)
    left_on = models.DateField("脱退日", null=True, blank=True)

    class Meta:
        ordering = ["organization__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["working_group", "organization"], name="working_group_member_unique"
            )
        ]
        verbose_name = verbose_name_plural = "部会の構成団体"


class CostShare(models.Model):
    """負担金 of one 部会 for one 年度: the cost and weights the secretariat entered, and, once decided, the
    shares as computed then (`decided_shares`), kept even if populations or counts change later."""

    working_group = models.ForeignKey(WorkingGroup, on_delete=models.CASCADE, related_name="cost_shares")
    fiscal_year = models.PositiveSmallIntegerField("年度")
    cost = models.BigIntegerField("年間の費用（円）")
    weight_equal = models.PositiveSmallIntegerField("均等割（%）")
    weight_population = models.PositiveSmallIntegerField("人口割（%）")
    weight_usage = models.PositiveSmallIntegerField("件数割（%）")
    decided_at = models.DateTimeField("確定日時", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="確定した人",
    )
    decided_shares = models.JSONField("確定した負担額", default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["working_group", "-fiscal_year"]
        constraints = [
            models.UniqueConstraint(fields=["working_group", "fiscal_year"], name="cost_share_unique_year")
        ]
        verbose_name = verbose_name_plural = "負担金"
