"""取下げ in two steps: the reason typed, then 「本当に取り下げますか」 showing it (without JavaScript); going back
keeps the reason; confirming withdraws once and e-mails the resident through the outbox (kind "withdrawn",
the procedure's own text when it has one). The status page explains each status in the kind's words, with
the 標準処理期間 and the expected date of a decision in JST."""

import re
from datetime import date, datetime

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from madoguchi.notifications import services as notify
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import services, status_explanations
from madoguchi.submissions.models import Status, Submission
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db

STATUS = reverse("public:status_view")
WITHDRAW = reverse("public:status_withdraw")
CONFIRM = reverse("public:status_withdraw_confirm")


def resident_of(result) -> Client:
    resident = Client()
    resident.post(
        reverse("public:status"),
        {"receipt_number": result.submission.receipt_number, "inquiry_code": result.inquiry_code},
    )
    return resident


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


@pytest.fixture
def application(tottori):
    return make_procedure(tottori, title="児童手当の申請", kind="application", standard_processing_days=14)


def test_withdrawal_asks_again_showing_the_reason_and_going_back_keeps_it(application):
    result = make_submission(application)
    resident = resident_of(result)
    response = resident.post(WITHDRAW, {"reason": "  転居することになりました  "})
    assert response["Location"] == CONFIRM
    page = resident.get(CONFIRM).content.decode()
    assert "本当に取り下げますか" in page and "まだ取り下げていません" in page
    assert 'data-testid="withdraw-reason">転居することになりました<' in page
    assert "確認のメールを送ります" in page
    assert Submission.objects.get().status == Status.RECEIVED  # nothing done yet
    assert not OutgoingEmail.objects.filter(kind=notify.WITHDRAWN).exists()

    # 「取り下げないで戻る」: a plain link back; the reason is still in its box.
    assert f'href="{STATUS}#withdraw"' in page
    back = resident.get(STATUS).content.decode()
    assert ">転居することになりました</textarea>" in back
    assert Submission.objects.get().status == Status.RECEIVED


def test_confirming_withdraws_once_and_emails_the_resident(application):
    result = make_submission(application)
    resident = resident_of(result)
    resident.post(WITHDRAW, {"reason": "転居することになりました"})
    token = token_of(resident.get(CONFIRM).content.decode())
    response = resident.post(CONFIRM, {"token": token}, follow=True)
    page = response.content.decode()
    assert "申請を取り下げました。確認のメールを送ります。" in page
    assert 'data-testid="status">取下げ<' in page and "申請は取り下げられました。" in page
    assert 'id="withdraw-form"' not in page
    submission = Submission.objects.get()
    assert submission.status == Status.WITHDRAWN
    assert submission.history.last().reason == "転居することになりました"
    assert AuditLog.objects.filter(action="submission.withdraw").count() == 1

    mail = OutgoingEmail.objects.get(kind=notify.WITHDRAWN)
    assert mail.to == "sakiko@example.jp" and mail.submission_id == submission.pk
    assert mail.subject == f"【取下げ】児童手当の申請（受付番号 {submission.display_receipt_number}）"
    assert "取下げ（キャンセル）を受け付けました" in mail.body and "転居することになりました" in mail.body

    # The second click of a double click, or the Back button and 「取り下げる」 again: nothing more happens.
    again = resident.post(CONFIRM, {"token": token})
    assert again["Location"] == STATUS
    assert OutgoingEmail.objects.filter(kind=notify.WITHDRAWN).count() == 1
    assert submission.history.filter(to_status=Status.WITHDRAWN).count() == 1


def test_a_forged_or_stale_token_withdraws_nothing(application):
    resident = resident_of(make_submission(application))
    resident.post(WITHDRAW, {"reason": "転居します"})
    response = resident.post(CONFIRM, {"token": "forged"})
    assert response["Location"] == CONFIRM
    assert Submission.objects.get().status == Status.RECEIVED
    assert resident.get(CONFIRM).status_code == 200  # still asks


def test_the_confirmation_page_without_the_first_step_goes_back_to_the_status(application):
    resident = resident_of(make_submission(application))
    assert resident.get(CONFIRM)["Location"] == STATUS
    assert resident.post(CONFIRM, {"token": "x"})["Location"] == STATUS
    assert Client().get(CONFIRM)["Location"] == reverse("public:status")


def test_staff_moving_it_meanwhile_stops_the_withdrawal(application, colleague):
    result = make_submission(application)
    resident = resident_of(result)
    resident.post(WITHDRAW, {"reason": "転居します"})
    token = token_of(resident.get(CONFIRM).content.decode())
    services.transition(submission=result.submission, to_status=Status.IN_REVIEW, actor=colleague)
    response = resident.post(CONFIRM, {"token": token}, follow=True)
    assert "いまは取り下げられない状態です" in response.content.decode()
    assert Submission.objects.get().status == Status.IN_REVIEW
    assert not OutgoingEmail.objects.filter(kind=notify.WITHDRAWN).exists()


def test_a_signup_is_cancelled_in_its_own_words_and_the_procedures_own_text_is_sent(procedure):
    notify.save_email_text(
        procedure=procedure,
        kind="withdrawn",
        subject="【キャンセル受付】{手続名}",
        body="{受付番号} のキャンセルを承りました。理由：{理由}",
        actor=None,
    )
    result = make_submission(procedure)
    resident = resident_of(result)
    resident.post(WITHDRAW, {"reason": "体調を崩しました"})
    page = resident.get(CONFIRM).content.decode()
    assert "本当にキャンセルしますか" in page and ">キャンセルする</button>" in page
    page = resident.post(CONFIRM, {"token": token_of(page)}, follow=True).content.decode()
    assert "申込をキャンセルしました。" in page and 'data-testid="status">キャンセル<' in page
    mail = OutgoingEmail.objects.get(kind=notify.WITHDRAWN)
    assert mail.subject == "【キャンセル受付】シニア向けスマートフォン教室"
    assert (
        mail.body
        == f"{result.submission.display_receipt_number} のキャンセルを承りました。理由：体調を崩しました"
    )


def test_no_address_no_email(application):
    result = make_submission(application)
    Submission.objects.filter(pk=result.submission.pk).update(applicant_email="")
    resident = resident_of(result)
    resident.post(WITHDRAW, {"reason": "不要になりました"})
    page = resident.get(CONFIRM).content.decode()
    assert "確認のメールを送ります" not in page
    page = resident.post(CONFIRM, {"token": token_of(page)}, follow=True).content.decode()
    assert "申請を取り下げました。" in page and "確認のメール" not in page
    assert not OutgoingEmail.objects.filter(kind=notify.WITHDRAWN).exists()


def test_the_withdrawn_email_is_one_of_the_texts_staff_can_edit(application, tottori):
    from madoguchi.notifications import texts

    assert "withdrawn" in texts.kinds_for("application") and "withdrawn" in texts.kinds_for("signup")
    assert "withdrawn" not in texts.kinds_for("survey")  # an answer is never withdrawn
    subject, body, own = notify.email_text(application, "withdrawn")
    assert not own and "{理由}" in body and subject.startswith("【{状態}】")
    preview = notify.preview_email_text(procedure=application, kind="withdrawn", subject=subject, body=body)
    assert preview[0].startswith("【取下げ】児童手当の申請")


# The status page explains each status ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "meaning"),
    [
        ("application", Status.RECEIVED, "申請は届いています。"),
        ("application", Status.IN_REVIEW, "担当課が申請の内容を審査しています。"),
        ("notification", Status.COMPLETED, "届出は受理されました。"),
        ("notification", Status.REJECTED, "届出は受理されませんでした（不受理）。"),
        ("signup", Status.COMPLETED, "お申込みを受け付けました（受付済み）。"),
        ("signup", Status.WITHDRAWN, "申込みはキャンセルされました。"),
        ("survey", Status.RECEIVED, "回答は届いています。"),
        ("survey", Status.COMPLETED, "担当課が回答を確認しました。"),
    ],
)
def test_each_status_is_explained_in_the_kinds_words(tottori, colleague, kind, status, meaning):
    procedure = make_procedure(tottori, title="手続", kind=kind)
    result = make_submission(procedure)
    if status == Status.WITHDRAWN:
        services.withdraw(submission=result.submission, reason="都合")
    elif status != Status.RECEIVED:
        services.transition(submission=result.submission, to_status=status, actor=colleague, reason="理由")
    page = resident_of(result).get(STATUS).content.decode()
    label = services.status_label(kind, status)
    assert f"「{label}」とは" in page and meaning in page
    assert "このあと" in page and "できること" in page


def test_every_status_a_resident_can_see_has_an_explanation_for_every_kind():
    for kind in Procedure.Kind.values:
        for status in (Status.RECEIVED, Status.IN_REVIEW, Status.COMPLETED):
            assert status_explanations.explain(kind, status) is not None
        if kind != "survey":
            for status in (Status.RETURNED, Status.REJECTED, Status.WITHDRAWN):
                text = status_explanations.explain(kind, status)
                assert text.meaning and text.next and text.you_can
    assert status_explanations.explain("application", Status.DRAFT) is None


def test_the_standard_period_and_the_expected_date_are_in_jst(application):
    result = make_submission(application)
    # Arrived at 23:30 JST on 31 March (14:30 UTC): the JST date counts, not the UTC one.
    arrived = datetime(2026, 3, 31, 23, 30, tzinfo=JST)
    Submission.objects.filter(pk=result.submission.pk).update(submitted_at=arrived)
    submission = Submission.objects.select_related("procedure").get()
    assert status_explanations.expected_decision_date(submission) == date(2026, 4, 14)
    page = resident_of(result).get(STATUS).content.decode()
    assert 'data-testid="processing-days">到達から14日<' in page
    assert 'data-testid="expected-date">2026年4月14日ごろまで' in page


def test_no_period_set_or_a_survey_shows_no_date(tottori, colleague):
    plain = make_procedure(tottori, title="相談の申込", kind="application")
    page = resident_of(make_submission(plain)).get(STATUS).content.decode()
    assert 'data-testid="processing-days"' not in page and 'data-testid="expected-date"' not in page
    survey = make_procedure(tottori, title="満足度調査", kind="survey", standard_processing_days=7)
    page = resident_of(make_submission(survey)).get(STATUS).content.decode()
    assert 'data-testid="processing-days"' not in page and 'data-testid="expected-date"' not in page


def test_a_decided_case_shows_the_period_but_no_date_to_wait_for(application, colleague):
    result = make_submission(application)
    services.transition(submission=result.submission, to_status=Status.COMPLETED, actor=colleague)
    page = resident_of(result).get(STATUS).content.decode()
    assert 'data-testid="processing-days">到達から14日<' in page
    assert 'data-testid="expected-date"' not in page
