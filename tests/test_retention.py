"""保存期間と廃棄 (#11 point 4): the period counts from 1 April after the case is closed; the monthly job lists
what falls due; an admin approves; answers and files are deleted for good, the disposal is certified in the
audit log, and counts stay."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from madoguchi.notifications.models import Message, OutgoingEmail
from madoguchi.notifications.services import send_message
from madoguchi.stats.models import DailyCount, StatusCount
from madoguchi.submissions import retention, services
from madoguchi.submissions.models import Attachment, DisposalList, Note, StatusChange, Submission
from tests.conftest import make_submission

pytestmark = pytest.mark.django_db


def _jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


@pytest.mark.parametrize(
    ("closed", "years", "due"),
    [
        (_jst(2025, 6, 10, 12), 5, date(2031, 4, 1)),
        (_jst(2026, 3, 31, 23, 30), 5, date(2031, 4, 1)),  # still 年度 2025 in JST
        (_jst(2026, 4, 1, 0, 10), 5, date(2032, 4, 1)),  # 年度 2026 (15:10 UTC the day before)
        (_jst(2026, 1, 5, 9), 1, date(2027, 4, 1)),
        (_jst(2026, 1, 5, 9), 0, None),  # 永年
    ],
)
def test_the_period_counts_from_the_first_of_april_after_the_case_closed(closed, years, due):
    assert retention.due_date(closed.astimezone(UTC), years) == due


@given(
    closed=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    years=st.sampled_from([1, 3, 5, 10]),
)
def test_a_due_date_is_always_a_first_of_april_at_least_the_period_after_closing(closed, years):
    due = retention.due_date(closed, years)
    closed_jst = closed.astimezone(JST).date()
    assert (due.month, due.day) == (4, 1)
    fiscal_year = closed_jst.year if closed_jst.month >= 4 else closed_jst.year - 1
    assert due.year == fiscal_year + 1 + years  # counting starts the 1 April after the closing 年度
    assert (due - closed_jst).days > 365 * years


def _closed_case(procedure, colleague, *, closed_at: datetime, with_everything=False) -> Submission:
    submission = make_submission(procedure).submission
    services.transition(submission=submission, to_status="completed", actor=colleague)
    StatusChange.objects.filter(submission=submission).update(created_at=closed_at)
    if with_everything:
        attachment = Attachment(
            organization=submission.organization,
            submission=submission,
            field_key="doc",
            storage_key=f"r{submission.pk:031d}",
            original_name="住民票.pdf",
            content_type="application/pdf",
            size=4,
        )
        attachment.file.save(attachment.storage_key, ContentFile(b"%PDF"), save=False)
        attachment.save()
        services.add_note(submission=submission, author=colleague, body="電話で本人確認済み")
        send_message(submission=submission, author=colleague, body="受付しました。")
    return Submission.objects.get(pk=submission.pk)


@pytest.fixture
def long_ago():
    return _jst(2019, 6, 1, 10).astimezone(UTC)  # 年度 2019: a 5-year period ends on 2025-04-01


def test_the_monthly_job_lists_only_closed_cases_past_their_period_once(procedure, colleague, long_ago):
    old = _closed_case(procedure, colleague, closed_at=long_ago)
    recent = _closed_case(procedure, colleague, closed_at=datetime.now(UTC) - timedelta(days=30))
    still_open = make_submission(procedure).submission
    call_command("list_disposals")
    listed = DisposalList.objects.get()
    assert listed.submission_ids == [old.pk] and listed.count == 1
    assert recent.pk not in listed.submission_ids and still_open.pk not in listed.submission_ids
    call_command("list_disposals")  # nothing new: no second list
    assert DisposalList.objects.count() == 1
    assert AuditLog.objects.filter(action="retention.list", organization=procedure.organization).count() == 1


def test_a_permanent_procedures_cases_are_never_listed(procedure, colleague, long_ago):
    procedure.retention_years = 0
    procedure.save()
    _closed_case(procedure, colleague, closed_at=long_ago)
    assert retention.list_disposals() == []


def test_an_admin_approves_and_everything_personal_is_gone_but_the_counts_stay(
    client, procedure, colleague, owner, long_ago, django_capture_on_commit_callbacks
):
    case = _closed_case(procedure, colleague, closed_at=long_ago, with_everything=True)
    stored = Attachment.objects.get(submission=case).file
    storage, name = stored.storage, stored.name
    assert storage.exists(name)
    counts_before = (
        list(DailyCount.objects.values_list("day", "count")),
        list(StatusCount.objects.values_list("status", "count")),
    )
    [listed] = retention.list_disposals()
    client.force_login(owner)
    page = client.get(
        reverse("staff:disposal_list", kwargs={"code": procedure.organization.code, "list_id": listed.pk})
    )
    assert case.display_receipt_number in page.content.decode()
    url = reverse("staff:disposal_decide", kwargs={"code": procedure.organization.code, "list_id": listed.pk})
    with django_capture_on_commit_callbacks(execute=True):  # files leave storage once the deletion commits
        with_confirm = client.post(url, {"action": "approve", "confirm": "1"}, follow=True)
    assert "1件の申請の内容を廃棄しました" in with_confirm.content.decode()

    case.refresh_from_db()
    assert case.disposed_at is not None
    assert case.answers_data == {} and case.applicant_name == "" and case.applicant_email == ""
    assert case.search_text == ""
    assert case.receipt_number and case.status == "completed"  # the row and its number stay
    assert not Attachment.objects.filter(submission=case).exists()
    assert not storage.exists(name)  # the file itself, not just its row
    assert not Note.objects.filter(submission=case).exists()
    assert not Message.objects.filter(submission=case).exists()
    assert not OutgoingEmail.objects.filter(submission=case).exists()
    assert not StatusChange.objects.filter(submission=case).exclude(reason="").exists()
    assert counts_before == (
        list(DailyCount.objects.values_list("day", "count")),
        list(StatusCount.objects.values_list("status", "count")),
    )
    certificate = AuditLog.objects.get(action="retention.dispose")
    assert certificate.actor == owner and certificate.detail["count"] == 1
    assert certificate.detail["receipt_numbers"] == [case.display_receipt_number]
    audit_page = client.get(
        reverse("staff:audit", kwargs={"code": procedure.organization.code})
    ).content.decode()
    assert "廃棄を承認し、内容と添付ファイルを削除しました" in audit_page
    # Approving twice does nothing more.
    again = client.post(url, {"action": "approve", "confirm": "1"}, follow=True)
    assert "すでに承認または取消しされています" in again.content.decode()


def test_approval_needs_the_confirmation_and_deletes_nothing_without_it(
    client, procedure, colleague, owner, long_ago
):
    case = _closed_case(procedure, colleague, closed_at=long_ago)
    [listed] = retention.list_disposals()
    client.force_login(owner)
    url = reverse("staff:disposal_decide", kwargs={"code": procedure.organization.code, "list_id": listed.pk})
    response = client.post(url, {"action": "approve"})
    assert response.status_code == 400
    assert "元に戻せないことを確認しました" in response.content.decode()
    case.refresh_from_db()
    assert case.disposed_at is None and case.answers_data


def test_a_processor_cannot_approve_a_disposal(client, procedure, colleague, long_ago):
    case = _closed_case(procedure, colleague, closed_at=long_ago)
    [listed] = retention.list_disposals()
    with pytest.raises(retention.DisposalError):
        retention.approve_disposal(disposal_list=listed, actor=colleague)
    client.force_login(colleague)
    url = reverse("staff:disposal_decide", kwargs={"code": procedure.organization.code, "list_id": listed.pk})
    assert client.post(url, {"action": "approve", "confirm": "1"}).status_code == 403
    case.refresh_from_db()
    assert case.disposed_at is None


def test_a_case_reopened_after_listing_is_kept(procedure, colleague, owner, long_ago):
    case = _closed_case(procedure, colleague, closed_at=long_ago)
    [listed] = retention.list_disposals()
    services.reopen(submission=case, actor=owner, reason="異議申立てがあったため")
    done = retention.approve_disposal(disposal_list=listed, actor=owner)
    assert done.disposed_count == 0
    case.refresh_from_db()
    assert case.disposed_at is None and case.answers_data


def test_setting_a_list_aside_deletes_nothing_and_lists_it_again(procedure, colleague, owner, long_ago):
    case = _closed_case(procedure, colleague, closed_at=long_ago)
    [listed] = retention.list_disposals()
    retention.cancel_disposal(disposal_list=listed, actor=owner)
    case.refresh_from_db()
    assert case.disposed_at is None
    [again] = retention.list_disposals()
    assert again.submission_ids == [case.pk]
