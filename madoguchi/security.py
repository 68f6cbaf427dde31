"""Limits and headers every response gets, before any view reads the request."""

from django.conf import settings
from django.shortcuts import render
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
