from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.organizations.models import Council, CouncilMembership, Organization
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
        indexes = [
            models.Index(fields=["organization", "fiscal_year"], name="daily_count_org_fy"),
            # The first and last counted day of a 年度 (open data's dates): one end of this index each.
            models.Index(fields=["day"], name="daily_count_day"),
        ]
        verbose_name = verbose_name_plural = "日別件数"


class MonthlyCount(models.Model):
    """Submissions per procedure per JST calendar month: the daily counts summed by month, written in the
    submission's own transaction beside DailyCount.

    The council-wide pages and the indicators read this table. A 年度 holds at most twelve rows a procedure,
    whatever the volume, where the daily counts hold up to 365: at 1,000,000 submissions over 7,152
    procedures most procedure-days hold one or two submissions, so summing the days of every member read
    nearly as many rows as there are submissions (bench/RESULTS.md section 7). Pages that need days (the
    cost share's membership dates, the open data's first and last day) read DailyCount.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    month = models.DateField("月（日本時間、月の初日）")
    fiscal_year = models.PositiveSmallIntegerField("年度")
    count = models.PositiveIntegerField("件数", default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["procedure", "month"], name="monthly_count_unique")]
        indexes = [
            models.Index(fields=["organization", "fiscal_year"], name="monthly_count_org_fy"),
            models.Index(fields=["fiscal_year", "organization"], name="monthly_count_fy_org"),
            models.Index(fields=["month"], name="monthly_count_month"),
        ]
        verbose_name = verbose_name_plural = "月別件数"


class ClosedMonthCount(models.Model):
    """Submissions per organization in a JST month that can no longer change: MonthlyCount summed over the
    organization's procedures, kept the first time a page needs the month (stats.counts.ensure_closed).

    A month is closed from the second day of the month after it (the month just ended stays open for a day,
    so that a submission committed just after midnight is never missed: counts.first_open_month). Arrivals
    are counted when they arrive, so a closed month's counts never change; count_submission for a closed
    month (a back-dated count: tests, seeding) drops the month's ClosedMonth mark, and the month is summed
    again when next read.
    The council's pages read a row per member and month here, whatever the volume, instead of a row per
    procedure and month.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField("月（日本時間、月の初日）")
    fiscal_year = models.PositiveSmallIntegerField("年度")
    count = models.PositiveIntegerField("件数", default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "month"], name="closed_month_count_unique")
        ]
        indexes = [models.Index(fields=["fiscal_year", "organization"], name="closed_month_count_fy_org")]
        verbose_name = verbose_name_plural = "締めた月の件数"


class CouncilClosedMonthCount(models.Model):
    """Submissions of a council's current members in a closed JST month: ClosedMonthCount summed over the
    members, kept the first time a council page needs the month (stats.counts.ensure_closed with a council).

    A row for every closed month asked for, zeros included, so that a row's presence says the month is
    kept. A back-dated count into the month (counts.reopen_month), a recount (counts.reopen_all) or a change
    of the council's members (a CouncilMembership saved or deleted: the receiver at the end of this module)
    drops the rows, and they are summed again when next read. The council's indicator pages read a row per month here instead
    of a row per member and month: the same rows at 10,000 or 10,000,000 submissions, whatever the number
    of members.
    """

    council = models.ForeignKey("organizations.Council", on_delete=models.CASCADE, related_name="+")
    month = models.DateField("月（日本時間、月の初日）")
    fiscal_year = models.PositiveSmallIntegerField("年度")
    count = models.PositiveIntegerField("件数", default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["council", "month"], name="council_closed_month_count_unique")
        ]
        verbose_name = verbose_name_plural = "協議会の締めた月の件数"


class ClosedMonth(models.Model):
    """A closed JST month whose ClosedMonthCount rows are complete (an organization with none has no row)."""

    month = models.DateField("月（日本時間、月の初日）", unique=True)

    class Meta:
        verbose_name = verbose_name_plural = "件数を締めた月"


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


# --------------------------------------------------------------------------------------------
# 指標: indicators with a baseline, a target per 年度 and the actual, rated ◎○△× (stats/indicators.py)
# --------------------------------------------------------------------------------------------


class Indicator(models.Model):
    """One policy indicator (指標) of an organization, or of a council (then `council` is set and
    `organization` is the council's secretariat, so the row still belongs to an organization).

    Values are decimals in the indicator's own unit (件, 分, % …). The actual of a 年度 is either counted
    from the daily counts (`actual_source`) or entered by hand on IndicatorYear."""

    class Kind(models.TextChoices):
        OUTCOME = "outcome", _("成果指標")
        ACTIVITY = "activity", _("活動指標")
        MAIN = "main", _("主指標")
        SUB = "sub", _("副指標")
        RESIDENT = "resident", _("県民指標")

    class Direction(models.TextChoices):
        HIGHER = "higher", _("大きいほど良い")
        LOWER = "lower", _("小さいほど良い")

    class Source(models.TextChoices):
        MANUAL = "manual", _("手入力")
        COUNCIL = "council", _("構成団体すべての手続の申請件数")
        ORGANIZATION = "organization", _("この団体の手続の申請件数")
        PROCEDURES = "procedures", _("選んだ手続の申請件数")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    council = models.ForeignKey(
        "organizations.Council", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField("指標名", max_length=200)
    kind = models.CharField("種別", max_length=16, choices=Kind.choices)
    unit = models.CharField("単位", max_length=20)
    direction = models.CharField("向き", max_length=8, choices=Direction.choices, default=Direction.HIGHER)
    baseline_value = models.DecimalField("基準値", max_digits=20, decimal_places=3, null=True, blank=True)
    baseline_when = models.CharField("基準値の時点", max_length=40, blank=True)
    long_term_target = models.DecimalField(
        "長期目標値", max_digits=20, decimal_places=3, null=True, blank=True
    )
    long_term_when = models.CharField("長期目標の時点", max_length=40, blank=True)
    actual_source = models.CharField(
        "実績値の出し方", max_length=16, choices=Source.choices, default=Source.MANUAL
    )
    # Of the indicator's own organization only (stats/indicators.py checks it; the form offers no others).
    procedures = models.ManyToManyField(Procedure, blank=True, related_name="+", verbose_name="数える手続")
    source = models.CharField("出典", max_length=200, blank=True)
    note = models.CharField("備考", max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["organization", "council"], name="indicator_owner")]
        verbose_name = verbose_name_plural = "指標"

    def __str__(self) -> str:
        return self.name


class IndicatorYear(models.Model):
    """An indicator's target for one 年度 and, when entered by hand, its actual with who and when."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="years")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    fiscal_year = models.PositiveSmallIntegerField("年度")
    target = models.DecimalField("目標値", max_digits=20, decimal_places=3, null=True, blank=True)
    target_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_set_at = models.DateTimeField(null=True, blank=True)
    actual = models.DecimalField("実績値", max_digits=20, decimal_places=3, null=True, blank=True)
    actual_entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actual_entered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["indicator", "fiscal_year"]
        constraints = [
            models.UniqueConstraint(fields=["indicator", "fiscal_year"], name="indicator_year_unique")
        ]
        verbose_name = verbose_name_plural = "指標の年度別の値"


class RatingThresholds(models.Model):
    """An organization's (or a council's) lower bounds of ◎, ○ and △ in percent of achievement; without a
    row the defaults in stats/indicators.py apply (◎ ≥ 110 %, ○ ≥ 100 %, △ ≥ 80 %)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    council = models.ForeignKey(
        "organizations.Council", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    excellent = models.DecimalField("◎ 予定以上（%以上）", max_digits=6, decimal_places=1)
    on_track = models.DecimalField("○ 予定通り（%以上）", max_digits=6, decimal_places=1)
    slightly_behind = models.DecimalField("△ やや遅れ（%以上）", max_digits=6, decimal_places=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(council__isnull=True),
                name="rating_thresholds_one_per_organization",
            ),
            models.UniqueConstraint(
                fields=["council"],
                condition=models.Q(council__isnull=False),
                name="rating_thresholds_one_per_council",
            ),
        ]
        verbose_name = verbose_name_plural = "進捗評価の基準"


@receiver(post_save, sender=CouncilMembership)
@receiver(post_delete, sender=CouncilMembership)
def _council_members_changed(sender, instance: CouncilMembership, **kwargs) -> None:
    # The council's closed months were summed over its members of then: summed again when next read; and its
    # open data's files change today. Also in the operator's admin; a bulk change of memberships (no signal)
    # must do both itself.
    from madoguchi.stats import counts  # counts reads these models

    counts.reopen_council(instance.council_id)
    Council.objects.filter(pk=instance.council_id).update(members_changed_at=timezone.now())
