"""E-mail to residents. Rows are written in the caller's transaction and the task is enqueued in it too:
the database is the outbox, so a rolled-back submission sends nothing and a committed one is never lost.

Each e-mail is in the language the resident used to submit (Submission.language), whatever language the
page that triggered it is shown in: a staff member reading English still sends a Japanese resident Japanese.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from madoguchi.notifications.models import OutgoingEmail


def queue_email(
    *, organization_id: int, submission=None, kind: str, to: str, subject: str, body: str
) -> OutgoingEmail:
    from madoguchi.notifications.tasks import send_email

    email = OutgoingEmail.objects.create(
        organization_id=organization_id, submission=submission, kind=kind, to=to, subject=subject, body=body
    )
    send_email.enqueue(email.pk)
    return email


def queue_receipt_email(*, submission, inquiry_code: str) -> OutgoingEmail:
    from madoguchi.lib.receipt import format_inquiry_code

    procedure = submission.procedure
    context = {
        "submission": submission,
        "procedure": procedure,
        "organization": procedure.organization,
        "inquiry_code": format_inquiry_code(inquiry_code),
        "site_url": settings.SITE_URL,
    }
    with translation.override(submission.language or "ja"):
        subject = gettext("【受付】%(title)s（受付番号 %(receipt)s）") % {
            "title": procedure.title,
            "receipt": submission.display_receipt_number,
        }
        body = render_to_string("notifications/receipt_email.txt", context)
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind="receipt",
        to=submission.applicant_email,
        subject=subject,
        body=body,
    )


def queue_status_email(*, submission, reason: str) -> OutgoingEmail:
    procedure = submission.procedure
    context = {
        "submission": submission,
        "procedure": procedure,
        "organization": procedure.organization,
        "reason": reason,
        "site_url": settings.SITE_URL,
    }
    with translation.override(submission.language or "ja"):
        subject = gettext("【%(status)s】%(title)s（受付番号 %(receipt)s）") % {
            "status": submission.get_status_display(),
            "title": procedure.title,
            "receipt": submission.display_receipt_number,
        }
        body = render_to_string("notifications/status_email.txt", context)
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind=f"status_{submission.status}",
        to=submission.applicant_email,
        subject=subject,
        body=body,
    )


def queue_resubmit_email(*, submission) -> OutgoingEmail:
    """Tells the resident their corrected application (補正) arrived; the 受付番号 stays the same."""
    from django.utils import timezone

    procedure = submission.procedure
    context = {
        "submission": submission,
        "procedure": procedure,
        "organization": procedure.organization,
        "now": timezone.now(),
        "site_url": settings.SITE_URL,
    }
    with translation.override(submission.language or "ja"):
        subject = gettext("【再提出】%(title)s（受付番号 %(receipt)s）") % {
            "title": procedure.title,
            "receipt": submission.display_receipt_number,
        }
        body = render_to_string("notifications/resubmit_email.txt", context)
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind="resubmit",
        to=submission.applicant_email,
        subject=subject,
        body=body,
    )
