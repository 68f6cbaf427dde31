"""The resident writes back to staff on the status page: the thread in order on both sides, a 未返信 marker
on the case until staff answer, staff told by e-mail without the text, bad text refused in Japanese with what
was typed kept, and no writing once the case is closed."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.lib import japanese as ja
from madoguchi.notifications import services as notify
from madoguchi.notifications.models import Message, OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from madoguchi.submissions.models import Status
from tests.conftest import make_submission

pytestmark = pytest.mark.django_db

REPLY = reverse("public:status_reply")
STATUS = reverse("public:status_view")


def resident_of(result) -> Client:
    resident = Client()
    resident.post(
        reverse("public:status"),
        {"receipt_number": result.submission.receipt_number, "inquiry_code": result.inquiry_code},
    )
    return resident


def case_page(client, submission) -> str:
    return client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()


def a_valid_individual_number() -> str:
    first = "12345678901"
    return first + str(ja.individual_number_check_digit(first))


def test_a_reply_is_shown_in_order_on_both_sides_marked_unanswered_until_staff_write_back(
    client, colleague, procedure
):
    Procedure.objects.filter(pk=procedure.pk).update(notify_emails="kakari@city.example.jp")
    result = make_submission(procedure)
    submission = result.submission
    notify.send_message(
        submission=submission, author=colleague, body="持ち物はありますか、とのお尋ねにお答えします。"
    )
    resident = resident_of(result)

    response = resident.post(REPLY, {"body": "ありがとうございます。\r\n当日は車で伺います。"})
    assert response.status_code == 302 and response["Location"].endswith("#messages")
    page = resident.get(STATUS).content.decode()
    assert "担当課にメッセージを送りました" in page
    assert (
        page.index("持ち物はありますか") < page.index("当日は車で伺います。") < page.index('id="reply-form"')
    )
    assert "あなたから" in page
    reply = Message.objects.get(direction=Message.Direction.FROM_RESIDENT)
    assert reply.body == "ありがとうございます。\n当日は車で伺います。" and reply.author is None
    assert reply.organization_id == submission.organization_id
    assert AuditLog.objects.filter(action="submission.resident_message", actor_label="申請者").exists()

    # Staff are told by e-mail, with the 受付番号 and the case's link, never the text.
    notice = OutgoingEmail.objects.get(kind=notify.STAFF_REPLY)
    assert notice.to == "kakari@city.example.jp"
    assert submission.display_receipt_number in notice.subject and "【返信】" in notice.subject
    assert f"/staff/submissions/{submission.pk}/" in notice.body and "車で伺います" not in notice.body
    assert not any("車で伺います" in e.body for e in OutgoingEmail.objects.filter(kind="message"))

    client.force_login(colleague)
    staff_page = case_page(client, submission)
    assert 'data-testid="unanswered-reply">未返信<' in staff_page
    assert staff_page.index("持ち物はありますか") < staff_page.index("当日は車で伺います。")
    # The inbox marks the case too, and only that case.
    quiet = make_submission(procedure).submission
    inbox = client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert inbox.count('data-testid="unanswered"') == 1
    row = inbox[inbox.index(submission.display_receipt_number) :]
    assert row.index('data-testid="unanswered"') < row.index("</tr>")
    assert quiet.display_receipt_number in inbox
    notify.send_message(submission=submission, author=colleague, body="承知しました。駐車場は東側です。")
    assert 'data-testid="unanswered-reply"' not in case_page(client, submission)
    inbox = client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert 'data-testid="unanswered"' not in inbox


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "メッセージを入力してください。"),
        ("\u3000\u200b\u00a0", "メッセージを入力してください。"),
        ("こんにちは\x00です", "使えない制御文字"),
        ("右から\u202e左へ", "使えない制御文字"),
        ("あ" * 2001, "2,000文字以内"),
        (f"番号は {a_valid_individual_number()} です", "マイナンバー（個人番号）は送らないでください"),
    ],
)
def test_a_refused_reply_is_explained_at_its_box_and_what_was_typed_is_kept(procedure, typed, message):
    resident = resident_of(make_submission(procedure))
    response = resident.post(REPLY, {"body": typed})
    assert response["Location"].endswith("#reply")
    page = resident.get(STATUS).content.decode()
    assert 'id="reply-error" role="alert">' in page and message in page
    assert 'aria-describedby="reply-hint reply-error"' in page
    kept = ja.remove_control_characters(typed)
    if kept.strip():
        assert kept[:50] in page
    assert not Message.objects.exists()
    # Shown once: the next visit has an empty box again.
    assert 'id="reply-error"' not in resident.get(STATUS).content.decode()


def test_twelve_digits_with_a_wrong_check_digit_are_a_plain_number(procedure):
    number = a_valid_individual_number()
    wrong = number[:11] + str((int(number[11]) + 1) % 10)
    resident = resident_of(make_submission(procedure))
    resident.post(REPLY, {"body": f"会員番号 {wrong} です"})
    assert Message.objects.get().body == f"会員番号 {wrong} です"


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.REJECTED, Status.WITHDRAWN])
def test_no_reply_once_the_case_is_closed(colleague, tottori, status):
    from tests.conftest import make_procedure

    application = make_procedure(tottori, title="児童手当の申請", kind="application")
    result = make_submission(application)
    if status == Status.WITHDRAWN:
        services.withdraw(submission=result.submission, reason="不要になりました")
    else:
        services.transition(submission=result.submission, to_status=status, actor=colleague, reason="理由")
    resident = resident_of(result)
    page = resident.get(STATUS).content.decode()
    assert 'id="reply-form"' not in page
    assert 'data-testid="reply-closed">この申請は処理が終わったため、メッセージは送れません。' in page
    response = resident.post(REPLY, {"body": "まだ質問があります"})  # a forged or stale post
    assert response.status_code == 302
    assert "処理が終わっているため、メッセージを送れません" in resident.get(STATUS).content.decode()
    assert not Message.objects.filter(direction=Message.Direction.FROM_RESIDENT).exists()
    with pytest.raises(notify.MessageError):
        notify.receive_reply(submission=result.submission, body="まだ質問があります")


def test_without_looking_up_there_is_nothing_to_reply_to(client, submission):
    response = client.post(REPLY, {"body": "こんにちは"})
    assert response.status_code == 302 and response["Location"] == reverse("public:status")
    assert not Message.objects.exists()


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_any_text_is_stored_clean_or_refused_never_an_error(procedure, text):
    """The whole class of input: whatever is typed, the reply is stored without control characters and
    without surrounding invisible characters, or refused with a message; never a server error."""
    result = make_submission(procedure)
    resident = resident_of(result)
    before = Message.objects.count()
    response = resident.post(REPLY, {"body": text})
    assert response.status_code == 302
    if Message.objects.count() == before:
        assert 'id="reply-error"' in resident.get(STATUS).content.decode()
        return
    stored = Message.objects.latest("id").body
    assert not ja.has_control_characters(stored) and "\r" not in stored
    assert stored == ja.trim_invisible(stored.strip()).strip() and stored
    assert not ja.contains_individual_number(stored)
