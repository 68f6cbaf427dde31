"""E-mail to residents. Rows are written in the caller's transaction and the task is enqueued in it too:
the database is the outbox, so a rolled-back submission sends nothing and a committed one is never lost.

Each e-mail is in the language the resident used to submit (Submission.language), whatever language the
page that triggered it is shown in: a staff member reading English still sends a Japanese resident Japanese.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from madoguchi.lib.integrity import check_same_organization
from madoguchi.notifications.models import OutgoingEmail


def queue_email(
    *, organization_id: int, submission=None, kind: str, to: str, subject: str, body: str
) -> OutgoingEmail:
    from madoguchi.notifications.tasks import send_email

    check_same_organization(organization_id, submission)
    email = OutgoingEmail.objects.create(
        organization_id=organization_id, submission=submission, kind=kind, to=to, subject=subject, body=body
    )
    send_email.enqueue(email.pk)
    return email


def _render_resident_email(*, submission, template: str, subject, **context) -> tuple[str, str]:
    """Subject and body of one e-mail to the applicant, in the language they applied in.

    `subject` is called inside that language with the title and 受付番号, so its gettext is translated there.
    """
    procedure = submission.procedure
    with translation.override(submission.language or "ja"):
        body = render_to_string(
            template,
            {
                "submission": submission,
                "procedure": procedure,
                "organization": procedure.organization,
                "site_url": settings.SITE_URL,
                **context,
            },
        )
        return subject(title=procedure.title, receipt=submission.display_receipt_number), body


def _queue_resident_email(*, submission, kind: str, template: str, subject, **context) -> OutgoingEmail:
    subject_text, body = _render_resident_email(
        submission=submission, template=template, subject=subject, **context
    )
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind=kind,
        to=submission.applicant_email,
        subject=subject_text,
        body=body,
    )


RECEIPT = "receipt"


def queue_receipt_email(*, submission) -> OutgoingEmail:
    """Queue the receipt. The worker writes it as it sends it (write_receipt), so the inquiry code in it
    is never stored, and the submission's transaction holds a row and a task, not a rendering."""
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind=RECEIPT,
        to=submission.applicant_email,
        subject="",
        body="",
    )


def write_receipt(submission) -> tuple[str, str]:
    """Subject and body of the receipt e-mail: title, 受付番号, the inquiry code and where to look it up."""
    from madoguchi.lib.receipt import format_inquiry_code, inquiry_code_for
    from madoguchi.submissions.services import check_inquiry_code

    code = inquiry_code_for(submission.token)
    if not check_inquiry_code(submission, code):
        # This process has another INQUIRY_CODE_KEY than the one that gave the code: never send a wrong one.
        raise ImproperlyConfigured(
            "INQUIRY_CODE_KEY differs from the one this submission's code was made with"
        )
    return _render_resident_email(
        submission=submission,
        template="notifications/receipt_email.txt",
        subject=lambda **v: gettext("【受付】%(title)s（受付番号 %(receipt)s）") % v,
        inquiry_code=format_inquiry_code(code),
    )


def queue_status_email(*, submission, reason: str) -> OutgoingEmail:
    return _queue_resident_email(
        submission=submission,
        kind=f"status_{submission.status}",
        template="notifications/status_email.txt",
        subject=lambda **v: (
            gettext("【%(status)s】%(title)s（受付番号 %(receipt)s）")
            % {**v, "status": submission.get_status_display()}
        ),
        reason=reason,
    )


def queue_resubmit_email(*, submission) -> OutgoingEmail:
    """Tells the resident their corrected application (補正) arrived; the 受付番号 stays the same."""
    from django.utils import timezone

    return _queue_resident_email(
        submission=submission,
        kind="resubmit",
        template="notifications/resubmit_email.txt",
        subject=lambda **v: gettext("【再提出】%(title)s（受付番号 %(receipt)s）") % v,
        now=timezone.now(),
    )


STAFF_NEW = "staff_new"
# Submissions are told to staff once they are this old, so one still committing is not passed over.
STAFF_NOTICE_DELAY_SECONDS = 60


def queue_staff_notices(*, now=None) -> int:
    """For every procedure with staff addresses (Procedure.notify_emails), queue one e-mail per address
    telling them how many submissions arrived since the last notice, with their 受付番号 and the inbox link.
    No answer and no name is in it: the inbox shows those to whoever may see them.

    Run by `manage.py notify_staff` every few minutes. Idempotent: each submission is told once (the
    procedure keeps the arrival time, UTC, of the last one told). Returns the number of e-mails queued.
    """
    from datetime import timedelta

    from django.db import transaction
    from django.urls import reverse
    from django.utils import timezone

    from madoguchi.lib.receipt import format_receipt_number
    from madoguchi.procedures.models import Procedure
    from madoguchi.submissions.models import Submission

    now = now or timezone.now()
    until = now - timedelta(seconds=STAFF_NOTICE_DELAY_SECONDS)
    queued = 0
    for procedure_id in Procedure.objects.exclude(notify_emails="").values_list("pk", flat=True):
        with transaction.atomic():
            procedure = (
                Procedure.objects.select_for_update(of=("self",))
                .select_related("organization", "department")
                .get(pk=procedure_id)
            )
            arrived = Submission.objects.filter(
                organization_id=procedure.organization_id, procedure=procedure, submitted_at__lte=until
            )
            if procedure.staff_notified_through is not None:
                arrived = arrived.filter(submitted_at__gt=procedure.staff_notified_through)
            rows = list(arrived.order_by("submitted_at").values_list("receipt_number", "submitted_at")[:1001])
            if not rows:
                continue
            with translation.override("ja"):
                body = render_to_string(
                    "notifications/staff_new_email.txt",
                    {
                        "procedure": procedure,
                        "count": len(rows) if len(rows) <= 1000 else "1000以上",
                        "receipts": [format_receipt_number(r) for r, _ in rows[:50]],
                        "more": max(len(rows) - 50, 0),
                        "inbox_url": settings.SITE_URL
                        + reverse("staff:inbox", kwargs={"procedure_id": procedure.pk}),
                    },
                )
            subject = f"【新着】{procedure.title}（{len(rows)}件）"
            for address in procedure.notify_emails.split():
                queue_email(
                    organization_id=procedure.organization_id,
                    kind=STAFF_NEW,
                    to=address,
                    subject=subject,
                    body=body,
                )
                queued += 1
            last = rows[-1][1] if len(rows) <= 1000 else rows[999][1]
            Procedure.objects.filter(pk=procedure.pk).update(staff_notified_through=last)
    return queued
