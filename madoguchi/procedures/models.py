from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from madoguchi.organizations.models import Department, Organization


class Procedure(models.Model):
    class Kind(models.TextChoices):
        APPLICATION = "application", _("申請")
        NOTIFICATION = "notification", _("届出")
        SURVEY = "survey", _("アンケート")
        SIGNUP = "signup", _("申込")

    class Status(models.TextChoices):
        DRAFT = "draft", _("作成中")
        PUBLISHED = "published", _("公開中")
        CLOSED = "closed", _("受付終了")

    class Retention(models.IntegerChoices):
        ONE = 1, "1年"
        THREE = 3, "3年"
        FIVE = 5, "5年"
        TEN = 10, "10年"
        PERMANENT = 0, "永年"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="procedures")
    department = models.ForeignKey(
        Department, verbose_name="担当所属", null=True, blank=True, on_delete=models.PROTECT
    )
    title = models.CharField("手続名", max_length=200)
    summary = models.TextField("概要", blank=True)
    kind = models.CharField("種類", max_length=16, choices=Kind.choices, default=Kind.APPLICATION)
    status = models.CharField("状態", max_length=16, choices=Status.choices, default=Status.DRAFT)
    opens_at = models.DateTimeField("受付開始", null=True, blank=True)
    closes_at = models.DateTimeField("受付終了", null=True, blank=True)
    purpose = models.TextField("個人情報の利用目的", blank=True)
    retention_years = models.PositiveSmallIntegerField(
        "保存期間", choices=Retention.choices, default=Retention.FIVE
    )
    capacity = models.PositiveIntegerField("定員", null=True, blank=True)
    seats_taken = models.PositiveIntegerField("申込数", default=0, editable=False)
    send_receipt_email = models.BooleanField("受付メールを送る", default=True)
    current_version = models.ForeignKey(
        "FormVersion",
        verbose_name="現在の版",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "title"]
        indexes = [models.Index(fields=["status", "organization"], name="procedure_status_org")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__isnull=True) | models.Q(seats_taken__lte=models.F("capacity")),
                name="procedure_never_overbooked",
            )
        ]
        verbose_name = verbose_name_plural = "手続"

    def __str__(self) -> str:
        return self.title

    def reception_state(self, now=None) -> str:
        """'open', 'not_published', 'not_yet', 'ended' or 'full' for the resident's eyes."""
        now = now or timezone.now()
        if self.status != self.Status.PUBLISHED or self.current_version_id is None:
            return "ended" if self.status == self.Status.CLOSED else "not_published"
        if self.opens_at and now < self.opens_at:
            return "not_yet"
        if self.closes_at and now >= self.closes_at:
            return "ended"
        if self.capacity is not None and self.seats_taken >= self.capacity:
            return "full"
        return "open"

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.seats_taken, 0)


class FormVersion(models.Model):
    """An immutable version of a procedure's form. Submissions point at the version they were made with."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField("版")
    schema = models.JSONField("フォーム定義")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["procedure", "-number"]
        constraints = [models.UniqueConstraint(fields=["procedure", "number"], name="form_version_unique")]
        verbose_name = verbose_name_plural = "フォームの版"

    def __str__(self) -> str:
        return f"{self.procedure} 第{self.number}版"

    @cached_property
    def spec(self):
        from madoguchi.procedures.formspec import FormSpec

        return FormSpec.model_validate(self.schema)
