"""The back office as staff use it: inbox, detail, status machine, notes, attachments, exports, audit."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions import services
from madoguchi.submissions.models import Status, Submission
from tests.conftest import SIGNUP_ANSWERS, make_submission

pytestmark = pytest.mark.django_db


def test_login_page_is_japanese_and_rejects_wrong_password(client, colleague):
    response = client.post(reverse("staff:login"), {"username": "colleague", "password": "wrong"})
    assert "ユーザー名またはパスワードが正しくありません" in response.content.decode()
    assert client.get(reverse("staff:home")).status_code == 302


def test_home_lists_my_procedures_with_counts_by_status(client, colleague, procedure):
    make_submission(procedure)
    second = make_submission(procedure).submission
    services.transition(submission=second, to_status=Status.IN_REVIEW, actor=colleague)
    client.force_login(colleague)
    page = client.get(reverse("staff:home")).content.decode()
    assert "シニア向けスマートフォン教室" in page
    assert '<td class="num">1</td><td class="num">1</td>' in page  # 処理待ち 1, 処理中 1


def test_status_counts_follow_every_move_without_counting_rows(client, colleague, procedure):
    from django.db.models import Count

    from madoguchi.stats.services import status_counts

    made = [make_submission(procedure).submission for _ in range(5)]
    services.transition(submission=made[0], to_status=Status.IN_REVIEW, actor=colleague)
    services.transition(submission=made[0], to_status=Status.RETURNED, actor=colleague, reason="写しが不鮮明")
    services.transition(submission=made[1], to_status=Status.IN_REVIEW, actor=colleague)
    services.transition(submission=made[1], to_status=Status.COMPLETED, actor=colleague)
    services.transition(submission=made[2], to_status=Status.REJECTED, actor=colleague, reason="対象外です")
    services.withdraw(submission=made[3], reason="予定が合わなくなりました")
    real = dict(Submission.objects.filter(procedure=procedure).values_list("status").annotate(n=Count("id")))
    assert real == {"returned": 1, "completed": 1, "rejected": 1, "withdrawn": 1, "received": 1}
    assert {k: v for k, v in status_counts([procedure.pk])[procedure.pk].items() if v} == real
    client.force_login(colleague)
    page = client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert "すべて 5件" in page


def test_inbox_filters_by_status_and_receipt_number(client, colleague, procedure):
    first = make_submission(procedure).submission
    second = make_submission(procedure).submission
    services.transition(submission=second, to_status=Status.IN_REVIEW, actor=colleague)
    client.force_login(colleague)
    url = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
    page = client.get(url).content.decode()
    assert first.display_receipt_number in page and second.display_receipt_number in page
    page = client.get(url, {"status": "in_review"}).content.decode()
    assert first.display_receipt_number not in page and second.display_receipt_number in page
    page = client.get(url, {"receipt": first.receipt_number}).content.decode()
    assert first.display_receipt_number in page and second.display_receipt_number not in page
    page = client.get(url, {"receipt": "12"}).content.decode()
    assert "受付番号：10桁の数字で入力してください" in page
    mistyped = first.receipt_number[:-1] + str((int(first.receipt_number[-1]) + 1) % 10)
    page = client.get(url, {"receipt": mistyped}).content.decode()
    assert "確認用の数字が合いません" in page
    page = client.get(url, {"from": "あした"}).content.decode()
    assert "到達日（から）" in page


def test_inbox_date_range_the_wrong_way_round_is_explained(client, colleague, submission):
    client.force_login(colleague)
    url = reverse("staff:inbox", kwargs={"procedure_id": submission.procedure_id})
    page = client.get(url, {"from": "2026/12/1", "to": "2026/11/1"}).content.decode()
    assert "「から」の日付が「まで」の日付より後になっています" in page


def test_inbox_date_that_cannot_be_read_shows_nothing_rather_than_everything(client, colleague, submission):
    client.force_login(colleague)
    url = reverse("staff:inbox", kwargs={"procedure_id": submission.procedure_id})
    page = client.get(url, {"from": "2026/13/1"}).content.decode()
    assert "到達日（から）" in page and submission.display_receipt_number not in page


def test_inbox_pages_with_a_cursor(client, colleague, procedure, monkeypatch):
    from madoguchi.submissions import staff_views

    monkeypatch.setattr(staff_views, "PAGE_SIZE", 2)
    made = [make_submission(procedure).submission for _ in range(3)]
    client.force_login(colleague)
    url = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
    page = client.get(url).content.decode()
    assert made[2].display_receipt_number in page and made[0].display_receipt_number not in page
    assert "次の50件" in page
    page = client.get(url, {"after": made[1].pk}).content.decode()
    assert made[0].display_receipt_number in page and made[2].display_receipt_number not in page


def test_inbox_pages_walk_every_submission_once_in_arrival_order(client, colleague, procedure, monkeypatch):
    import re
    from datetime import timedelta

    from django.utils import timezone

    from madoguchi.submissions import staff_views

    monkeypatch.setattr(staff_views, "PAGE_SIZE", 2)
    made = [make_submission(procedure).submission for _ in range(7)]
    # Arrival times out of id order, three of them in the same microsecond, one a year ago.
    now = timezone.now().replace(microsecond=0)
    times = [
        now - timedelta(days=365),
        now,
        now,
        now,
        now - timedelta(hours=1),
        now + timedelta(seconds=1),
        now,
    ]
    for submission, arrived in zip(made, times, strict=True):
        Submission.objects.filter(pk=submission.pk).update(submitted_at=arrived)
    expected = [
        s.display_receipt_number
        for s in sorted(made, key=lambda s: (times[made.index(s)], s.pk), reverse=True)
    ]
    client.force_login(colleague)
    url = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})

    def walk(params):
        seen, query = [], dict(params)
        while True:
            page = client.get(url, query).content.decode()
            seen += re.findall(r">(\d{4}-\d{4}-\d{2})</a>", page)
            link = re.search(r'href="\?([^"]*after=(\d+)[^"]*)"', page)
            if not link:
                return seen
            query = {**params, "after": link.group(2)}

    assert walk({}) == expected
    year_ago = (now - timedelta(days=365)).astimezone(JST).date().isoformat()
    assert walk({"from": year_ago, "to": year_ago}) == [made[0].display_receipt_number]


@pytest.mark.parametrize("after", ["²", "١٢", "99999999999999999999", "-1", "abc", "0"])
def test_inbox_ignores_a_cursor_that_is_not_an_id(client, colleague, submission, after):
    client.force_login(colleague)
    response = client.get(
        reverse("staff:inbox", kwargs={"procedure_id": submission.procedure_id}), {"after": after}
    )
    assert response.status_code == 200 and submission.display_receipt_number in response.content.decode()


def test_inbox_query_count_does_not_grow_with_rows(
    client, colleague, procedure, django_assert_max_num_queries
):
    for _ in range(5):
        make_submission(procedure)
    client.force_login(colleague)
    with django_assert_max_num_queries(12):
        client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk}))


def test_detail_shows_answers_and_is_audited(client, colleague, submission):
    client.force_login(colleague)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert "髙橋\u3000﨑子" in page and "0857-20-3111" in page
    log = AuditLog.objects.get(action="submission.view")
    assert log.actor == colleague and log.object_id == str(submission.pk)


def test_full_status_machine_with_reasons(client, colleague, submission):
    client.force_login(colleague)
    url = reverse("staff:transition", kwargs={"submission_id": submission.pk})
    client.post(url, {"to": "in_review"})
    submission.refresh_from_db()
    assert submission.status == Status.IN_REVIEW
    response = client.post(url, {"to": "returned", "reason": ""}, follow=True)
    assert "理由を入力してください" in response.content.decode()
    submission.refresh_from_db()
    assert submission.status == Status.IN_REVIEW
    client.post(url, {"to": "returned", "reason": "電話番号をご確認ください", "deadline": "令和8年12月25日"})
    submission.refresh_from_db()
    assert submission.status == Status.RETURNED
    assert str(submission.correction_deadline) == "2026-12-25"
    # Before the 補正期限 the resident may still correct it: no decision yet (a sign-up's 完了 is 受付済み).
    response = client.post(url, {"to": "completed", "reason": "期限切れ", "confirmed": "1"}, follow=True)
    assert "補正期限（2026年12月25日）を過ぎるまでは「受付済み」にできません" in response.content.decode()
    history = list(submission.history.values_list("from_status", "to_status", "reason", "actor__username"))
    assert history == [
        ("", "received", "", None),
        ("received", "in_review", "", "colleague"),
        ("in_review", "returned", "電話番号をご確認ください", "colleague"),
    ]
    assert OutgoingEmail.objects.filter(kind="status_returned").exists()


def test_a_refused_change_keeps_the_choice_reason_and_deadline_beside_the_form(client, colleague, submission):
    client.force_login(colleague)
    url = reverse("staff:transition", kwargs={"submission_id": submission.pk})
    page = client.post(
        url, {"to": Status.RETURNED, "reason": "", "deadline": "令和8年12月25日"}, follow=True
    ).content.decode()
    assert 'role="alert" id="transition-error">' in page and "理由を入力してください" in page
    assert 'id="to-returned" name="to" value="returned" checked' in page  # not back to 処理を開始する
    assert 'value="令和8年12月25日"' in page
    submission.refresh_from_db()
    assert submission.status == Status.RECEIVED


def test_a_correction_deadline_in_the_past_is_refused(client, colleague, submission):
    client.force_login(colleague)
    url = reverse("staff:transition", kwargs={"submission_id": submission.pk})
    page = client.post(
        url, {"to": Status.RETURNED, "reason": "写しが不鮮明です", "deadline": "2020/1/1"}, follow=True
    ).content.decode()
    assert "補正期限には今日以降の日付を入力してください" in page and ">写しが不鮮明です</textarea>" in page
    submission.refresh_from_db()
    assert submission.status == Status.RECEIVED and submission.correction_deadline is None


def test_complete_and_reject(colleague, procedure):
    done = make_submission(procedure).submission
    services.transition(submission=done, to_status=Status.COMPLETED, actor=colleague)
    rejected = make_submission(procedure).submission
    with pytest.raises(services.SubmissionError):
        services.transition(submission=rejected, to_status=Status.REJECTED, actor=colleague)
    services.transition(submission=rejected, to_status=Status.REJECTED, actor=colleague, reason="対象外です")
    assert Submission.objects.get(pk=done.pk).status == Status.COMPLETED
    assert Submission.objects.get(pk=rejected.pk).status == Status.REJECTED
    with pytest.raises(services.SubmissionError):
        services.withdraw(submission=rejected, reason="やめます")


def test_viewer_sees_answers_but_cannot_change_status(client, viewer, submission):
    client.force_login(viewer)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert "髙橋" in page and "状態を変更する" not in page
    response = client.post(
        reverse("staff:transition", kwargs={"submission_id": submission.pk}), {"to": "in_review"}
    )
    assert response.status_code == 403
    assert (
        client.get(reverse("staff:export_csv", kwargs={"procedure_id": submission.procedure_id})).status_code
        == 403
    )


def test_editor_cannot_read_answers(client, editor, submission):
    client.force_login(editor)
    response = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk}))
    assert response.status_code == 403


def test_internal_notes_are_not_shown_to_the_resident(client, colleague, submission):
    client.force_login(colleague)
    client.post(
        reverse("staff:add_note", kwargs={"submission_id": submission.pk}), {"body": "本人確認済み（内部）"}
    )
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert "本人確認済み（内部）" in page
    resident = client.__class__()
    session = resident.session
    session["status_submission"] = submission.pk
    session.save()
    page = resident.get(reverse("public:status_view")).content.decode()
    assert "本人確認済み" not in page


def test_assign_only_to_processors_of_the_same_organization(client, colleague, outsider, submission):
    client.force_login(colleague)
    url = reverse("staff:assign", kwargs={"submission_id": submission.pk})
    response = client.post(url, {"assignee": "outsider"}, follow=True)
    assert "この手続を扱える処理担当者だけです" in response.content.decode()
    client.post(url, {"assignee": "colleague"})
    submission.refresh_from_db()
    assert submission.assignee == colleague


def read_stream(response) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_export_utf8_with_bom_keeps_names_and_leading_zeros(client, colleague, submission):
    client.force_login(colleague)
    response = client.get(reverse("staff:export_csv", kwargs={"procedure_id": submission.procedure_id}))
    assert response["Content-Disposition"].startswith("attachment;")
    data = read_stream(response)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["受付番号", "到達日時", "状態", "フォームの版"]
    assert "氏名（姓）" in rows[0]
    assert rows[1][rows[0].index("氏名（姓）")] == "髙橋"
    assert rows[1][rows[0].index("氏名（名）")] == "﨑子"
    # Written as ="…" so that Excel keeps it as typed instead of reading a date or a number.
    assert rows[1][rows[0].index("電話番号")] == '="0857-20-3111"'
    assert AuditLog.objects.filter(action="submission.export", actor=colleague).count() == 1


def test_csv_export_cp932_counts_replaced_characters(client, colleague, procedure):
    make_submission(procedure, {**SIGNUP_ANSWERS, "name": {"family": "𠮷田", "given": "﨑子〜"}})
    client.force_login(colleague)
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    data = read_stream(client.get(url, {"encoding": "cp932"}))
    text = data.decode("cp932")
    assert "〓田" in text and "﨑子～" in text
    log = AuditLog.objects.get(action="submission.export")
    assert log.detail["replaced"] == 1
    page = client.get(reverse("staff:export", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert "置き換えた文字 1文字" in page


def test_xlsx_export_has_text_cells(client, colleague, procedure):
    make_submission(procedure, {**SIGNUP_ANSWERS, "phone": "0120123456"})
    client.force_login(colleague)
    response = client.get(reverse("staff:export_xlsx", kwargs={"procedure_id": procedure.pk}))
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    header = [c.value for c in sheet[1]]
    row = [c.value for c in sheet[2]]
    assert row[header.index("電話番号")] == "0120-123-456"  # text (leading 0 kept), in the one written form
    assert row[header.index("氏名（姓）")] == "髙橋"


def test_audit_log_is_visible_to_the_organizations_admin_only(client, owner, colleague, submission):
    client.force_login(colleague)
    client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk}))
    url = reverse("staff:audit", kwargs={"code": "312011"})
    assert client.get(url).status_code == 403
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert "申請内容の閲覧" in page and "colleague" in page


def test_council_sees_counts_per_member_but_no_answers(client, secretariat, council, procedure):
    make_submission(procedure)
    client.force_login(secretariat)
    page = client.get(reverse("staff:council", kwargs={"council_id": council.pk})).content.decode()
    assert "鳥取市" in page and "米子市" in page
    assert '<td class="num">1</td>' in page
    assert "髙橋" not in page
    submission = Submission.objects.get()
    assert client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).status_code == 404
    home = client.get(reverse("staff:home")).content.decode()
    assert "加入団体と件数" in home and "所属する団体がありません" not in home


def test_the_status_form_never_starts_on_a_send_back_or_a_rejection(client, colleague, submission):
    client.force_login(colleague)
    page_url = reverse("staff:submission", kwargs={"submission_id": submission.pk})
    page = client.get(page_url).content.decode()
    assert 'value="in_review" checked' in page  # 処理待ち: 処理を開始する
    client.post(
        reverse("staff:transition", kwargs={"submission_id": submission.pk}), {"to": Status.IN_REVIEW}
    )
    page = client.get(page_url).content.decode()
    assert (
        " checked" not in page.split('name="to"', 1)[1].split("</fieldset>")[0]
    )  # 処理中: no decision preset
    refused = client.post(
        reverse("staff:transition", kwargs={"submission_id": submission.pk}),
        {"reason": "書いた理由"},
        follow=True,
    ).content.decode()
    assert "変更後の状態を選んでください。" in refused and "書いた理由" in refused  # nothing typed is lost
