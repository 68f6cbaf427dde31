from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.organizations.models import Council, Department, Organization


class Role(models.TextChoices):
    ADMIN = "admin", _("管理者")
    EDITOR = "editor", _("編集者")
    PROCESSOR = "processor", _("処理担当者")
    VIEWER = "viewer", _("閲覧者")


class Membership(models.Model):
    """A staff member's role in one organization. Staff may belong to several organizations."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField("役割", max_length=16, choices=Role.choices)
    # 所属: of the same organization only (accounts/services.py checks it; the form offers no others).
    departments = models.ManyToManyField(Department, verbose_name="所属", blank=True, related_name="members")
    # 担当範囲: when set, the member reaches only the procedures of their 所属 (accounts/access.py); a
    # procedure with no 所属 is then out of reach too. Admins are never limited.
    limited_to_departments = models.BooleanField("所属の手続に限る", default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="membership_unique")]
        verbose_name = verbose_name_plural = "職員の所属団体"

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"


class CouncilRole(models.Model):
    """協議会事務局: sees member organizations and counts, never a resident's answers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="council_roles", verbose_name="職員"
    )
    council = models.ForeignKey(
        Council, on_delete=models.CASCADE, related_name="staff_roles", verbose_name="協議会"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "council"], name="council_role_unique")]
        verbose_name = verbose_name_plural = "協議会事務局の職員"

    def __str__(self) -> str:
        return f"{self.council.name}：{self.user.get_username()}"


class StaffSession(models.Model):
    """One login of a staff member or the operator, while its session lives: where and when it logged in and
    was last used, so the member sees their other logins and can end them (accounts/staff_sessions.py).

    Not an organization's row: it belongs to the user alone, and only they see it. The session key is the
    same secret the session table holds; the row goes when the session ends (logout, timeout, ended here).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()  # the login (UTC)
    last_seen_at = models.DateTimeField()  # at most a minute old while in use (security middleware)
    user_agent = models.CharField(max_length=200, blank=True)
    client = models.CharField(max_length=64, blank=True)  # the client address as the app saw it

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="staff_session_user")]
