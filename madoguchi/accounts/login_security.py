"""Logins, failed logins and lockouts of staff and the operator, in the audit log; lifting a lockout.

Counting and refusing is django-axes' (settings.AXES_*): after AXES_FAILURE_LIMIT failures for one user name
or from one client address, further attempts are refused until AXES_COOLOFF_TIME has passed or an admin lifts
the lockout with `unlock`. This module only records what happened: each event is written once for every
organization the user belongs to (so that organization's admin sees it on its audit page), or once without an
organization for a name that is nobody's or the operator's. The typed password is never recorded.
"""

from __future__ import annotations

import functools
import ipaddress
import time

from axes.signals import user_locked_out
from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from madoguchi.audit.services import record
from madoguchi.lib.japanese import remove_control_characters

MAX_NAME = 150  # the user name as typed, cut to the length of User.username


def _typed_name(value) -> str:
    return remove_control_characters(str(value or ""))[:MAX_NAME]


def _client(request) -> str:
    return (request.META.get("REMOTE_ADDR", "") if request is not None else "")[:64]


def _organizations(user) -> list:
    from madoguchi.accounts.models import Membership

    if user is None:
        return [None]
    organizations = [
        m.organization for m in Membership.objects.filter(user=user).select_related("organization")
    ]
    return organizations or [None]


def _user_named(name: str):
    if not name:
        return None
    return get_user_model().objects.filter(username=name).first()


def _record_all(*, user, actor, action: str, detail: dict) -> None:
    with transaction.atomic():
        for organization in _organizations(user):
            record(organization=organization, actor=actor, action=action, obj=user, detail=detail)


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    from madoguchi.security import StaffSessionTimeoutMiddleware as timeout

    if request is not None and hasattr(request, "session"):
        # The absolute timeout counts from this login, not from an earlier one in the same browser.
        request.session[timeout.STARTED] = request.session[timeout.SEEN] = int(time.time())
        # Whether this user needs a second factor is asked afresh at every login (accounts/two_factor.py).
        from madoguchi.accounts import reauth, two_factor

        reauth.mark_confirmed(request)

        if two_factor.is_required(user) or two_factor.is_enabled(user):
            request.session.pop(two_factor.NOT_NEEDED_AT, None)
        else:
            request.session[two_factor.NOT_NEEDED_AT] = int(time.time())
    _record_all(user=user, actor=user, action="auth.login", detail={"client": _client(request)})


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    name = _typed_name(credentials.get("username"))
    user = _user_named(name)
    # The actor is where the attempt came from (stored as the entry's label): nobody is logged in.
    _record_all(
        user=user,
        actor=f"接続元 {_client(request) or '-'}",
        action="auth.login_failed",
        detail={"username": name, "client": _client(request)},
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    name = _typed_name(username)
    user = _user_named(name)
    _record_all(
        user=user,
        actor=None,
        action="auth.locked_out",
        detail={"username": name, "client": (ip_address or "")[:64]},
    )


def is_locked_out(user) -> bool:
    """Whether logins under this user's name are refused now (failures reached the limit, cool-off not over)."""
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.utils import timezone

    attempts = AccessAttempt.objects.filter(
        username=user.get_username(), failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    )
    cool_off = get_cool_off()
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return attempts.exists()


def unlock(*, user, actor, organization) -> int:
    """Lift the lockout of `user`'s name (every client's failures under it are forgotten); audited in
    `organization` (the admin's). Returns how many attempt records were removed (0: none was locked)."""
    removed = axes_reset(username=user.get_username())
    record(
        organization=organization,
        actor=actor,
        action="auth.unlock",
        obj=user,
        detail={"username": user.get_username()},
    )
    return removed


@functools.cache
def _office_networks(networks: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def lockout_parameters(request, credentials=None) -> list:
    """What failures are counted by (settings.AXES_LOCKOUT_PARAMETERS): the user name always, and the client
    address unless it is in settings.STAFF_OFFICE_NETWORKS, where many staff share one address."""
    from django.conf import settings

    address = getattr(request, "axes_ip_address", None) or (
        request.META.get("REMOTE_ADDR", "")
        if hasattr(request, "META")
        else getattr(request, "ip_address", "")
    )
    try:
        shared = any(
            ipaddress.ip_address(address) in n
            for n in _office_networks(tuple(settings.STAFF_OFFICE_NETWORKS))
        )
    except ValueError:
        shared = False
    return ["username"] if shared else ["username", "ip_address"]


def lockout_response(request, original_response=None, credentials=None):
    """The page a refused login gets (settings.AXES_LOCKOUT_CALLABLE): Japanese, HTTP 429, no user name echoed."""
    from axes.helpers import get_cool_off
    from django.conf import settings
    from django.shortcuts import render

    cool_off = get_cool_off(request)
    minutes = max(1, int(cool_off.total_seconds() // 60)) if cool_off else None
    return render(
        request,
        "staff/locked_out.html",
        {"cooloff_minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
