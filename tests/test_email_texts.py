"""A procedure's own e-mail texts: its editors write them with placeholders, preview them with sample
values, and residents receive them; an unknown placeholder or a broken brace is refused by name, and staff
text is never read as a template."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.lib.receipt import format_inquiry_code
from madoguchi.notifications import services as notify
from madoguchi.notifications import texts
from madoguchi.notifications.models import EmailText, OutgoingEmail
from madoguchi.submissions import services
from madoguchi.submissions.models import Status
from tests.conftest import make_submission

pytestmark = pytest.mark.django_db


def edit_url(procedure, kind) -> str:
    return reverse("staff:email_text", kwargs={"procedure_id": procedure.pk, "kind": kind})


RETURNED_BODY = (
    "{団体名}です。\n{手続名}（{受付番号}）を返却しました。\n理由：{理由}\n期限：{補正期限}\n{状況確認URL}\n"
)


def test_an_editor_finds_the_page_sees_the_default_and_saves_the_procedures_own_text(
    client, editor, owner, procedure
):
    client.force_login(owner)
    inbox = client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert (
        reverse("staff:email_texts", kwargs={"procedure_id": procedure.pk}) in inbox
    )  # procedure navigation

    client.force_login(editor)
    # The editor's way in is the builder page, the one page of the procedure an editor opens.
    builder = client.get(reverse("staff:builder", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert reverse("staff:email_texts", kwargs={"procedure_id": procedure.pk}) in builder
    listing = client.get(reverse("staff:email_texts", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert "差戻し（補正のお願い）" in listing and "既定の文面" in listing
    page = client.get(edit_url(procedure, "returned")).content.decode()
    assert "【{状態}】{手続名}（受付番号 {受付番号}）" in page and "{補正期限}" in page

    response = client.post(
        edit_url(procedure, "returned"),
        {"action": "save", "subject": "【要補正】{手続名}", "body": RETURNED_BODY},
        follow=True,
    )
    assert "メールの文面を保存しました" in response.content.decode()
    row = EmailText.objects.get()
    assert (row.organization, row.kind, row.subject, row.updated_by) == (
        procedure.organization,
        "returned",
        "【要補正】{手続名}",
        editor,
    )
    assert AuditLog.objects.filter(action="procedure.email_text", actor=editor).exists()


def test_a_resident_who_applied_in_japanese_receives_the_procedures_own_text(colleague, procedure):
    notify.save_email_text(
        procedure=procedure, kind="returned", subject="【要補正】{手続名}", body=RETURNED_BODY, actor=None
    )
    submission = make_submission(procedure).submission
    services.transition(
        submission=submission,
        to_status=Status.RETURNED,
        actor=colleague,
        reason="{受付番号} の欄に {{誤り}} があります",  # a resident-facing value with braces stays as written
    )
    mail = OutgoingEmail.objects.get(kind="status_returned")
    assert mail.subject == "【要補正】シニア向けスマートフォン教室"
    assert f"シニア向けスマートフォン教室（{submission.display_receipt_number}）を返却しました。" in mail.body
    assert "理由：{受付番号} の欄に {{誤り}} があります" in mail.body
    assert "期限：なし" in mail.body and mail.body.startswith("鳥取市です。")


def test_a_resident_who_applied_in_english_receives_the_default_english_text(colleague, procedure):
    notify.save_email_text(
        procedure=procedure, kind="completed", subject="【完了】{手続名}", body="独自の文面です。", actor=None
    )
    submission = make_submission(procedure).submission
    submission.language = "en"
    submission.save(update_fields=["language"])
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    assert "独自の文面です。" not in OutgoingEmail.objects.get(kind="status_completed").body


@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_the_receipt_in_the_procedures_own_words_with_the_inquiry_code(procedure):
    notify.save_email_text(
        procedure=procedure,
        kind="receipt",
        subject="お申込みありがとうございます（{受付番号}）",
        body="受付番号 {受付番号}\n問い合わせ番号 {問い合わせ番号}\n到達 {到達日時}\n",
        actor=None,
    )
    result = make_submission(procedure)
    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0.1, verbosity=0)
    from django.core import mail

    sent = mail.outbox[-1]
    assert sent.subject == f"お申込みありがとうございます（{result.submission.display_receipt_number}）"
    assert f"問い合わせ番号 {format_inquiry_code(result.inquiry_code)}" in sent.body
    assert "到達 20" in sent.body


@pytest.mark.parametrize(
    ("subject", "body", "error"),
    [
        ("{手続名}", "{氏名}様", "本文 1行目：「{氏名}」は使えない差し込み項目です。"),
        ("{手続名}", "一行目\n{受付番号", "本文 2行目：「{」が閉じられていません。"),
        ("{手続名}", "受付番号}", "本文 1行目：「}」に対応する「{」がありません。"),
        ("{問い合わせ番号}", "本文", "件名 1行目：「{問い合わせ番号}」は使えない差し込み項目です。"),
        ("", "本文", "件名を入力してください。"),
        ("件名", "本文\x07", "本文：使えない制御文字が含まれています。"),
    ],
)
def test_a_broken_text_is_refused_by_name_and_the_typed_text_is_kept(
    client, editor, procedure, subject, body, error
):
    client.force_login(editor)
    for action in ("save", "preview"):
        response = client.post(
            edit_url(procedure, "returned"), {"action": action, "subject": subject, "body": body}
        )
        page = response.content.decode()
        assert response.status_code == 400 and error in page
        assert body.replace("\x07", "")[:2] in page
    assert not EmailText.objects.exists()


def test_the_preview_fills_sample_values_and_never_runs_a_template(client, editor, procedure):
    client.force_login(editor)
    body = "{手続名}\n{{ settings.SECRET_KEY }} {{% debug %}}\n{理由}\n{補正期限}"
    page = client.post(
        edit_url(procedure, "returned"),
        {"action": "preview", "subject": "【要補正】{受付番号}", "body": body},
    ).content.decode()
    assert 'data-testid="preview"' in page and "【要補正】4821-0395-76" in page
    assert "{ settings.SECRET_KEY } {% debug %}" in page  # a brace written twice is a brace; nothing runs
    assert "添付された書類の写しが読み取れませんでした" in page
    assert not EmailText.objects.exists()  # a preview stores nothing


def test_going_back_to_the_default_text(client, editor, procedure):
    notify.save_email_text(
        procedure=procedure, kind="message", subject="{手続名}", body="{本文}", actor=editor
    )
    client.force_login(editor)
    client.post(edit_url(procedure, "message"), {"action": "reset"})
    assert not EmailText.objects.exists()


def test_only_the_procedures_editors_may_change_its_texts(client, colleague, outsider, procedure):
    client.force_login(colleague)  # a processor: processes submissions, does not build the procedure
    assert client.get(edit_url(procedure, "returned")).status_code == 403
    client.force_login(outsider)
    assert client.get(edit_url(procedure, "returned")).status_code == 404
    assert client.get(reverse("staff:email_texts", kwargs={"procedure_id": procedure.pk})).status_code == 404
    assert (
        client.post(
            edit_url(procedure, "returned"), {"action": "save", "subject": "x", "body": "y"}
        ).status_code
        == 404
    )
    assert not EmailText.objects.exists()


def test_an_unknown_kind_is_404(client, editor, procedure):
    client.force_login(editor)
    assert client.get(edit_url(procedure, "invoice")).status_code == 404


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}受付番号手続名氏 \nab", max_size=30))
def test_any_text_is_either_refused_with_a_message_or_filled_without_a_brace_left_unread(text):
    allowed = texts.KINDS["returned"][1]
    try:
        parts = texts.parse(text, allowed, field="本文")
    except texts.TextError as exc:
        assert str(exc).startswith("本文 ")
        return
    filled = texts.fill(text, allowed, dict.fromkeys(allowed, "<値>"))
    literal = "".join(p for p in parts if isinstance(p, str))
    assert filled.count("<値>") == sum(isinstance(p, texts.Placeholder) for p in parts)
    assert len(filled) == len(literal) + 3 * filled.count("<値>")


@hypothesis_settings(max_examples=100, deadline=None)
@given(st.text(max_size=40).filter(lambda t: "{" not in t and "}" not in t))
def test_a_value_is_inserted_as_plain_text(value):
    assert texts.fill("[{理由}]", ("理由",), {"理由": value}) == f"[{value}]"


def test_a_survey_offers_no_return_or_rejection_text(client, editor, tottori):
    from tests.conftest import make_procedure

    survey = make_procedure(tottori, title="利用者アンケート", kind="survey")
    client.force_login(editor)
    listing = client.get(reverse("staff:email_texts", kwargs={"procedure_id": survey.pk})).content.decode()
    assert "受付のお知らせ" in listing and "差戻し" not in listing and "却下" not in listing
    assert client.get(edit_url(survey, "returned")).status_code == 404
