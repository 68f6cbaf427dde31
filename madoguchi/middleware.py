"""Request handling shared by the whole site."""

from django.conf import settings
from django.utils import translation


class StaffInJapaneseMiddleware:
    """Serve the staff pages in Japanese whatever language the browser or the switcher chose.

    The back office is written in Japanese only. What it renders in the active language (status
    labels, messages, the status e-mails it sends to residents, CSV and Excel exports) must match it,
    and its pages must not claim another language in <html lang>.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and "staff" in match.namespaces:
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
        return None
