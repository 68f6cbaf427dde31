from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from madoguchi.notifications import recovery
from madoguchi.notifications import services as notify
from madoguchi.notifications.models import OutgoingEmail


def backoff(attempt: int) -> timedelta:
    """1, 2, 4, 8 … minutes, at most an hour, between tries."""
    return timedelta(minutes=min(2 ** (attempt - 1), 60))


@task()
def send_email(email_id: int) -> str:
    """Send one queued e-mail. Idempotent: a row already sent or failed for good is left alone."""
    with transaction.atomic():
        email = OutgoingEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutgoingEmail.Status.PENDING:
            return "skipped"
        email.attempts += 1
        try:
            if email.kind == notify.RECEIPT and not email.body and email.submission_id:
                email.subject, email.body = notify.write_receipt(email.submission)
            elif email.kind == recovery.INQUIRY_CODE and not email.body and email.submission_id:
                email.subject, email.body = recovery.write_inquiry_code(email.submission)
            EmailMessage(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.to]).send()
        except Exception as exc:  # any transport error: keep the row, try again later
            email.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                # Given up: staff see the failure (their failed-mail page) and call or send it again. A body
                # with a secret (the inquiry code, a resume or verification link) goes; the receipt and the
                # inquiry code are written again if staff retry (services.retry_email).
                email.status = OutgoingEmail.Status.FAILED
                if email.kind in notify.SECRET_KINDS:
                    email.body = ""
                email.save(update_fields=["attempts", "last_error", "status", "subject", "body"])
                return "failed"
            email.save(update_fields=["attempts", "last_error", "subject"])
            send_email.using(run_after=timezone.now() + backoff(email.attempts)).enqueue(email.pk)
            return "retry"
        email.status = OutgoingEmail.Status.SENT
        email.sent_at = timezone.now()
        email.body = ""
        email.last_error = ""
        email.save(update_fields=["attempts", "status", "sent_at", "subject", "body", "last_error"])
        return "sent"
