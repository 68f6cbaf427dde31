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
    # A view repeated by the same person within VIEW_REPEAT_WINDOW (audit/services.py) is kept on one row:
    # how many views it stands for, and when the last of them was (UTC). Changes are never collapsed.
    repeat_count = models.PositiveIntegerField("回数", default=1)
    last_seen_at = models.DateTimeField("最後の閲覧", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The audit page pages by (created_at, id) from the newest, inside one organization, optionally
        # narrowed to one action, one person or one object: each of those reads is one index range.
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_time_id"),
            models.Index(fields=["organization", "action", "-created_at", "-id"], name="audit_org_action"),
            models.Index(fields=["organization", "actor", "-created_at", "-id"], name="audit_org_actor"),
            models.Index(
                fields=["organization", "object_type", "object_id", "-created_at", "-id"],
                name="audit_org_object",
            ),
        ]
        verbose_name = verbose_name_plural = "監査ログ"
