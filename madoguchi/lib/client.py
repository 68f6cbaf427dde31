"""Who is asking: the client's network address, for attempt counters (never stored in clear: the counters
hash it, submissions/counters.py)."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's IP address as text ("" if unknown). Behind our TLS proxy (BEHIND_TLS_PROXY) it is the last
    address of X-Forwarded-For, the one the proxy saw: anything before it the client could have written."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_TLS_PROXY:
        address = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip() or address
    return address[:64]
