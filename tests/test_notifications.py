"""Receipt e-mail: through the task queue, over real SMTP, retried with backoff, failure shown to staff."""

import email
import email.policy
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.tasks import backoff, send_email
from tests.conftest import make_submission


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    yield inbox
    controller.stop()


@pytest.mark.django_db(transaction=True)
def test_worker_sends_the_receipt_over_smtp(smtp, procedure):
    result = make_submission(procedure)
    queued = OutgoingEmail.objects.get()
    assert (
        queued.body == "" and queued.display_subject == "受付のお知らせ"
    )  # written by the worker as it sends
    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0.1, verbosity=0)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "sakiko@example.jp"
    assert message["Subject"].strip().startswith("【受付】シニア向けスマートフォン教室")
    body = message.get_content()
    assert result.submission.display_receipt_number in body
    assert result.inquiry_code[:4] in body
    row = OutgoingEmail.objects.get()
    assert row.status == OutgoingEmail.Status.SENT and row.body == ""  # the inquiry code is not kept
    assert row.subject == message["Subject"].strip()  # staff see what was sent


@pytest.mark.django_db
def test_failed_send_is_retried_with_backoff_then_marked_failed(settings, procedure, client, colleague):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 2
    settings.EMAIL_MAX_ATTEMPTS = 3
    submission = make_submission(procedure).submission
    row = OutgoingEmail.objects.get()
    assert send_email.call(row.pk) == "retry"
    retry = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert timezone.now() + timedelta(seconds=50) < retry.run_after < timezone.now() + timedelta(minutes=2)
    row.refresh_from_db()
    assert row.attempts == 1 and row.status == "pending" and "ConnectionRefusedError" in row.last_error
    assert send_email.call(row.pk) == "retry"
    assert send_email.call(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.FAILED and row.attempts == 3
    assert row.body == ""  # the inquiry code is not kept in a mail that will never go
    assert send_email.call(row.pk) == "skipped"  # running the job again does no harm
    client.force_login(colleague)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert "送信失敗" in page and "送信できませんでした" in page


@pytest.mark.django_db
def test_a_worker_with_another_inquiry_code_key_sends_no_wrong_code(settings, procedure, mailoutbox):
    make_submission(procedure)
    row = OutgoingEmail.objects.get()
    settings.INQUIRY_CODE_KEY = "a-worker-started-with-another-key-0123456789abcdef"
    assert send_email.call(row.pk) == "retry"
    row.refresh_from_db()
    assert mailoutbox == [] and "INQUIRY_CODE_KEY" in row.last_error and row.attempts == 1
    assert row.body == ""  # nothing of the mail is kept


def test_backoff_grows_and_is_capped():
    assert [backoff(n) for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert backoff(20) == timedelta(minutes=60)
