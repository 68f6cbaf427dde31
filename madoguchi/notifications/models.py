from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.organizations.models import Organization


class OutgoingEmail(models.Model):
    """Every e-mail the system sends, so that staff can see a failed one instead of it vanishing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("送信待ち")
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("送信失敗")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(
        "submissions.Submission", null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    kind = models.CharField(max_length=32)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    # Cleared once sent or given up: the receipt mail carries the inquiry code, kept hashed elsewhere.
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "送信メール"

    @property
    def display_subject(self) -> str:
        """The subject; a receipt not yet written (the worker writes it as it sends it) by its kind."""
        from django.utils.translation import gettext

        return self.subject or (gettext("受付のお知らせ") if self.kind == "receipt" else self.kind)
