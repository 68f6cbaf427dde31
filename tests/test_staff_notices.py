"""Staff named on a procedure hear of new submissions: one e-mail per address per run, each submission
told once, no answer or name in it."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.services import queue_staff_notices
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db


def notices():
    return OutgoingEmail.objects.filter(kind="staff_new").order_by("to")


def test_new_submissions_are_told_once_to_every_address_without_personal_data(tottori):
    procedure = make_procedure(tottori, notify_emails="kakari@example.jp\nkacho@example.jp")
    quiet = make_procedure(tottori, title="知らせない手続")
    first = make_submission(procedure).submission
    second = make_submission(procedure).submission
    make_submission(quiet)
    later = timezone.now() + timedelta(minutes=5)

    assert queue_staff_notices(now=later) == 2
    assert [e.to for e in notices()] == ["kacho@example.jp", "kakari@example.jp"]
    email = notices().first()
    assert email.subject == "【新着】シニア向けスマートフォン教室（2件）"
    assert first.display_receipt_number in email.body and second.display_receipt_number in email.body
    assert f"/staff/procedures/{procedure.pk}/" in email.body
    assert "髙橋" not in email.body and "sakiko@example.jp" not in email.body
    assert email.organization_id == tottori.pk

    assert queue_staff_notices(now=later) == 0  # told once
    third = make_submission(procedure).submission
    assert queue_staff_notices(now=later + timedelta(minutes=5)) == 2
    latest = notices().filter(subject__contains="（1件）").first()
    assert third.display_receipt_number in latest.body and first.display_receipt_number not in latest.body


def test_a_submission_of_the_last_minute_waits_for_the_next_run(tottori):
    procedure = make_procedure(tottori, notify_emails="kakari@example.jp")
    make_submission(procedure)
    assert queue_staff_notices() == 0
    call_command("notify_staff")
    assert not notices().exists()
    assert queue_staff_notices(now=timezone.now() + timedelta(minutes=2)) == 1
