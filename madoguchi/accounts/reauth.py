"""本人確認 before the actions that take personal data out of the system or change who may see it: exports
(CSV, .xlsx, ZIP of attachments) and changes of a member's role, 所属, second factor or removal.

A login counts as confirmed for settings.STAFF_REAUTH_SECONDS (15 minutes by default) after the password was
typed (at login, or on the confirmation page). Past that, such an action answers with a page that asks for
the password again, and the code of the authenticator app when the member has one. The page posts back to
the same address carrying the action's own fields (the export's options, the role chosen), so nothing chosen
is lost and no JavaScript is needed; a GET action is then opened again.

Wrong passwords go through Django's authenticate, so django-axes counts them and locks out as on the login
page, and the failures are audited as login failures (accounts/login_security.py). OWASP ASVS 5.0 V7.5.3:
re-authentication before sensitive operations.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

CONFIRMED_AT = "staff_auth_confirmed_at"  # session key: UTC epoch seconds the password was last typed
FIELDS = (
    "_reauth",
    "_reauth_method",
    "_reauth_password",
    "_reauth_code",
    "_reauth_back",
    "csrfmiddlewaretoken",
)


def mark_confirmed(request: HttpRequest) -> None:
    """The password was just typed (a login, or this page)."""
    request.session[CONFIRMED_AT] = int(time.time())


def is_recent(request: HttpRequest) -> bool:
    confirmed = request.session.get(CONFIRMED_AT)
    return isinstance(confirmed, int) and 0 <= time.time() - confirmed <= settings.STAFF_REAUTH_SECONDS


def check(request: HttpRequest, *, download: bool = False) -> HttpResponse | None:
    """None when the action may go on (a recent confirmation, or one just given in this post, whose fields
    are then taken out of request.POST); else the response to send: the confirmation page (again, with a
    message at the field, after a wrong password or code), or, for a GET action just confirmed, a redirect to
    it. `download`: the action answers with a file, which a browser saves without leaving the page it is on;
    once confirmed, a page says so and offers the download (so the confirmation page does not stay up)."""
    if request.method == "POST" and request.POST.get("_reauth") == "1":
        problem = _confirm(request)
        if problem is None:
            mark_confirmed(request)
            if download:
                return _page(request, template="staff/reauth_done.html")
            if request.POST.get("_reauth_method") == "GET":
                return redirect(request.get_full_path())
            kept = request.POST.copy()
            for name in FIELDS[:-1]:
                kept.pop(name, None)
            request.POST = kept
            return None
        message, field = problem
        return _page(request, error=message, error_field=field, status=400)
    if is_recent(request):
        return None
    return _page(request)


def _confirm(request: HttpRequest) -> tuple[str, str] | None:
    """None when the password (and the code, for a member with a second factor) is right; else the message
    and the id of the field it is about."""
    from madoguchi.accounts import two_factor

    password = request.POST.get("_reauth_password", "")
    if not password or len(password) > 4096:
        return gettext("パスワードを入力してください。"), "id_reauth_password"
    user = authenticate(request, username=request.user.get_username(), password=password)
    if user is None or user.pk != request.user.pk:
        return gettext("パスワードが正しくありません。"), "id_reauth_password"
    if two_factor.is_enabled(request.user):
        code = request.POST.get("_reauth_code", "")
        if not two_factor.normalise_code(code) or len(code) > 64:
            return gettext("確認コードを入力してください。"), "id_reauth_code"
        result = two_factor.verify(request, code)
        if result.wait_seconds:
            return (
                gettext("確認コードを間違えたため、%(seconds)s秒たってからもう一度入力してください。")
                % {"seconds": result.wait_seconds},
                "id_reauth_code",
            )
        if not result.ok:
            return two_factor.wrong_code_message(result), "id_reauth_code"
    return None


def _back(request: HttpRequest) -> str:
    from django.urls import reverse
    from django.utils.http import url_has_allowed_host_and_scheme

    back = request.POST.get("_reauth_back") or request.META.get("HTTP_REFERER", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return reverse("staff:home")


def _page(
    request: HttpRequest,
    *,
    error: str = "",
    error_field: str = "",
    status: int = 200,
    template: str = "staff/reauth.html",
) -> HttpResponse:
    from madoguchi.accounts import two_factor

    method = request.POST.get("_reauth_method", "POST") if request.POST.get("_reauth") else request.method
    carried = []
    if method == "POST":
        carried = [
            (name, value) for name, values in request.POST.lists() if name not in FIELDS for value in values
        ]
    back = _back(request)
    if template == "staff/reauth.html":
        carried_back = [("_reauth_back", back)]
    else:
        carried_back = []
    return render(
        request,
        template,
        {
            "action": request.get_full_path(),
            "method": "GET" if method == "GET" else "POST",
            "carried": carried + carried_back,
            "error": error,
            "error_field": error_field,
            "back": back,
            "ask_code": two_factor.is_enabled(request.user),
            "minutes": max(1, settings.STAFF_REAUTH_SECONDS // 60),
        },
        status=status,
    )


def required(view):
    """Decorator: `check` before the view (after its login_required)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        page = check(request)
        if page is not None:
            return page
        return view(request, *args, **kwargs)

    return wrapped


def required_for_post(view):
    """Decorator: `check` before a POST to the view; its GET (the form) is shown without."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            page = check(request)
            if page is not None:
                return page
        return view(request, *args, **kwargs)

    return wrapped
