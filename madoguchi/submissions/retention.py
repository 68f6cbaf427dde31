"""保存期間と廃棄: when a closed case's retention period ends, and its approved, irreversible disposal.

The rule (as in municipalities' 文書管理規程, e.g. 鳥取市文書管理規程): a document's retention period counts
from 1 April of the 年度 after the one in which the matter was closed (完結). A case closed on 2025-06-10 (JST,
年度 2025) with a 5-year period starts counting on 2026-04-01 and falls due on 2031-04-01. Procedure.
retention_years is the period (0 = 永年: never). A case is closed when it reached 完了/受理/受付済み, 却下/
不受理/お断り or 取下げ/キャンセル; its closing time is that status change's time.

The monthly job (`manage.py list_disposals`) lists, per organization, the cases due and not yet listed; an
admin of the organization approves the list (a non-admin is refused); approving deletes, for each case still
due (one reopened since is skipped): the answers, the applicant's name, kana, e-mail and search words, every
attachment (storage included), answer revisions, internal notes, messages, e-mails and the reasons written in
its history. The case row stays with its 受付番号, status and dates, so counts (DailyCount, StatusCount) and
indicators stay. One audit entry per list certifies who approved, when, how many and which 受付番号.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from madoguchi.accounts import access
from madoguchi.audit.services import record
from madoguchi.lib.timeutil import jst_date
from madoguchi.notifications.models import Message, OutgoingEmail
from madoguchi.organizations.models import Organization
from madoguchi.submissions.models import (
    AnswerRevision,
    Attachment,
    DisposalList,
    Note,
    Status,
    StatusChange,
    Submission,
)

CLOSED = frozenset({Status.COMPLETED, Status.REJECTED, Status.WITHDRAWN})
MAX_PER_LIST = 10_000  # one list stays one page and one transaction; the next month lists the rest


class DisposalError(ValueError):
    """A disposal refused; the message is Japanese and meant for the member of staff."""


def due_date(closed_at: datetime, retention_years: int) -> date | None:
    """The first day (JST) on which a case closed at `closed_at` (aware) may be disposed of, or None for
    永年 (retention_years 0). 1 April of the 年度 after the closing 年度, plus the period in years."""
    if not retention_years:
        return None
    closed = jst_date(closed_at)
    fiscal_year = closed.year if closed.month >= 4 else closed.year - 1
    return date(fiscal_year + 1 + retention_years, 4, 1)


@dataclass(frozen=True)
class DueCase:
    submission_id: int
    closed_at: datetime
    due_on: date


def cases_due(organization: Organization, today: date) -> list[DueCase]:
    """The organization's closed, not yet disposed cases whose retention period has ended by `today` (JST),
    oldest first, at most MAX_PER_LIST."""
    candidates = (
        Submission.objects.filter(organization=organization, status__in=CLOSED, disposed_at__isnull=True)
        .exclude(procedure__retention_years=0)
        .annotate(closed_at=Max("history__created_at"))
        .values_list("pk", "closed_at", "procedure__retention_years")
        .order_by("pk")
    )
    due = []
    for pk, closed_at, years in candidates.iterator():
        when = due_date(closed_at, years) if closed_at else None
        if when is not None and when <= today:
            due.append(DueCase(pk, closed_at, when))
            if len(due) >= MAX_PER_LIST:
                break
    return due


def list_disposals(today: date | None = None) -> list[DisposalList]:
    """The monthly job: for each organization, a list of the cases due that no open list holds yet.
    Returns the lists made (none for an organization with nothing new). Audited per list."""
    today = today or jst_date(timezone.now())
    made = []
    for organization in Organization.objects.filter(is_active=True).order_by("code"):
        held = set()
        for ids in DisposalList.objects.filter(
            organization=organization, state=DisposalList.State.PROPOSED
        ).values_list("submission_ids", flat=True):
            held.update(ids)
        ids = [
            case.submission_id for case in cases_due(organization, today) if case.submission_id not in held
        ]
        if not ids:
            continue
        with transaction.atomic():
            disposal_list = DisposalList.objects.create(
                organization=organization, listed_on=today, submission_ids=ids, count=len(ids)
            )
            record(
                organization=organization,
                actor=None,
                action="retention.list",
                obj=disposal_list,
                detail={"count": len(ids)},
            )
        made.append(disposal_list)
    return made


def _still_due(submission: Submission, today: date) -> bool:
    if submission.status not in CLOSED or submission.disposed_at is not None:
        return False
    closed_at = submission.history.aggregate(last=Max("created_at"))["last"]
    when = due_date(closed_at, submission.procedure.retention_years) if closed_at else None
    return when is not None and when <= today


def _dispose(submission: Submission, now: datetime) -> None:
    """Delete everything personal of one case for good; keep the row, its 受付番号, status and dates."""
    for attachment in Attachment.objects.filter(submission=submission):
        name, storage = attachment.file.name, attachment.file.storage
        attachment.delete()
        if name:
            transaction.on_commit(
                lambda name=name, storage=storage: storage.exists(name) and storage.delete(name)
            )
    AnswerRevision.objects.filter(submission=submission).delete()
    Note.objects.filter(submission=submission).delete()
    Message.objects.filter(submission=submission).delete()
    OutgoingEmail.objects.filter(submission=submission).delete()
    StatusChange.objects.filter(submission=submission).exclude(reason="").update(reason="")
    Submission.objects.filter(pk=submission.pk).update(
        answers_data={},
        applicant_email="",
        applicant_name="",
        applicant_kana="",
        search_text="",
        duplicate_key="",
        disposed_at=now,
        updated_at=now,
    )


def approve_disposal(*, disposal_list: DisposalList, actor) -> DisposalList:
    """An admin of the list's organization approves it: each case still due is disposed of (irreversibly),
    in one transaction; one audit entry certifies it. Raises DisposalError for a non-admin or a list that is
    not waiting for approval."""
    organization = disposal_list.organization
    if access.roles_for_user(actor).get(organization.pk) not in access.ADMIN:
        raise DisposalError("廃棄を承認できるのは、団体の管理者だけです。")
    now = timezone.now()
    today = jst_date(now)
    with transaction.atomic():
        locked = DisposalList.objects.select_for_update().get(pk=disposal_list.pk)
        if locked.state != DisposalList.State.PROPOSED:
            raise DisposalError("この一覧は、すでに承認または取消しされています。")
        cases = (
            Submission.objects.select_for_update(of=("self",))
            .select_related("procedure")
            .filter(organization=organization, pk__in=locked.submission_ids)
            .order_by("pk")
        )
        disposed, skipped = [], []
        for submission in cases:
            if _still_due(submission, today):
                _dispose(submission, now)
                disposed.append(submission.display_receipt_number)
            else:
                skipped.append(submission.display_receipt_number)
        locked.state = DisposalList.State.DISPOSED
        locked.decided_by = actor
        locked.decided_at = now
        locked.disposed_count = len(disposed)
        locked.save(update_fields=["state", "decided_by", "decided_at", "disposed_count"])
        record(
            organization=organization,
            actor=actor,
            action="retention.dispose",
            obj=locked,
            detail={"count": len(disposed), "receipt_numbers": disposed, "skipped": skipped},
        )
    return locked


def cancel_disposal(*, disposal_list: DisposalList, actor) -> DisposalList:
    """An admin sets a list aside (nothing is deleted; its cases are listed again next month). Audited."""
    organization = disposal_list.organization
    if access.roles_for_user(actor).get(organization.pk) not in access.ADMIN:
        raise DisposalError("廃棄の一覧を取り消せるのは、団体の管理者だけです。")
    with transaction.atomic():
        locked = DisposalList.objects.select_for_update().get(pk=disposal_list.pk)
        if locked.state != DisposalList.State.PROPOSED:
            raise DisposalError("この一覧は、すでに承認または取消しされています。")
        locked.state = DisposalList.State.CANCELLED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["state", "decided_by", "decided_at"])
        record(
            organization=organization,
            actor=actor,
            action="retention.cancel",
            obj=locked,
            detail={"count": locked.count},
        )
    return locked
