"""A staff member's logins (sessions) on other devices: listed on their own page, ended from there.

A row (StaffSession) is written at login and removed at logout; an expired or ended session is removed from
the session table too, and rows whose session is gone are dropped when the list is read. Ending a login
deletes its session row: the next request of that browser is anonymous and goes to the login page. Each
end is in the audit log of every organization the member belongs to (login_security._record_all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from madoguchi.accounts.models import StaffSession
from madoguchi.lib.japanese import remove_control_characters


@receiver(user_logged_in)
def _started(sender, request, user, **kwargs) -> None:
    if request is None or not getattr(request, "session", None) or not request.session.session_key:
        return
    now = timezone.now()
    # Logins whose session has gone since (expired and cleared, or timed out) are dropped here too, so the
    # rows of a member who never opens the list stay few.
    StaffSession.objects.filter(user=user).exclude(
        session_key__in=Session.objects.filter(expire_date__gt=now).values("session_key")
    ).delete()
    StaffSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "created_at": now,
            "last_seen_at": now,
            "user_agent": remove_control_characters(request.META.get("HTTP_USER_AGENT", ""))[:200],
            "client": request.META.get("REMOTE_ADDR", "")[:64],
        },
    )


@receiver(user_logged_out)
def _ended(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        StaffSession.objects.filter(session_key=key).delete()


def seen(session_key: str | None) -> None:
    """The session was used now (called at most once a minute per session by the security middleware)."""
    if session_key:
        StaffSession.objects.filter(session_key=session_key).update(last_seen_at=timezone.now())


@dataclass(frozen=True)
class Login:
    id: int
    created_at: datetime  # UTC
    last_seen_at: datetime  # UTC
    user_agent: str
    client: str
    current: bool


def logins_of(user, current_key: str | None) -> list[Login]:
    """The user's live logins, the current one first, then the most recently used; rows whose session has
    expired or gone are deleted on the way."""
    rows = list(StaffSession.objects.filter(user=user).order_by("-last_seen_at"))
    live = set(
        Session.objects.filter(
            session_key__in=[r.session_key for r in rows], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    StaffSession.objects.filter(pk__in=[r.pk for r in rows if r.session_key not in live]).delete()
    logins = [
        Login(r.pk, r.created_at, r.last_seen_at, r.user_agent, r.client, r.session_key == current_key)
        for r in rows
        if r.session_key in live
    ]
    return sorted(logins, key=lambda login: not login.current)


@transaction.atomic
def end_logins(*, user, current_key: str | None, login_id: int | None = None) -> int:
    """End the user's other logins (all of them, or the one with `login_id`; never the current one): their
    sessions are deleted. Returns how many were ended; audited as auth.sessions_ended. A `login_id` that is
    not one of the user's other logins ends nothing (the caller answers 404)."""
    from madoguchi.accounts.login_security import _record_all

    rows = StaffSession.objects.select_for_update().filter(user=user).exclude(session_key=current_key or "")
    if login_id is not None:
        rows = rows.filter(pk=login_id)
    keys = list(rows.values_list("session_key", flat=True))
    if not keys:
        return 0
    Session.objects.filter(session_key__in=keys).delete()
    StaffSession.objects.filter(session_key__in=keys).delete()
    _record_all(user=user, actor=user, action="auth.sessions_ended", detail={"count": len(keys)})
    return len(keys)


def end_member_logins(*, user, actor, organization) -> int:
    """An admin ends every login of a member of their organization (a lost or shared device, a member who
    left): their sessions are deleted at once. Returns how many; audited in `organization` as
    auth.sessions_ended_by_admin (also when there were none). The admin's own logins are never ended here."""
    from madoguchi.audit.services import record

    keys = list(
        StaffSession.objects.select_for_update().filter(user=user).values_list("session_key", flat=True)
    )
    Session.objects.filter(session_key__in=keys).delete()
    StaffSession.objects.filter(session_key__in=keys).delete()
    record(
        organization=organization,
        actor=actor,
        action="auth.sessions_ended_by_admin",
        obj=user,
        detail={"count": len(keys)},
    )
    return len(keys)
