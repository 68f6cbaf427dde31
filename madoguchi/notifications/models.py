from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.lib import envelope
from madoguchi.organizations.models import Organization


class OutgoingEmail(models.Model):
    """Every e-mail the system sends, so that staff can see a failed one instead of it vanishing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("送信待ち")
        SENDING = "sending", _("送信中")
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("送信失敗")

    organization = models.ForeignKey(
        Organization, verbose_name=_("団体"), on_delete=models.PROTECT, related_name="+"
    )
    submission = models.ForeignKey(
        "submissions.Submission",
        verbose_name=_("申請"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="emails",
    )
    kind = models.CharField(_("種類"), max_length=32)
    to = models.CharField(_("宛先"), max_length=254)
    subject = models.CharField(_("件名"), max_length=255)
    # Cleared once sent, and once given up for a mail with a secret in it (services.SECRET_KINDS). Until then
    # encrypted with the organization's key (lib/envelope.encrypt_text; "" stays ""); read and written as
    # `body`. The receipt's is written only as it is sent (notifications/tasks.py), never stored.
    body_data = models.TextField(_("本文（暗号化）"), blank=True)
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("試行回数"), default=0)
    last_error = models.CharField(_("最後のエラー"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    # Written (committed) before the SMTP call: the same Message-ID on every try, so a message sent again after
    # a worker died between the server's acceptance and the commit is the same message (notifications/tasks.py).
    message_id = models.CharField("Message-ID", max_length=255, blank=True)
    sending_started_at = models.DateTimeField(_("送信開始日時"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "送信メール"

    def __str__(self) -> str:
        return f"{self.display_subject}（{self.to}）"

    @property
    def body(self) -> str:
        if not self.body_data:
            return ""
        return envelope.decrypt_text(self.organization_id, self.body_data, kind="email")

    @body.setter
    def body(self, text: str) -> None:
        self.body_data = envelope.encrypt_text(self.organization_id, text, kind="email") if text else ""

    @property
    def display_subject(self) -> str:
        """The subject; a receipt not yet written (the worker writes it as it sends it) by its kind."""
        from django.utils.translation import gettext

        unwritten = {
            "receipt": gettext("受付のお知らせ"),
            "inquiry_code": gettext("問い合わせ番号のお知らせ"),
        }
        return self.subject or unwritten.get(self.kind, self.kind)


class Message(models.Model):
    """A message on a submission between staff and the resident, shown on the resident's status page and
    e-mailed to them. Unlike an internal note (submissions.Note) the resident reads it. Written only through
    notifications.services.send_message."""

    class Direction(models.TextChoices):
        TO_RESIDENT = "to_resident", _("担当課から")
        FROM_RESIDENT = "from_resident", _("申請者から")  # residents' replies: not offered yet

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    direction = models.CharField(max_length=16, choices=Direction.choices, default=Direction.TO_RESIDENT)
    # Encrypted with the organization's key (lib/envelope.encrypt_text); read and written as `body`.
    body_data = models.TextField(_("本文"))
    created_at = models.DateTimeField(_("日時"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = verbose_name_plural = _("申請者とのメッセージ")

    @property
    def body(self) -> str:
        return envelope.decrypt_text(self.organization_id, self.body_data, kind="message")

    @body.setter
    def body(self, text: str) -> None:
        self.body_data = envelope.encrypt_text(self.organization_id, text, kind="message")


class EmailText(models.Model):
    """A procedure's own wording of one e-mail to residents (kind: notifications.texts.KINDS), with
    placeholders such as {受付番号}. Without a row the default texts (notifications/templates/) are sent.
    Written only through notifications.services.save_email_text."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(
        "procedures.Procedure", on_delete=models.CASCADE, related_name="email_texts"
    )
    kind = models.CharField(max_length=32)
    subject = models.CharField(_("件名"), max_length=200)
    body = models.TextField(_("本文"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["procedure", "kind"], name="email_text_one_per_kind")]
        verbose_name = verbose_name_plural = _("メールの文面")


class EmailVerification(models.Model):
    """A one-time link e-mailed to a resident before a procedure's form opens (requires_email_verification).

    The raw token is only in the e-mailed link; the row keeps its SHA-256. Opening the link (a POST from
    the page it shows, so that a mail scanner's GET spends nothing) sets used_at once and marks the address
    verified in that browser's session for the procedure. Written and read only through
    submissions.verification_views; `session_hash` (SHA-256 of the asking session's key) only counts the
    requests of one browser for the rate limit.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey("procedures.Procedure", on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["email", "created_at"], name="email_verification_email"),
            models.Index(fields=["session_hash", "created_at"], name="email_verification_session"),
        ]
        verbose_name = verbose_name_plural = _("メールアドレスの確認")
