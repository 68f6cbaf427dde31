from django.conf import settings
from django.db import models

from madoguchi.organizations.models import Organization


class AuditLog(models.Model):
    """Who did what to which object, and who looked at which resident's data. Never edited."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_logs"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField("操作者", max_length=150)
    action = models.CharField("操作", max_length=64)
    object_type = models.CharField("対象の種類", max_length=64)
    object_id = models.CharField("対象ID", max_length=64)
    detail = models.JSONField("内容", default=dict, blank=True)
    created_at = models.DateTimeField("日時", auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="audit_org_time")]
        verbose_name = verbose_name_plural = "監査ログ"
