"""A console e-mail backend for `make run`: each e-mail printed as a reader sees it, not as it travels.

Django's console backend prints the MIME source, where a Japanese subject is `=?utf-8?b?…?=` and a body in
base64 is unreadable. This one prints the decoded headers (Subject, From, To, Date, Message-ID) and the body
as text. settings.py uses it when DEBUG is on and EMAIL_BACKEND is not set.
"""

from email import message_from_bytes, policy

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend

SHOWN_HEADERS = ("Subject", "From", "To", "Cc", "Reply-To", "Date", "Message-ID")


def readable(message) -> str:
    """The text of a django.core.mail.EmailMessage as a reader sees it: decoded headers, a blank line, and
    the plain-text body decoded from its transfer encoding (quoted-printable or base64)."""
    parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    lines = [f"{name}: {str(parsed[name]).strip()}" for name in SHOWN_HEADERS if parsed[name] is not None]
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content().replace("\r\n", "\n") if part is not None else ""
    return "\n".join(lines) + "\n\n" + body.rstrip("\n") + "\n"


class EmailBackend(DjangoConsoleBackend):
    """Prints each e-mail readably (readable) to the console stream, then a rule."""

    def write_message(self, message):
        self.stream.write(readable(message))
        self.stream.write("-" * 79)
        self.stream.write("\n")
