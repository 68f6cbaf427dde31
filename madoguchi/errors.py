"""The 403 and 404 pages: inside the staff area (/staff/...) they keep the staff header and navigation,
elsewhere they are the public pages (templates/403.html, 404.html) as before.

Whatever the request (anonymous, without a session or user because a middleware failed before them, a
path that is not valid text), these handlers answer with their own status and never raise: a page that
cannot be rendered falls back to the public one, then to plain text.
"""

import logging

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext

logger = logging.getLogger(__name__)

STAFF_PREFIX = "/staff/"


def in_staff_area(request: HttpRequest) -> bool:
    """Whether the request's path (without the script prefix) is under /staff/."""
    path = getattr(request, "path_info", "") or ""
    return isinstance(path, str) and path.startswith(STAFF_PREFIX)


def _render(request: HttpRequest, templates: list[str], status: int, fallback: str) -> HttpResponse:
    for template in templates:
        try:
            return HttpResponse(render_to_string(template, {}, request), status=status)
        except Exception:  # an error page must not fail: the next one is plainer
            # The path may carry personal data (a resident's name typed into a URL): never logged.
            logger.exception("error page %s could not be rendered", template)
    return HttpResponse(fallback, status=status, content_type="text/plain; charset=utf-8")


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: staff/404.html under /staff/, else 404.html. Status 404."""
    templates = ["staff/404.html", "404.html"] if in_staff_area(request) else ["404.html"]
    return _render(request, templates, 404, gettext("ページが見つかりません"))


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    """handler403: staff/403.html under /staff/, else 403.html. Status 403."""
    templates = ["staff/403.html", "403.html"] if in_staff_area(request) else ["403.html"]
    return _render(request, templates, 403, gettext("この操作はできません"))
