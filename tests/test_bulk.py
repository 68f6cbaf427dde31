"""Bulk actions on the inbox's selection: a clerk of 鳥取市 ticks cases and changes their status with one
reason (each case its own history and audit entry; a case that cannot move is named by 受付番号 and the
others still move), exports them as CSV or downloads their attachments as a ZIP. An outsider, a viewer
and a forged selection change nothing."""

import csv
import io
import secrets
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions import services
from madoguchi.submissions.models import StagedUpload, Status, StatusChange, Submission
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure, make_submission

pytestmark = pytest.mark.django_db


def bulk_url(procedure) -> str:
    return reverse("staff:inbox_bulk", kwargs={"procedure_id": procedure.pk})


def inbox_url(procedure) -> str:
    return reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})


@pytest.fixture
def three(procedure):
    return [make_submission(procedure).submission for _ in range(3)]


def statuses(submissions) -> list[str]:
    return [Submission.objects.get(pk=s.pk).status for s in submissions]


def test_the_inbox_offers_a_checkbox_per_row_and_the_bulk_actions(client, colleague, three):
    client.force_login(colleague)
    page = client.get(inbox_url(three[0].procedure)).content.decode()
    assert page.count('name="ids"') == 3
    assert "状態を変更する（確認へ進む）" in page and "CSVに出力する" in page


def test_a_clerk_starts_three_cases_at_once_after_seeing_them_listed(client, colleague, three):
    procedure = three[0].procedure
    client.force_login(colleague)
    selection = {"ids": [s.pk for s in three], "to": "in_review", "back": "?status=received"}
    confirm = client.post(bulk_url(procedure), {**selection, "action": "status"})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "選んだ3件の状態を変更する" in page
    assert all(s.display_receipt_number in page for s in three) and "髙橋" in page
    assert statuses(three) == ["received"] * 3  # nothing moves before the confirmation
    done = client.post(bulk_url(procedure), {**selection, "action": "confirm"})
    assert done.status_code == 302 and done["Location"] == inbox_url(procedure) + "?status=received"
    assert statuses(three) == ["in_review"] * 3
    assert StatusChange.objects.filter(to_status="in_review").count() == 3
    logs = AuditLog.objects.filter(action="submission.transition")
    assert sorted(int(log.object_id) for log in logs) == sorted(s.pk for s in three)
    assert all(log.actor == colleague for log in logs)
    page = client.get(done["Location"]).content.decode()
    assert "3件を「処理中」に変更しました" in page


def test_a_case_that_cannot_move_is_named_and_the_others_still_move(client, colleague, three):
    services.transition(submission=three[1], to_status=Status.COMPLETED, actor=colleague)
    client.force_login(colleague)
    response = client.post(
        bulk_url(three[0].procedure),
        {"ids": [s.pk for s in three], "to": "in_review", "action": "confirm"},
        follow=True,
    )
    page = response.content.decode()
    assert statuses(three) == ["in_review", "completed", "in_review"]
    assert "2件を「処理中」に変更しました" in page
    assert "次の1件は変更できませんでした" in page and three[1].display_receipt_number in page
    assert "から「処理中」には変更できません" in page  # in the words of the procedure's kind


def test_returning_without_a_reason_is_explained_with_the_selection_kept_and_nothing_moved(
    client, colleague, three
):
    client.force_login(colleague)
    response = client.post(
        bulk_url(three[0].procedure),
        {
            "ids": [s.pk for s in three],
            "to": "returned",
            "reason": "  ",
            "deadline": "2099/1/31",
            "action": "confirm",
        },
    )
    page = response.content.decode()
    assert (
        response.status_code == 400
        and "理由を入力してください" in page
        and "まだどの申請も変更していません" in page
    )
    assert page.count('name="ids"') == 3 and 'value="2099/1/31"' in page
    assert statuses(three) == ["received"] * 3


def test_returning_with_one_reason_tells_each_resident(client, colleague, three):
    client.force_login(colleague)
    client.post(
        bulk_url(three[0].procedure),
        {"ids": [s.pk for s in three], "to": "returned", "reason": "写真が不鮮明です。", "action": "confirm"},
    )
    assert statuses(three) == ["returned"] * 3
    assert set(StatusChange.objects.filter(to_status="returned").values_list("reason", flat=True)) == {
        "写真が不鮮明です。"
    }
    assert OutgoingEmail.objects.filter(submission__in=three, kind="status_returned").count() == 3


def test_a_date_that_cannot_be_read_is_explained(client, colleague, three):
    client.force_login(colleague)
    response = client.post(
        bulk_url(three[0].procedure),
        {
            "ids": [three[0].pk],
            "to": "returned",
            "reason": "不足",
            "deadline": "あさって",
            "action": "confirm",
        },
    )
    assert response.status_code == 400 and statuses(three[:1]) == ["received"]


def test_nothing_ticked_is_explained(client, colleague, procedure):
    client.force_login(colleague)
    response = client.post(bulk_url(procedure), {"to": "in_review", "action": "status"}, follow=True)
    assert "申請を1件以上選んでから操作してください" in response.content.decode()


# A forged selection, an outsider, a viewer ------------------------------------------------------------


def test_a_selection_naming_another_organizations_case_is_404_and_nothing_moves(
    client, colleague, three, yonago
):
    theirs = make_submission(make_procedure(yonago, title="米子市の手続")).submission
    client.force_login(colleague)
    for action in ("status", "confirm", "csv"):
        response = client.post(
            bulk_url(three[0].procedure),
            {"ids": [three[0].pk, theirs.pk], "to": "in_review", "action": action},
        )
        assert response.status_code == 404
    assert statuses([*three, theirs]) == ["received"] * 4
    assert not AuditLog.objects.filter(action__in=["submission.transition", "submission.export"]).exists()


@pytest.mark.parametrize("forged", ["abc", "-1", "１", "99999999999999999999"])
def test_an_id_that_is_not_an_id_is_404(client, colleague, three, forged):
    client.force_login(colleague)
    response = client.post(
        bulk_url(three[0].procedure), {"ids": [three[0].pk, forged], "to": "in_review", "action": "confirm"}
    )
    assert response.status_code == 404 and statuses(three[:1]) == ["received"]


def test_another_procedures_case_of_the_same_organization_is_404_too(client, colleague, three, tottori):
    other = make_submission(make_procedure(tottori, title="別の手続")).submission
    client.force_login(colleague)
    response = client.post(
        bulk_url(three[0].procedure), {"ids": [other.pk], "to": "in_review", "action": "confirm"}
    )
    assert response.status_code == 404 and statuses([other]) == ["received"]


def test_an_outsider_gets_404_and_a_viewer_403(client, outsider, viewer, three):
    post = {"ids": [s.pk for s in three], "to": "in_review", "action": "confirm"}
    client.force_login(outsider)
    assert client.post(bulk_url(three[0].procedure), post).status_code == 404
    client.force_login(viewer)
    assert client.post(bulk_url(three[0].procedure), post).status_code == 403
    assert statuses(three) == ["received"] * 3


def test_the_service_refuses_a_forged_selection_before_anything_moves(colleague, three, yonago):
    theirs = make_submission(make_procedure(yonago, title="米子市の手続")).submission
    with pytest.raises(services.OtherOrganization):
        services.bulk_transition(
            procedure=three[0].procedure,
            submission_ids=[three[0].pk, theirs.pk],
            to_status=Status.IN_REVIEW,
            actor=colleague,
        )
    assert statuses([*three, theirs]) == ["received"] * 4


# Export and attachments of the selection --------------------------------------------------------------


def test_export_of_the_selection_has_only_the_ticked_cases(client, colleague, three):
    client.force_login(colleague)
    response = client.post(bulk_url(three[0].procedure), {"ids": [three[0].pk, three[2].pk], "action": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    shown = {row[0].strip('="') for row in rows[1:]}  # written as ="…" for Excel
    assert shown == {three[0].display_receipt_number, three[2].display_receipt_number}
    log = AuditLog.objects.get(action="submission.export")
    assert log.actor == colleague and log.detail["selected"] == 2


def test_the_selection_in_shift_jis_is_written_and_reported_as_the_export_page_does(client, colleague, three):
    client.force_login(colleague)
    page = client.get(reverse("staff:inbox", kwargs={"procedure_id": three[0].procedure_id})).content.decode()
    assert 'name="encoding"' in page and 'value="cp932"' in page
    response = client.post(
        bulk_url(three[0].procedure), {"ids": [three[1].pk], "action": "csv", "encoding": "cp932"}
    )
    data = b"".join(response.streaming_content)
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("cp932"))))
    assert {row[0].strip('="') for row in rows[1:]} == {three[1].display_receipt_number}
    log = AuditLog.objects.get(action="submission.export")
    # The same entry as an export from the export page: encoding, purpose, rows written, characters replaced.
    assert (
        log.detail["encoding"] == "cp932" and log.detail["purpose"] == "excel" and log.detail["selected"] == 1
    )
    assert log.detail["rows"] == 1 and "replaced" in log.detail


def _submit_with_file(procedure, name: str, data: bytes) -> Submission:
    key = secrets.token_hex(16)
    stored = default_storage.save(f"uploads/{procedure.organization_id}/{key}", ContentFile(data))
    staged = StagedUpload.objects.create(
        organization=procedure.organization,
        procedure=procedure,
        session_key_hash="0" * 64,
        storage_key=key,
        file=stored,
        original_name=name,
        content_type="application/pdf",
        size=len(data),
    )
    return services.submit(
        procedure=procedure,
        version=procedure.current_version,
        answers={"name": {"family": "髙橋", "given": "﨑子"}},
        staged_files={"doc": staged},
        token=secrets.token_hex(8),
    ).submission


def test_the_attachments_of_the_selection_come_as_one_zip(client, colleague, tottori):
    from madoguchi.submissions import staff_views

    if staff_views._attachments_zip() is None:
        pytest.fail("madoguchi.submissions.paper.attachments_zip is not there")
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="住民票の写しの郵送請求", kind="application")
    first = _submit_with_file(procedure, "住民票の写し.pdf", b"%PDF-1.4 first")
    second = _submit_with_file(procedure, "委任状.pdf", b"%PDF-1.4 second")
    _submit_with_file(procedure, "ほかの人.pdf", b"%PDF-1.4 other")
    client.force_login(colleague)
    page = client.get(inbox_url(procedure)).content.decode()
    assert "添付ファイルをZIPでダウンロード" in page
    response = client.post(bulk_url(procedure), {"ids": [first.pk, second.pk], "action": "attachments"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert any("住民票の写し.pdf" in n for n in names) and any("委任状.pdf" in n for n in names)
    assert not any("ほかの人" in n for n in names)
    assert AuditLog.objects.filter(action="submission.attachment_download", detail__selected=2).exists()
