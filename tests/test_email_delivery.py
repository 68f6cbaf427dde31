"""E-mail that arrives: through a real SMTP server on loopback (aiosmtpd), the headers a mail reader needs
(the Japanese subject MIME-encoded, From, To, Date, Message-ID) and a UTF-8 body; a retry after the server
refused or dropped the first attempt delivers exactly once; failed deliveries are listed for staff with a
「再送する」 button; the console backend of `make run` prints subjects and bodies readably; and no code outside
the outbox sends mail itself."""

import email
import email.policy
import email.utils
import io
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from madoguchi.notifications import services as notify
from madoguchi.notifications.backends import EmailBackend as ReadableConsoleBackend
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.tasks import send_email
from madoguchi.submissions import services
from madoguchi.submissions.models import Status
from tests.conftest import make_submission

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An SMTP server on loopback that keeps every message as received (raw bytes) and can refuse the next
    `refuse` messages with a temporary error (451) or drop the connection (421) instead."""

    def __init__(self):
        self.raw: list[bytes] = []
        self.refuse = 0
        self.reply = "451 4.3.0 Temporary failure, try again later"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return self.reply
        self.raw.append(envelope.content)
        return "250 OK"

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.raw]


@pytest.fixture
def smtp(settings):
    server = Server()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "窓口 <madoguchi@city.tottori.example.jp>"
    yield server
    controller.stop()


def test_a_status_email_arrives_with_encoded_japanese_subject_and_a_utf8_body(smtp, procedure, colleague):
    submission = make_submission(procedure).submission
    services.transition(
        submission=submission, to_status=Status.RETURNED, actor=colleague, reason="住所の番地が抜けています。"
    )
    row = OutgoingEmail.objects.get(kind="status_returned")
    assert send_email.call(row.pk) == "sent"

    assert len(smtp.raw) == 1
    raw = smtp.raw[0]
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers travel as 7-bit ASCII
    subject_line = re.search(r"^Subject:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", headers, re.M).group(1)
    assert "=?utf-8?" in subject_line.lower()  # MIME encoded-words (RFC 2047)
    message = smtp.messages[0]
    subject = f"【返却中】シニア向けスマートフォン教室（受付番号 {submission.display_receipt_number}）"
    assert message["Subject"].strip() == subject == row.subject
    assert message["To"] == "sakiko@example.jp"
    assert message["From"].addresses[0].addr_spec == "madoguchi@city.tottori.example.jp"
    assert message["From"].addresses[0].display_name == "窓口"
    sent_at = email.utils.parsedate_to_datetime(message["Date"])  # "-0000": UTC (RFC 5322 3.3)
    assert abs(sent_at.replace(tzinfo=sent_at.tzinfo or UTC) - timezone.now()) < timedelta(minutes=2)
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", message["Message-ID"])
    assert message.get_content_charset() == "utf-8"
    body = message.get_content().replace("\r\n", "\n")
    assert "住所の番地が抜けています。" in body and submission.display_receipt_number in body
    assert "髙" not in body or "髙" in body
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT and row.attempts == 1 and row.sent_at is not None


def test_rare_kanji_travel_unchanged(smtp, procedure, colleague):
    submission = make_submission(procedure).submission
    notify.send_message(submission=submission, author=colleague, body="髙橋﨑子様\n会場は𠮷田公民館です。")
    assert send_email.call(OutgoingEmail.objects.get(kind="message").pk) == "sent"
    assert "髙橋﨑子様\n会場は𠮷田公民館です。" in smtp.messages[0].get_content().replace("\r\n", "\n")


@pytest.mark.parametrize(
    "reply",
    ["451 4.3.0 Temporary failure, try again later", "421 4.7.0 Closing connection, try again later"],
)
def test_a_retry_after_the_server_refused_delivers_exactly_once(smtp, procedure, colleague, reply):
    submission = make_submission(procedure).submission
    notify.send_message(submission=submission, author=colleague, body="受付時間が変わりました。")
    row = OutgoingEmail.objects.get(kind="message")
    smtp.refuse, smtp.reply = 1, reply

    assert send_email.call(row.pk) == "retry"
    row.refresh_from_db()
    assert smtp.raw == [] and row.status == OutgoingEmail.Status.PENDING and row.attempts == 1
    assert reply[:3] in row.last_error
    assert row.body  # kept for the next try

    assert send_email.call(row.pk) == "sent"
    assert send_email.call(row.pk) == "skipped"  # the retry task queued by the failure, run late: no harm
    assert len(smtp.messages) == 1 and "受付時間が変わりました。" in smtp.messages[0].get_content().replace(
        "\r\n", "\n"
    )
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT and row.attempts == 2 and row.last_error == ""


def test_the_receipt_is_written_again_for_each_try_and_arrives_once(smtp, procedure):
    result = make_submission(procedure)
    row = OutgoingEmail.objects.get(kind="receipt")
    smtp.refuse = 1
    assert send_email.call(row.pk) == "retry"
    row.refresh_from_db()
    assert row.body == ""  # the inquiry code is never stored, not even between tries
    assert send_email.call(row.pk) == "sent"
    assert len(smtp.messages) == 1
    assert result.inquiry_code[:4] in smtp.messages[0].get_content().replace("\r\n", "\n")


# Failed deliveries, seen and sent again by staff ------------------------------------------------------


def fail_for_good(settings, smtp, row) -> None:
    settings.EMAIL_MAX_ATTEMPTS = 1
    smtp.refuse = 1
    assert send_email.call(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.FAILED


def test_staff_see_a_failed_email_and_send_it_again(settings, smtp, client, colleague, procedure):
    submission = make_submission(procedure).submission
    notify.send_message(submission=submission, author=colleague, body="書類をお持ちください。")
    row = OutgoingEmail.objects.get(kind="message")
    fail_for_good(settings, smtp, row)
    assert row.body  # a message holds no secret: kept so that it can be sent again

    client.force_login(colleague)
    url = reverse("staff:failed_emails", kwargs={"code": procedure.organization.code})
    page = client.get(url).content.decode()
    assert row.subject in page and submission.display_receipt_number in page
    assert "sa***@example.jp" in page and "sakiko@example.jp" not in page
    assert "451" in page and ">再送する<" in page

    retry = reverse("staff:retry_email", kwargs={"code": procedure.organization.code, "email_id": row.pk})
    page = client.post(retry, follow=True).content.decode()
    assert "メールを送信待ちに戻しました" in page and 'data-testid="no-failed-emails"' in page
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.PENDING and row.attempts == 0
    from madoguchi.audit.models import AuditLog

    assert AuditLog.objects.filter(action="email.retry", actor=colleague).exists()
    assert send_email.call(row.pk) == "sent"
    assert len(smtp.messages) == 1 and "書類をお持ちください。" in smtp.messages[0].get_content().replace(
        "\r\n", "\n"
    )

    # Pressed again (a second tab): said so, nothing sent twice.
    page = client.post(retry, follow=True).content.decode()
    assert "送信失敗の状態ではありません" in page
    assert OutgoingEmail.objects.get(pk=row.pk).status == OutgoingEmail.Status.SENT


def test_a_failed_receipt_is_sent_again_with_the_code_written_anew(
    settings, smtp, client, colleague, procedure
):
    result = make_submission(procedure)
    row = OutgoingEmail.objects.get(kind="receipt")
    fail_for_good(settings, smtp, row)
    assert row.body == ""
    client.force_login(colleague)
    case = reverse("staff:submission", kwargs={"submission_id": result.submission.pk})
    page = client.get(case).content.decode()
    assert "送信できませんでした" in page and ">再送する<" in page
    retry = reverse("staff:retry_email", kwargs={"code": procedure.organization.code, "email_id": row.pk})
    response = client.post(retry, {"next": "submission"})
    assert response["Location"] == case + "#emails"
    settings.EMAIL_MAX_ATTEMPTS = 6
    assert send_email.call(row.pk) == "sent"
    assert result.inquiry_code[:4] in smtp.messages[0].get_content().replace("\r\n", "\n")


def test_a_failed_link_that_was_not_kept_cannot_be_sent_again(settings, smtp, client, colleague, procedure):
    row = notify.queue_email(
        organization_id=procedure.organization_id,
        kind="draft",
        to="sakiko@example.jp",
        subject="【一時保存】",
        body="https://example.jp/drafts/resume/?t=secret",
    )
    fail_for_good(settings, smtp, row)
    assert row.body == ""  # the resume link is not kept in a mail that will never go
    client.force_login(colleague)
    page = client.get(
        reverse("staff:failed_emails", kwargs={"code": procedure.organization.code})
    ).content.decode()
    assert "再送できません（電話などで連絡してください）" in page
    retry = reverse("staff:retry_email", kwargs={"code": procedure.organization.code, "email_id": row.pk})
    page = client.post(retry, follow=True).content.decode()
    assert "本文を保存していないため、再送できません" in page
    assert OutgoingEmail.objects.get(pk=row.pk).status == OutgoingEmail.Status.FAILED


def test_another_organizations_failed_mail_is_out_of_reach(
    settings, smtp, client, outsider, viewer, procedure
):
    row = notify.queue_email(
        organization_id=procedure.organization_id,
        kind="message",
        to="sakiko@example.jp",
        subject="件名",
        body="本文",
    )
    fail_for_good(settings, smtp, row)
    client.force_login(outsider)
    yonago = outsider.memberships.first().organization.code
    page = client.get(reverse("staff:failed_emails", kwargs={"code": yonago})).content.decode()
    assert "sa***@example.jp" not in page
    response = client.post(reverse("staff:retry_email", kwargs={"code": yonago, "email_id": row.pk}))
    assert response.status_code == 404
    client.force_login(viewer)  # sees answers, processes nothing
    url = reverse("staff:failed_emails", kwargs={"code": procedure.organization.code})
    assert client.get(url).status_code == 403
    assert OutgoingEmail.objects.get(pk=row.pk).status == OutgoingEmail.Status.FAILED


# The console of `make run` -----------------------------------------------------------------------------


def test_the_console_backend_prints_the_subject_and_body_readably():
    stream = io.StringIO()
    long_line = "申請を受け付けました。" * 40  # long enough for a transfer encoding
    sent = ReadableConsoleBackend(stream=stream).send_messages(
        [
            EmailMessage(
                "【受付】児童手当の申請（受付番号 4821-0395-76）",
                long_line,
                "madoguchi@localhost",
                ["sakiko@example.jp"],
            )
        ]
    )
    out = stream.getvalue()
    assert sent == 1
    assert "Subject: 【受付】児童手当の申請（受付番号 4821-0395-76）" in out
    assert "=?utf-8?" not in out.lower()
    assert "To: sakiko@example.jp" in out and "Message-ID: <" in out and "Date: " in out
    assert long_line in out


def test_make_run_uses_the_readable_console_unless_told_otherwise():
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_BACKEND",)}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="madoguchi.settings", MADOGUCHI_INSECURE_DEV_KEY="1")
    run = [sys.executable, "-c", "import django; django.setup(); " + code]
    shown = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "madoguchi.notifications.backends.EmailBackend"
    env["EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"
    shown = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "django.core.mail.backends.smtp.EmailBackend"


def test_no_code_outside_the_outbox_sends_mail_itself():
    """Every e-mail is an OutgoingEmail row sent by notifications.tasks.send_email: nothing else builds or
    sends a message (send_mail, mail_admins, EmailMessage …)."""
    sending = re.compile(
        r"\b(send_mail|send_mass_mail|mail_admins|mail_managers|EmailMessage|EmailMultiAlternatives|get_connection)\s*\("
    )
    allowed = {ROOT / "madoguchi/notifications/tasks.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "madoguchi").rglob("*.py")
        if path not in allowed and sending.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# A worker killed mid-send (#11 point 7) ---------------------------------------------------------------


class Killed(BaseException):
    """What a SIGKILL does to the task, as far as the database sees: nothing after this point runs."""


def _kill_after_the_server_accepts(monkeypatch):
    real_send = EmailMessage.send

    def send_then_die(self, *args, **kwargs):
        real_send(self, *args, **kwargs)  # the server has the message (250)…
        raise Killed  # …and the worker dies before its commit

    monkeypatch.setattr(EmailMessage, "send", send_then_die)


def _as_if_started(row, seconds_ago: float) -> None:
    OutgoingEmail.objects.filter(pk=row.pk).update(
        sending_started_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_a_worker_killed_between_acceptance_and_commit_makes_one_message_of_the_receipt(
    smtp, procedure, monkeypatch, settings
):
    result = make_submission(procedure)
    row = OutgoingEmail.objects.get(kind="receipt")
    _kill_after_the_server_accepts(monkeypatch)
    with pytest.raises(Killed):
        send_email.call(row.pk)
    monkeypatch.undo()
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENDING and row.message_id and row.body == ""
    # The re-queued task, at once: the send may still be under way, so nothing is sent.
    assert send_email.call(row.pk) == "in progress"
    assert len(smtp.raw) == 1
    # Past the time a send can take: sent again, as the same message (same Message-ID, same text).
    _as_if_started(row, 2 * settings.EMAIL_TIMEOUT + 1)
    assert send_email.call(row.pk) == "sent"
    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"] == row.message_id
    assert first.get_content() == second.get_content()
    assert result.inquiry_code[:4] in second.get_content().replace("\r\n", "\n")
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT and row.body == ""
    assert send_email.call(row.pk) == "skipped"
    assert len(smtp.raw) == 2 and len({m["Message-ID"] for m in smtp.messages}) == 1


def test_a_worker_killed_before_the_smtp_call_loses_nothing(smtp, procedure, monkeypatch, settings):
    make_submission(procedure)
    row = OutgoingEmail.objects.get(kind="receipt")

    def die(self, *args, **kwargs):
        raise Killed

    monkeypatch.setattr(EmailMessage, "send", die)
    with pytest.raises(Killed):
        send_email.call(row.pk)
    monkeypatch.undo()
    assert smtp.raw == []
    _as_if_started(row, 2 * settings.EMAIL_TIMEOUT + 1)
    assert send_email.call(row.pk) == "sent"
    assert len(smtp.raw) == 1


def test_every_message_carries_its_own_message_id_kept_across_tries(smtp, procedure, colleague):
    submission = make_submission(procedure).submission
    notify.send_message(submission=submission, author=colleague, body="お知らせです。")
    row = OutgoingEmail.objects.get(kind="message")
    smtp.refuse = 1
    assert send_email.call(row.pk) == "retry"
    row.refresh_from_db()
    kept = row.message_id
    assert kept and row.status == OutgoingEmail.Status.PENDING
    assert send_email.call(row.pk) == "sent"
    assert smtp.messages[0]["Message-ID"] == kept
    receipt = OutgoingEmail.objects.get(kind="receipt")
    send_email.call(receipt.pk)
    receipt.refresh_from_db()
    assert receipt.message_id != kept


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_task_at_once_send_it_once(smtp, procedure):
    from tests.conftest import run_at_once

    make_submission(procedure)
    row = OutgoingEmail.objects.get(kind="receipt")
    results = []

    def worker():
        from django.db import connection

        try:
            results.append(send_email.call(row.pk))
        finally:
            connection.close()

    run_at_once(worker, worker, worker)
    assert sorted(results).count("sent") == 1 and len(smtp.raw) == 1


def test_a_killed_workers_email_task_is_requeued_within_a_minute(procedure, settings):
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from madoguchi.notifications.management.commands.requeue_stale_tasks import EMAIL_TASK, requeue

    make_submission(procedure)
    task = DBTaskResult.objects.get(task_path=EMAIL_TASK)
    task.status = TaskResultStatus.RUNNING
    task.started_at = timezone.now() - timedelta(seconds=2 * settings.EMAIL_TIMEOUT - 10)
    task.save()
    assert requeue(older_than=600) == 0  # it may still be sending
    DBTaskResult.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(seconds=50))
    assert requeue(older_than=600) == 1
    task.refresh_from_db()
    assert task.status == TaskResultStatus.READY
