"""The status machine of each kind of procedure, as a clerk, a colleague, an admin, an outsider and the
resident see it: 返却中 closed after its 補正期限, decisions confirmed on a second page, a decision reopened
by an admin, and each kind's own words and moves."""

import re
from datetime import date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from madoguchi.accounts.models import Role
from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services
from madoguchi.submissions.models import Status, StatusChange, Submission
from tests.conftest import make_procedure, make_submission, make_user

pytestmark = pytest.mark.django_db

SURVEY_SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "rating", "type": "single_choice", "label": "満足度", "options": ["満足", "不満"]},
        {"key": "email", "type": "email", "label": "メールアドレス"},
    ],
}


@pytest.fixture
def admin(tottori):
    return make_user("admin-clerk", tottori, Role.ADMIN)


@pytest.fixture
def application(tottori):
    return make_procedure(tottori, title="住民票の写しの郵送請求", kind="application")


def resident_of(result) -> Client:
    """A browser that looked the submission up with its 受付番号 and 問い合わせ番号."""
    resident = Client()
    response = resident.post(
        reverse("public:status"),
        {"receipt_number": result.submission.receipt_number, "inquiry_code": result.inquiry_code},
    )
    assert response.status_code == 302
    return resident


def status_page(resident: Client) -> str:
    return resident.get(reverse("public:status_view")).content.decode()


def detail_url(submission) -> str:
    return reverse("staff:submission", kwargs={"submission_id": submission.pk})


def transition_url(submission) -> str:
    return reverse("staff:transition", kwargs={"submission_id": submission.pk})


def at_jst(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=JST)


def returned(submission, clerk, deadline=None):
    services.transition(
        submission=submission,
        to_status=Status.RETURNED,
        actor=clerk,
        reason="住所の番地が抜けています",
        deadline=deadline,
    )
    submission.refresh_from_db()
    return submission


# 返却中 and its 補正期限 ----------------------------------------------------------------------------


def test_a_returned_case_is_closed_only_after_its_correction_deadline(
    client, colleague, application, monkeypatch
):
    result = make_submission(application)
    deadline = timezone.localdate(timezone=JST) + timedelta(days=7)
    submission = returned(result.submission, colleague, deadline)
    client.force_login(colleague)

    page = client.get(detail_url(submission)).content.decode()
    assert (
        'data-testid="not-yet"' in page
        and "補正期限（" in page
        and "を過ぎるまでは「却下」にできません" in page
    )
    assert 'id="to-rejected"' not in page  # not offered before the deadline

    # A forged POST before the deadline: told why, nothing changes.
    page = client.post(
        transition_url(submission),
        {"to": "rejected", "reason": "期限までに補正がありません", "confirmed": "1"},
        follow=True,
    ).content.decode()
    assert "を過ぎるまでは「却下」にできません" in page
    submission.refresh_from_db()
    assert submission.status == Status.RETURNED

    # On the deadline day itself the resident may still correct it.
    monkeypatch.setattr(timezone, "now", lambda: at_jst(deadline, 23))
    with pytest.raises(services.SubmissionError):
        services.transition(
            submission=submission, to_status=Status.REJECTED, actor=colleague, reason="補正なし"
        )

    # The next day (JST) the clerk may reject it, with a reason shown to the resident.
    monkeypatch.setattr(timezone, "now", lambda: at_jst(deadline + timedelta(days=1), 0))
    client.force_login(colleague)  # a week later: a new staff session
    page = client.get(detail_url(submission)).content.decode()
    assert 'id="to-rejected"' in page and 'id="to-completed"' in page
    with pytest.raises(services.SubmissionError, match="理由を入力してください"):
        services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    services.transition(
        submission=submission,
        to_status=Status.REJECTED,
        actor=colleague,
        reason="期限までに補正がありませんでした",
    )
    submission.refresh_from_db()
    assert submission.status == Status.REJECTED and submission.correction_deadline is None
    monkeypatch.undo()
    page = status_page(resident_of(result))
    assert 'data-testid="status">却下<' in page and "期限までに補正がありませんでした" in page


def test_a_returned_case_without_a_deadline_may_be_closed_at_once_with_a_reason(colleague, application):
    submission = returned(make_submission(application).submission, colleague)
    services.transition(
        submission=submission, to_status=Status.COMPLETED, actor=colleague, reason="窓口で確認できました"
    )
    assert Submission.objects.get(pk=submission.pk).status == Status.COMPLETED


def test_the_correction_deadline_is_in_the_return_email_and_on_the_status_page(colleague, application):
    result = make_submission(application)
    deadline = timezone.localdate(timezone=JST) + timedelta(days=20)
    shown = f"{deadline.year}年{deadline.month}月{deadline.day}日"  # JST, as a resident reads a date
    returned(result.submission, colleague, deadline)
    mail = OutgoingEmail.objects.get(kind="status_returned")
    assert f"補正期限：{shown}" in mail.body and "【返却中】" in mail.subject
    page = status_page(resident_of(result))
    assert f'data-testid="correction-deadline">{shown}<' in page
    assert f"補正の期限は{shown}です" in page


# Confirmation of a decision --------------------------------------------------------------------------


def test_complete_and_reject_ask_for_confirmation_on_a_second_page(client, colleague, application):
    submission = make_submission(application).submission
    client.force_login(colleague)

    page = client.post(transition_url(submission), {"to": "rejected", "reason": "対象外の請求です"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "「却下」にしてよいですか" in text and "対象外の請求です" in text
    assert 'name="confirmed" value="1"' in text and "戻って直す" in text
    submission.refresh_from_db()
    assert (
        submission.status == Status.RECEIVED
        and not OutgoingEmail.objects.filter(kind="status_rejected").exists()
    )

    # 「戻って直す」: the detail page keeps the choice and the reason.
    page = client.get(detail_url(submission)).content.decode()
    assert 'value="rejected" checked' in page and ">対象外の請求です</textarea>" in page

    page = client.post(
        transition_url(submission),
        {"to": "rejected", "reason": "対象外の請求です", "confirmed": "1"},
        follow=True,
    ).content.decode()
    assert "状態を「却下」に変更しました" in page
    submission.refresh_from_db()
    assert submission.status == Status.REJECTED


def test_a_decision_that_would_fail_is_told_before_the_confirmation_page(client, colleague, application):
    submission = make_submission(application).submission
    client.force_login(colleague)
    page = client.post(
        transition_url(submission), {"to": "rejected", "reason": ""}, follow=True
    ).content.decode()
    assert "「却下」にするには理由を入力してください" in page and "してよいですか" not in page


def test_starting_review_needs_no_confirmation(client, colleague, application):
    submission = make_submission(application).submission
    client.force_login(colleague)
    client.post(transition_url(submission), {"to": "in_review"})
    submission.refresh_from_db()
    assert submission.status == Status.IN_REVIEW


# Reopening a decision -------------------------------------------------------------------------------


def reopen_url(submission) -> str:
    return reverse("staff:reopen", kwargs={"submission_id": submission.pk})


def test_an_admin_reopens_a_decision_with_a_reason_and_the_resident_is_told(
    client, admin, colleague, application
):
    result = make_submission(application)
    submission = result.submission
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    client.force_login(admin)
    page = client.get(detail_url(submission)).content.decode()
    assert "決定を取り消して処理中に戻す（管理者）" in page

    page = client.post(reopen_url(submission), {"reason": "交付手数料の計算に誤りがありました"}, follow=True)
    assert "処理中に戻しました" in page.content.decode()
    submission.refresh_from_db()
    assert submission.status == Status.IN_REVIEW
    last = StatusChange.objects.filter(submission=submission).last()
    assert (last.from_status, last.to_status, last.actor, last.reason) == (
        "completed",
        "in_review",
        admin,
        "交付手数料の計算に誤りがありました",
    )
    log = AuditLog.objects.get(action="submission.reopen")
    assert log.actor == admin and log.detail["from"] == "completed" and log.detail["reason"]
    mail = OutgoingEmail.objects.get(kind="reopened")
    assert "【処理を再開しました】" in mail.subject and "交付手数料の計算に誤りがありました" in mail.body
    page = status_page(resident_of(result))
    assert 'data-testid="status">処理中<' in page and "交付手数料の計算に誤りがありました" in page
    assert "処理中（決定を取り消し、改めて処理しています）" in page


def test_a_colleague_who_is_not_an_admin_cannot_reopen(client, colleague, application):
    submission = make_submission(application).submission
    services.transition(submission=submission, to_status=Status.REJECTED, actor=colleague, reason="対象外")
    client.force_login(colleague)
    assert "決定を取り消して" not in client.get(detail_url(submission)).content.decode()
    page = client.post(reopen_url(submission), {"reason": "やり直したい"}, follow=True).content.decode()
    assert "処理中に戻せるのは、管理者だけです" in page
    submission.refresh_from_db()
    assert submission.status == Status.REJECTED
    assert not AuditLog.objects.filter(action="submission.reopen").exists()


def test_reopening_without_a_reason_keeps_the_decision(client, admin, colleague, application):
    submission = make_submission(application).submission
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    client.force_login(admin)
    page = client.post(reopen_url(submission), {"reason": "  "}, follow=True).content.decode()
    assert 'id="reopen-error"' in page and "処理中に戻す理由を入力してください" in page
    submission.refresh_from_db()
    assert submission.status == Status.COMPLETED


def test_only_a_decided_case_is_reopened(admin, application):
    submission = make_submission(application).submission
    with pytest.raises(services.SubmissionError, match="戻せるのは決定したものだけです"):
        services.reopen(submission=submission, actor=admin, reason="念のため")


def test_an_outsider_gets_404_on_reopen_transition_and_detail(client, outsider, colleague, application):
    submission = make_submission(application).submission
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    client.force_login(outsider)  # an admin, of 米子市
    assert client.post(reopen_url(submission), {"reason": "誤り"}).status_code == 404
    assert client.post(transition_url(submission), {"to": "in_review"}).status_code == 404
    assert client.get(detail_url(submission)).status_code == 404
    submission.refresh_from_db()
    assert submission.status == Status.COMPLETED


def test_an_admin_of_another_organization_cannot_reopen_through_the_service(outsider, colleague, application):
    submission = make_submission(application).submission
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    with pytest.raises(services.SubmissionError):
        services.reopen(submission=submission, actor=outsider, reason="誤り")


# Each kind speaks its own words -----------------------------------------------------------------------


def test_a_survey_answer_is_only_marked_seen(client, colleague, tottori):
    survey = make_procedure(tottori, SURVEY_SCHEMA, title="利用者アンケート", kind="survey")
    result = make_submission(survey, {"rating": "満足", "email": "kaito@example.jp"})
    submission = result.submission
    client.force_login(colleague)
    page = client.get(detail_url(submission)).content.decode()
    assert 'data-testid="status">未確認<' in page and "確認済みにする" in page
    assert 'value="returned"' not in page and 'value="rejected"' not in page

    # A forged 差戻し: a clear message in the survey's words; nothing changes.
    page = client.post(
        transition_url(submission), {"to": "returned", "reason": "書き直して"}, follow=True
    ).content.decode()
    assert "「未確認」から「返却中」には変更できません" in page
    submission.refresh_from_db()
    assert submission.status == Status.RECEIVED

    # The resident cannot withdraw an answer, even by a forged POST.
    resident = resident_of(result)
    page = status_page(resident)
    assert 'id="withdraw-form"' not in page and 'data-testid="status">未確認<' in page
    resident.post(reverse("public:status_withdraw"), {"reason": "取り消したい"})
    submission.refresh_from_db()
    assert submission.status == Status.RECEIVED

    # Marking an answer seen decides nothing for the resident: no second page.
    client.post(transition_url(submission), {"to": "completed"})
    submission.refresh_from_db()
    assert submission.status == Status.COMPLETED
    assert 'data-testid="status">確認済み<' in status_page(resident)
    assert OutgoingEmail.objects.get(kind="status_completed").subject.startswith("【確認済み】")


def test_a_notification_is_accepted_not_completed(colleague, tottori):
    notification = make_procedure(tottori, title="犬の登録事項変更届", kind="notification")
    result = make_submission(notification)
    services.transition(submission=result.submission, to_status=Status.COMPLETED, actor=colleague)
    assert 'data-testid="status">受理<' in status_page(resident_of(result))
    assert OutgoingEmail.objects.get(kind="status_completed").subject.startswith("【受理】")
    assert services.action_label("notification", Status.REJECTED) == "不受理にする"


def test_a_signup_is_accepted_and_cancelled_in_its_own_words(procedure, colleague):
    result = make_submission(procedure)  # the fixture's procedure is a sign-up with no capacity
    services.transition(submission=result.submission, to_status=Status.COMPLETED, actor=colleague)
    resident = resident_of(result)
    page = status_page(resident)
    assert 'data-testid="status">受付済み<' in page
    assert "申込をキャンセルする" in page  # an accepted sign-up may still be cancelled
    resident.post(reverse("public:status_withdraw"), {"reason": "都合がつかなくなりました"})
    confirm = resident.get(reverse("public:status_withdraw_confirm")).content.decode()
    assert "本当にキャンセルしますか" in confirm
    token = re.search(r'name="token" value="([^"]+)"', confirm).group(1)
    resident.post(reverse("public:status_withdraw_confirm"), {"token": token})
    assert 'data-testid="status">キャンセル<' in status_page(resident)


def test_a_cancelled_signup_gives_its_seat_back(tottori, colleague):
    signup = make_procedure(tottori, title="スマホ教室", kind="signup", capacity=1)
    result = make_submission(signup)
    services.transition(submission=result.submission, to_status=Status.COMPLETED, actor=colleague)
    services.withdraw(submission=result.submission, reason="行けなくなりました")
    assert Procedure.objects.get(pk=signup.pk).seats_taken == 0


def test_a_turned_down_signup_frees_its_seat_and_is_brought_back_only_while_one_is_free(tottori, owner):
    signup = make_procedure(tottori, title="スマホ教室", kind="signup", capacity=1)
    first = make_submission(signup).submission
    services.transition(submission=first, to_status=Status.REJECTED, actor=owner, reason="対象外の方でした")
    assert Procedure.objects.get(pk=signup.pk).seats_taken == 0
    second = make_submission(signup).submission  # the freed place is taken by someone else
    assert Procedure.objects.get(pk=signup.pk).seats_taken == 1
    with pytest.raises(services.SubmissionError, match="定員"):
        services.reopen(submission=first, actor=owner, reason="確認したら対象でした")
    first.refresh_from_db()
    assert first.status == Status.REJECTED
    services.withdraw(submission=second, reason="行けなくなりました")
    services.reopen(submission=first, actor=owner, reason="確認したら対象でした")
    first.refresh_from_db()
    assert first.status == Status.IN_REVIEW
    assert Procedure.objects.get(pk=signup.pk).seats_taken == 1


KINDS = [k.value for k in Procedure.Kind]
STAFF_TARGETS = [
    Status.IN_REVIEW,
    Status.RETURNED,
    Status.COMPLETED,
    Status.REJECTED,
    Status.WITHDRAWN,
    "nonsense",
]


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(KINDS), path=st.lists(st.sampled_from(STAFF_TARGETS), min_size=1, max_size=4))
def test_the_service_takes_exactly_the_moves_of_the_kinds_table(tottori, colleague, kind, path):
    """Whatever a clerk (or a forged POST) asks, a move happens iff its kind's table has it; else nothing."""
    procedure = Procedure.objects.filter(organization=tottori, kind=kind).first() or make_procedure(
        tottori, title=f"手続 {kind}", kind=kind
    )
    submission = make_submission(procedure).submission
    for to in path:
        before = Submission.objects.get(pk=submission.pk).status
        allowed = (before, to) in services.transitions_for(kind)
        try:
            services.transition(submission=submission, to_status=to, actor=colleague, reason="理由があります")
        except services.SubmissionError:
            assert not allowed
            assert Submission.objects.get(pk=submission.pk).status == before
        else:
            assert allowed
            assert Submission.objects.get(pk=submission.pk).status == to


def test_the_detail_and_status_pages_read_a_fixed_number_of_rows_however_long_the_history(
    client, admin, colleague, application
):
    """No query per history entry or message (the staff detail page and the resident's status page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from madoguchi.notifications import services as notify

    def counts(result):
        client.force_login(admin)
        resident = resident_of(result)
        # Each request empties the connection's query log (request_started): start the count from empty.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as staff:
            assert client.get(detail_url(result.submission)).status_code == 200
        staff_count = len(staff)  # read now: the log is emptied again below
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as public:
            assert resident.get(reverse("public:status_view")).status_code == 200
        return staff_count, len(public)

    short = make_submission(application)
    notify.send_message(submission=short.submission, author=colleague, body="ご確認ください。")
    long = make_submission(application)
    for n in range(3):
        services.transition(submission=long.submission, to_status=Status.COMPLETED, actor=colleague)
        services.reopen(submission=long.submission, actor=admin, reason=f"再確認 {n}")
        notify.send_message(
            submission=long.submission, author=admin if n % 2 else colleague, body=f"連絡 {n}"
        )
    assert counts(short) == counts(long)
