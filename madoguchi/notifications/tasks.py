from datetime import timedelta
from email.utils import make_msgid

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


# Kinds whose text the worker writes as it sends (it holds a code that is never stored).
WRITTEN_WHEN_SENT = {notify.RECEIPT: notify.write_receipt, recovery.INQUIRY_CODE: recovery.write_inquiry_code}


def sending_timeout() -> timedelta:
    """How long a send may take before it is taken for dead: twice the SMTP timeout (settings.EMAIL_TIMEOUT,
    which bounds each step of the conversation: connect, then the data)."""
    return timedelta(seconds=2 * settings.EMAIL_TIMEOUT)


@task()
def send_email(email_id: int) -> str:
    """Send one queued e-mail, once. Returns "sent", "retry", "failed", "skipped" or "in progress".

    Three short steps, each its own transaction, so that no database lock is held over the network:
    1. the row goes from 送信待ち (or from a 送信中 whose sender died: older than `sending_timeout`) to 送信中,
       with its Message-ID (made once, kept for every try) and the time; the receipt's text is written here;
    2. the SMTP call, outside any transaction, with that Message-ID;
    3. 送信済み (the body with its secrets cleared), or back to 送信待ち with a later try, or 送信失敗.
    A second worker running the same task meanwhile (a re-queued task whose first worker is only slow) finds
    送信中 and leaves it. A worker killed after the server accepted the message and before step 3 leaves 送信中:
    the task is re-queued within a minute (`requeue_stale_tasks`) and sends it again with the same
    Message-ID, so it is the same message (RFC 5322 §3.6.4), which mail systems keep once. SMTP cannot say
    whether a message it was cut off from was delivered: this never loses a receipt, and never makes a second
    message of it.
    """
    now = timezone.now()
    with transaction.atomic():
        email = OutgoingEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status in (OutgoingEmail.Status.SENT, OutgoingEmail.Status.FAILED):
            return "skipped"
        if (
            email.status == OutgoingEmail.Status.SENDING
            and email.sending_started_at > now - sending_timeout()
        ):
            # Another worker is sending it now; come back when it would have finished or died.
            send_email.using(run_after=email.sending_started_at + sending_timeout()).enqueue(email.pk)
            return "in progress"
        email.attempts += 1
        # The receipt and the inquiry code are written here, in memory only: the code is never stored, not
        # even between tries (the same text each time: it is made from the submission's token).
        written_here = bool(not email.body and email.submission_id and email.kind in WRITTEN_WHEN_SENT)
        try:
            if written_here:
                email.subject, email.body = WRITTEN_WHEN_SENT[email.kind](email.submission)
        except Exception as exc:
            return _failed_try(email, exc, written_here=written_here)
        email.message_id = email.message_id or make_msgid(domain=_message_id_domain())
        email.status = OutgoingEmail.Status.SENDING
        email.sending_started_at = now
        email.save(update_fields=["attempts", "subject", "message_id", "status", "sending_started_at"])
    try:
        EmailMessage(
            email.subject,
            email.body,
            settings.DEFAULT_FROM_EMAIL,
            [email.to],
            headers={"Message-ID": email.message_id},
        ).send()
    except Exception as exc:  # any transport error: keep the row, try again later
        with transaction.atomic():
            stored = OutgoingEmail.objects.select_for_update().get(pk=email_id)
            return _failed_try(stored, exc, written_here=written_here)
    OutgoingEmail.objects.filter(pk=email_id, status=OutgoingEmail.Status.SENDING).update(
        status=OutgoingEmail.Status.SENT, sent_at=timezone.now(), body_data="", last_error=""
    )
    return "sent"


def _failed_try(email: OutgoingEmail, exc: Exception, *, written_here: bool) -> str:
    """After a try that failed (or whose text could not be written): 送信待ち with a later try, or 送信失敗
    after EMAIL_MAX_ATTEMPTS. A text written for this try is not kept."""
    if written_here:
        email.body = ""
    email.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
        # Given up: staff see the failure (their failed-mail page) and call or send it again. A body with a
        # secret (the inquiry code, a resume or verification link) goes; the receipt and the inquiry code are
        # written again if staff retry (services.retry_email).
        email.status = OutgoingEmail.Status.FAILED
        if email.kind in notify.SECRET_KINDS:
            email.body = ""
        email.save(update_fields=["attempts", "last_error", "status", "subject", "body_data"])
        return "failed"
    email.status = OutgoingEmail.Status.PENDING
    email.save(update_fields=["attempts", "last_error", "subject", "body_data", "status"])
    send_email.using(run_after=timezone.now() + backoff(email.attempts)).enqueue(email.pk)
    return "retry"


def _message_id_domain() -> str:
    from urllib.parse import urlsplit

    return urlsplit(settings.SITE_URL).hostname or "localhost"
