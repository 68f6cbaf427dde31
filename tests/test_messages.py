"""Messages to the resident on a case: written by a clerk, shown on the resident's status page, e-mailed
through the outbox; internal notes stay staff-only; bad input is refused in Japanese, keeping what was typed."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.notifications import services as notify
from madoguchi.notifications.models import Message, OutgoingEmail
from madoguchi.submissions import services
from tests.conftest import make_submission

pytestmark = pytest.mark.django_db


def resident_of(result) -> Client:
    resident = Client()
    resident.post(
        reverse("public:status"),
        {"receipt_number": result.submission.receipt_number, "inquiry_code": result.inquiry_code},
    )
    return resident


def message_url(submission) -> str:
    return reverse("staff:send_message", kwargs={"submission_id": submission.pk})


def test_a_clerk_writes_to_the_resident_who_reads_it_on_the_status_page_and_by_email(
    client, colleague, procedure
):
    result = make_submission(procedure)
    submission = result.submission
    services.add_note(submission=submission, author=colleague, body="電話で本人確認済み（内部）")
    client.force_login(colleague)
    page = client.post(
        message_url(submission), {"body": "当日は筆記用具をお持ちください。\n会場は2階です。"}, follow=True
    ).content.decode()
    assert "申請者にメッセージを送りました" in page and "当日は筆記用具をお持ちください。" in page

    message = Message.objects.get()
    assert (message.organization, message.author, message.direction) == (
        procedure.organization,
        colleague,
        Message.Direction.TO_RESIDENT,
    )
    mail = OutgoingEmail.objects.get(kind="message")
    assert mail.to == "sakiko@example.jp" and "当日は筆記用具をお持ちください。\n会場は2階です。" in mail.body
    assert mail.subject.startswith("【お知らせ】シニア向けスマートフォン教室")
    assert AuditLog.objects.filter(action="submission.message", actor=colleague).exists()

    page = resident_of(result).get(reverse("public:status_view")).content.decode()
    assert "担当課とのメッセージ" in page and "会場は2階です。" in page
    assert "電話で本人確認済み" not in page  # the internal note stays staff-only


def test_a_message_to_a_resident_without_an_address_is_only_on_the_status_page(colleague, procedure):
    answers = {
        "name": {"family": "山田", "given": "太郎"},
        "furigana": "やまだ　たろう",
        "phone": "0857-20-3111",
        "email": "",
        "session": "午前",
        "agree": True,
    }
    submission = make_submission(procedure, answers).submission
    notify.send_message(submission=submission, author=colleague, body="お電話ください。")
    assert Message.objects.count() == 1 and not OutgoingEmail.objects.filter(kind="message").exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("   \n ", "メッセージを入力してください。"),
        ("あ" * 2001, "メッセージは2,000文字以内で入力してください（いま2001文字）。"),
        ("ご確認ください\x00", "使えない制御文字"),
        ("ご確認\x1bください", "使えない制御文字"),
    ],
)
def test_bad_input_is_refused_in_japanese_keeping_what_was_typed(client, colleague, procedure, body, error):
    submission = make_submission(procedure).submission
    client.force_login(colleague)
    page = client.post(message_url(submission), {"body": body}, follow=True).content.decode()
    assert 'id="message-error"' in page and error in page
    if body.strip():
        assert f">{body[:3]}" in page  # the text box holds what was typed
    assert Message.objects.count() == 0 and not OutgoingEmail.objects.filter(kind="message").exists()


def test_a_viewer_cannot_write_and_an_outsider_gets_404(client, viewer, outsider, procedure):
    submission = make_submission(procedure).submission
    client.force_login(viewer)
    assert client.post(message_url(submission), {"body": "こんにちは"}).status_code == 403
    client.force_login(outsider)
    assert client.post(message_url(submission), {"body": "こんにちは"}).status_code == 404
    assert Message.objects.count() == 0


CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]


@hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.text(alphabet="あいう漢字ABC 123\n", max_size=20),
    control=st.sampled_from(CONTROL),
    after=st.text(alphabet="えお字\t", max_size=20),
)
def test_any_control_character_is_refused_and_nothing_is_written(
    colleague, procedure, before, control, after
):
    submission = make_submission(procedure).submission
    with pytest.raises(notify.MessageError):
        notify.send_message(submission=submission, author=colleague, body=f"確認{before}{control}{after}です")
    assert not Message.objects.filter(submission=submission).exists()


@hypothesis_settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=60))
def test_any_printable_text_is_kept_as_written(colleague, procedure, body):
    submission = make_submission(procedure).submission
    if not body.strip():
        return
    message = notify.send_message(submission=submission, author=colleague, body=body)
    assert Message.objects.get(pk=message.pk).body == body.strip()


def test_the_database_refuses_a_message_or_email_text_of_another_organization(procedure, yonago):
    """The organization guards (madoguchi/lib/integrity.py) cover the two new references."""
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from madoguchi.lib import integrity
    from madoguchi.notifications.models import EmailText

    submission = make_submission(procedure).submission
    writes = [
        lambda: Message.objects.create(
            organization=yonago, submission=submission, body="x", created_at=timezone.now()
        ),
        lambda: EmailText.objects.create(
            organization=yonago, procedure=procedure, kind="message", subject="s", body="b"
        ),
    ]
    for write in writes:
        with pytest.raises(IntegrityError, match=integrity.REFUSED), transaction.atomic():
            write()
    assert not Message.objects.exists() and not EmailText.objects.exists()
