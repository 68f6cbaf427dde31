"""Limits and headers every response gets, before any view reads the request."""

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


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
        if not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class PrivateResponsesMiddleware:
    """Nothing a member of staff saw stays in the browser's cache: on a shared office PC the next person
    could otherwise open answers from the cache after logout (Back, history, the cache directory).

    Every response under /staff/ and /admin/, every response to a logged-in user, and every download
    (Content-Disposition) gets `Cache-Control: no-store` (with Django's other never-cache headers); logging out
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
            or (user is not None and user.is_authenticated)
            or response.has_header("Content-Disposition")
        ):
            add_never_cache_headers(response)
            response.headers.pop("ETag", None)
            response.headers.pop("Last-Modified", None)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in ("logout", "public:logout", "staff:logout"):
            response["Clear-Site-Data"] = '"cache", "storage"'
        return response
