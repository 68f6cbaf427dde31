"""Under overload, no lost form: each process does at most MADOGUCHI_MAX_CONCURRENT_REQUESTS requests'
work at once; a request beyond that is answered at once with 503 and Retry-After instead of queueing
behind the others until every one of them times out (a first-come form at 09:00).

A resident's post of the form or of the 確認画面 is never simply refused: what it carries is kept as a
draft (submissions.draft_views.busy_response) and the 「混雑しています」 page gives the resume link. Health
checks (/healthz, /readyz) are never refused; static files are served before this middleware (WhiteNoise).

The answer is decided in process_view, after CsrfViewMiddleware's: a post kept as a draft has passed the
CSRF check like any other. Keep this middleware last in settings.MIDDLEWARE.
"""

import threading

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string

RETRY_AFTER_SECONDS = 30
NEVER_REFUSED = frozenset({"healthz", "readyz"})
# A resident sending the address for a draft's link (from the 混雑 page) is a single small write: let it in.
LET_IN = frozenset({"public:draft"})


class ConcurrencyLimitMiddleware:
    """Counts the requests this process is working on; those beyond the limit are marked busy."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._lock = threading.Lock()
        self.active = 0

    def __call__(self, request):
        limit = settings.MADOGUCHI_MAX_CONCURRENT_REQUESTS
        with self._lock:
            admitted = self.active < limit
            if admitted:
                self.active += 1
        if not admitted:
            request.madoguchi_busy = True
            return self.get_response(request)
        try:
            return self.get_response(request)
        finally:
            with self._lock:
                self.active -= 1

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(request, "madoguchi_busy", False):
            return None
        name = request.resolver_match.view_name if request.resolver_match else ""
        if name in NEVER_REFUSED or name in LET_IN:
            return None
        from madoguchi.submissions.draft_views import busy_response

        response = busy_response(request, name, view_kwargs)
        return response if response is not None else busy_page()


def busy_page() -> HttpResponse:
    """The short 503 page: no database, no session, no template beyond one file."""
    response = HttpResponse(render_to_string("503_busy.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
