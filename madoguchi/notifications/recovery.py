"""E-mails to a resident who asked for them on a public page: the one-time link that verifies their address
before a form (kind "verification") and their lost 問い合わせ番号 (kind "inquiry_code").

The inquiry code is never stored in clear: like the receipt, its e-mail is written by the worker as it sends
it (write_inquiry_code, called from tasks.send_email), and the queued row holds no body until then.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from madoguchi.notifications.models import OutgoingEmail

VERIFICATION = "verification"
INQUIRY_CODE = "inquiry_code"


def queue_verification_email(*, procedure, to: str, link: str, expires_at) -> OutgoingEmail:
    """Queue the verification link for `procedure` to `to`, in the active language. `link`: the absolute
    one-time URL; `expires_at`: an aware datetime, shown in JST."""
    from madoguchi.notifications.services import queue_email

    body = render_to_string(
        "notifications/verification_email.txt",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "link": link,
            "expires_at": expires_at,
        },
    )
    subject = gettext("【メールアドレスの確認】%(title)s") % {"title": procedure.title}
    return queue_email(
        organization_id=procedure.organization_id, kind=VERIFICATION, to=to, subject=subject, body=body
    )


def queue_inquiry_code_email(*, submission) -> OutgoingEmail:
    """Queue the lost 問い合わせ番号 of `submission` to the address given with it (applicant_email), never any
    other. The body is written as it is sent (write_inquiry_code)."""
    from madoguchi.notifications.services import queue_email

    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind=INQUIRY_CODE,
        to=submission.applicant_email,
        subject="",
        body="",
    )


def write_inquiry_code(submission) -> tuple[str, str]:
    """Subject and body of the 問い合わせ番号 e-mail, in the language the resident applied in."""
    from madoguchi.lib.receipt import format_inquiry_code, inquiry_code_for
    from madoguchi.notifications.services import contact_line

    procedure = submission.procedure
    with translation.override(submission.language or "ja"):
        body = render_to_string(
            "notifications/inquiry_code_email.txt",
            {
                "submission": submission,
                "procedure": procedure,
                "organization": procedure.organization,
                "inquiry_code": format_inquiry_code(inquiry_code_for(submission.token)),
                "contact": contact_line(procedure),
                "site_url": settings.SITE_URL,
            },
        )
        subject = gettext("【問い合わせ番号のお知らせ】%(title)s（受付番号 %(receipt)s）") % {
            "title": procedure.title,
            "receipt": submission.display_receipt_number,
        }
    return subject, body
