from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone, translation
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from madoguchi.organizations.models import Department, Organization

# The council's template library is browsed by these; a procedure carries one too, for residents. The
# labels follow the page language; search texts are built from the Japanese ones (translation.override).
CATEGORIES = [
    ("kosodate", _("子育て")),
    ("kaigo", _("介護")),
    ("zei", _("税")),
    ("shomeisho", _("証明書")),
    ("hikkoshi", _("引越し")),
    ("event", _("イベント・講座")),
    ("survey", _("アンケート")),
    ("shisetsu", _("施設利用")),
    ("hojokin", _("補助金")),
    ("bosai", _("防災・被災者支援")),
    ("shokuin", _("職員向け調査")),
]
LIFE_EVENTS = [
    ("birth", _("出産・子育て")),
    ("moving", _("引越し")),
    ("marriage", _("結婚・離婚")),
    ("care", _("介護・福祉")),
    ("death", _("おくやみ")),
    ("work", _("仕事・事業")),
    ("disaster", _("災害")),
    ("learning", _("学び・催し")),
]


class DuplicateRule(models.TextChoices):
    NONE = "", _("防止しない")
    EMAIL = "email", _("確認済みのメールアドレスごとに1件")
    FIELD = "field", _("選んだ項目の値ごとに1件")


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

    organization = models.ForeignKey(
        Organization, verbose_name="団体", on_delete=models.PROTECT, related_name="procedures"
    )
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
    # 標準処理期間 (行政手続法 第6条): calendar days from arrival to a decision; the inbox's 期限切れ filter.
    standard_processing_days = models.PositiveSmallIntegerField(
        "標準処理期間（日）", null=True, blank=True, validators=[MaxValueValidator(3650)]
    )
    seats_taken = models.PositiveIntegerField("申込数", default=0, editable=False)
    send_receipt_email = models.BooleanField("受付メールを送る", default=True)
    title_en = models.CharField("手続名（英語）", max_length=200, blank=True)
    summary_en = models.TextField("概要（英語）", blank=True)
    notify_emails = models.TextField("新しい申請を知らせる職員のメールアドレス", blank=True)
    # Arrival time (UTC) of the last submission told to `notify_emails` (notify_staff, run by cron).
    staff_notified_through = models.DateTimeField(null=True, blank=True, editable=False)
    category = models.CharField("分類", max_length=16, choices=CATEGORIES, blank=True)
    life_events = models.JSONField("ライフイベント", default=list, blank=True)
    # How residents find it: the title's reading in hiragana (じゅうみんひょう for 住民票), given by staff
    # or read from the title, and the folded text the resident search matches (procedures/finding.py).
    title_reading = models.CharField("手続名のよみ（ひらがな）", max_length=200, blank=True)
    search_text = models.TextField(blank=True, default="", editable=False)
    # 一時保存: how long a resident's saved draft is kept (days) before the scheduled job deletes it.
    draft_days = models.PositiveSmallIntegerField(
        "一時保存の保存期間（日）", default=14, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    # A one-time link e-mailed to the resident before the form opens (the address is then verified).
    requires_email_verification = models.BooleanField("メールアドレスの確認をしてから入力する", default=False)
    # 重複申請: one submission per verified e-mail address or per value of a chosen field.
    duplicate_rule = models.CharField(
        "重複の防止", max_length=16, choices=DuplicateRule.choices, blank=True, default=""
    )
    duplicate_field = models.CharField("重複を判定する項目", max_length=40, blank=True, default="")
    # The builder's working copy of the form: edited freely, published as a new FormVersion.
    # None while it is the same as the current version.
    draft_schema = models.JSONField("編集中のフォーム定義", null=True, blank=True, editable=False)
    draft_revision = models.PositiveIntegerField(default=0, editable=False)
    # Where a copy came from: a template of the council, or a procedure the prefecture distributed.
    source_template = models.ForeignKey(
        "ProcedureTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    source_procedure = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="distributed_copies"
    )
    source_version_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
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

    def save(self, *args, **kwargs):
        # search_text is derived from the title, summary and reading: kept here so that every write path
        # (services, the admin, imports, copies, the demo) writes it (procedures/finding.py).
        from madoguchi.procedures import finding

        kwargs["update_fields"] = finding.refresh_search_text(self, kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @property
    def shown_title(self) -> str:
        """The title in the page's language: English when chosen and written, else Japanese."""
        return self.title_en if self.title_en and translation.get_language() == "en" else self.title

    @property
    def shown_summary(self) -> str:
        return self.summary_en if self.summary_en and translation.get_language() == "en" else self.summary

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
        from madoguchi.procedures.formspec import version_spec

        return version_spec(self.pk, self.schema)  # read once per process: versions never change


class ProcedureTemplate(models.Model):
    """A procedure shared with a council's members: its portable definition, copied by any member.

    Owned by the council (every member reads it); `organization` is the member that shared it.
    """

    council = models.ForeignKey(
        "organizations.Council", on_delete=models.CASCADE, related_name="procedure_templates"
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name="共有した団体",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    procedure = models.ForeignKey(
        Procedure, null=True, blank=True, on_delete=models.SET_NULL, related_name="shared_as"
    )
    title = models.CharField("名称", max_length=200)
    summary = models.TextField("概要", blank=True)
    kind = models.CharField("種類", max_length=16, choices=Procedure.Kind.choices)
    category = models.CharField("分類", max_length=16, choices=CATEGORIES)
    life_events = models.JSONField("ライフイベント", default=list, blank=True)
    definition = models.JSONField("手続の定義")  # the portable document (procedures/portable.py)
    search_text = models.TextField(blank=True, editable=False)  # folded title, summary and labels
    copy_count = models.PositiveIntegerField("コピーされた数", default=0, editable=False)
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "title"]
        verbose_name = verbose_name_plural = "ひな形"

    def __str__(self) -> str:
        return self.title
