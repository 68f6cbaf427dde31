"""Limits and headers every response gets, before any view reads the request."""

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.functional import SimpleLazyObject, empty
from django.utils.http import url_has_allowed_host_and_scheme

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        # Violations are reported to csp_report below (report-uri for today's browsers, report-to for the
        # Reporting API), so a page the policy breaks, or a script injected into one, shows in the logs.
        "report-uri /csp-report/",
        "report-to csp",
    ]
)
REPORTING_ENDPOINTS = 'csp="/csp-report/"'


STAFF_PREFIXES = ("/staff/", "/admin/")


class RequestLimitsMiddleware:
    """Refuse a request body larger than any form can need (413, explained) and set the page policy.

    Without this a huge upload would be written to a temporary file in full before the form's own
    size check could say no.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        _drop_nul_from_query(request)
        if length > settings.MAX_REQUEST_BYTES:
            referer = request.META.get("HTTP_REFERER", "")
            back = referer if url_has_allowed_host_and_scheme(referer, {request.get_host()}) else ""
            response = render(
                request,
                "413.html",
                {"limit_mb": settings.MAX_REQUEST_BYTES // (1024 * 1024), "back": back},
                status=413,
            )
        else:
            response = self.get_response(request)
        # Every page, the operator's admin included (Django's admin runs no inline script or style).
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Reporting-Endpoints", REPORTING_ENDPOINTS)
        return response


def _drop_nul_from_query(request) -> None:
    """NUL characters leave the query string before any view reads it, for every URL at once: no parameter
    means anything with one, PostgreSQL refuses them in any text (a 500 otherwise), and a resident who pasted
    one into a search box gets their results, as a pasted NUL in an answer is dropped too. (In a path a NUL
    matches no page; a body's fields are checked by each form.)"""
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        request.META["QUERY_STRING"] = query.replace("%00", "").replace("\x00", "")


def _marked_public(response) -> bool:
    """A download its view declared public (the council's open data: counts only, cached with an ETag)."""
    return "public" in {p.strip().split("=")[0] for p in response.get("Cache-Control", "").split(",")}


class PrivateResponsesMiddleware:
    """Nothing a member of staff saw stays in the browser's cache: on a shared office PC the next person
    could otherwise open answers from the cache after logout (Back, history, the cache directory).

    Every response under /staff/ and /admin/, every response to a logged-in user, and every download
    (Content-Disposition) but one its view marked public (open data) gets `Cache-Control: no-store` (with
    Django's other never-cache headers); logging out
    also asks the browser to drop this site's cache and storage (Clear-Site-Data, honoured over HTTPS).
    Residents' own pages that show answers are marked never_cache by their views.
    """

    PRIVATE_PREFIXES = ("/staff/", "/admin/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            request.path.startswith(self.PRIVATE_PREFIXES)
            # A page that showed who is logged in read the user; one that did not cannot depend on it, and
            # its session is not read for this.
            or (_user_was_read(user) and user.is_authenticated)
            or (response.has_header("Content-Disposition") and not _marked_public(response))
        ):
            add_never_cache_headers(response)
            response.headers.pop("ETag", None)
            response.headers.pop("Last-Modified", None)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in ("logout", "public:logout", "staff:logout"):
            response["Clear-Site-Data"] = '"cache", "storage"'
        return response


def _user_was_read(user) -> bool:
    """Whether the request's user was looked at while the response was made (the lazy user, set up)."""
    return user is not None and (not isinstance(user, SimpleLazyObject) or user._wrapped is not empty)


class StaffSessionTimeoutMiddleware:
    """A staff session ends after STAFF_IDLE_TIMEOUT seconds without a request, and in any case
    STAFF_ABSOLUTE_TIMEOUT seconds after its login (a shared office PC left logged in, or a stolen cookie,
    stops working). The next request then logs out and is sent to the login page with a message.

    The session keeps two times (UTC epoch seconds): when it logged in and when it was last used; the last-used
    time is written at most once a minute, so a page of requests costs no extra session writes.
    """

    STARTED = "staff_session_started"
    SEEN = "staff_session_seen"
    WRITE_EVERY = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Where a staff login gives access: the staff area and the operator's admin. A resident's page reads
        # no session for this (the final submit reads none at all).
        user = getattr(request, "user", None) if request.path.startswith(STAFF_PREFIXES) else None
        if user is not None and user.is_authenticated:
            expired = self._expired(request)
            if expired:
                from django.contrib import messages
                from django.contrib.auth import logout
                from django.shortcuts import redirect
                from django.urls import reverse
                from django.utils.http import urlencode

                logout(request)
                messages.info(request, expired)
                login = reverse("staff:login")
                if request.method == "GET" and request.path.startswith("/staff/"):
                    login += "?" + urlencode({"next": request.get_full_path()})
                return redirect(login)
        return self.get_response(request)

    def _expired(self, request) -> str | None:
        import time

        from django.utils.translation import gettext

        now = int(time.time())
        session = request.session
        started = session.get(self.STARTED)
        seen = session.get(self.SEEN)
        if started is None:  # a session from before this rule, or a login made elsewhere
            session[self.STARTED] = session[self.SEEN] = now
            return None
        if now - started > settings.STAFF_ABSOLUTE_TIMEOUT:
            return gettext(
                "ログインしてから長い時間がたったため、ログアウトしました。もう一度ログインしてください。"
            )
        if seen is not None and now - seen > settings.STAFF_IDLE_TIMEOUT:
            return gettext("しばらく操作がなかったため、ログアウトしました。もう一度ログインしてください。")
        if seen is None or now - seen >= self.WRITE_EVERY:
            from madoguchi.accounts import staff_sessions

            session[self.SEEN] = now
            staff_sessions.seen(session.session_key)
        return None


MAX_REPORT_BYTES = 16 * 1024
csp_logger = __import__("logging").getLogger("madoguchi.csp")


def _loggable(value, limit: int) -> str:
    """Text from a report, made safe for one log line: control characters (line breaks too) become spaces."""
    return "".join(
        " " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029") else c for c in value
    )[:limit]


def _without_query(value) -> str:
    """A URL as a report gives it, cut to its origin and path (a query could hold anything), ≤ 300 chars."""
    from urllib.parse import urlsplit

    text = str(value or "")[:2000]
    try:
        parts = urlsplit(text)
    except ValueError:
        return "-"
    if parts.scheme in ("http", "https"):
        return _loggable(f"{parts.scheme}://{parts.netloc}{parts.path}", 300)
    return _loggable(parts.scheme or text, 300)  # "inline", "eval", "data", …


def csp_report(request):
    """POST /csp-report/: a browser's report of a Content-Security-Policy violation, in either format
    (application/csp-report: {"csp-report": {...}}; application/reports+json: [{"type": "csp-violation",
    "body": {...}}]). Each is logged (logger madoguchi.csp, WARNING) with the page's path, the directive and
    what was blocked, never a query string or a sample of the page. Always 204; at most 16 KB is read."""
    import json

    from django.http import HttpResponse, HttpResponseNotAllowed

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if 0 < length <= MAX_REPORT_BYTES:
        try:
            data = json.loads(request.read(MAX_REPORT_BYTES))
        except (ValueError, UnicodeDecodeError):
            data = None
        reports = []
        if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
            reports = [data["csp-report"]]
        elif isinstance(data, list):
            reports = [
                r.get("body") for r in data[:20] if isinstance(r, dict) and isinstance(r.get("body"), dict)
            ]
        for report in reports:
            csp_logger.warning(
                "CSP violation: page %s, directive %s, blocked %s",
                _without_query(report.get("document-uri") or report.get("documentURL")),
                _loggable(
                    str(report.get("effective-directive") or report.get("effectiveDirective") or "-"), 60
                ),
                _without_query(report.get("blocked-uri") or report.get("blockedURL")),
            )
    return HttpResponse(status=204)


csp_report.csrf_exempt = True
