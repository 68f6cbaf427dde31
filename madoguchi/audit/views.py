from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import pgettext_lazy

from madoguchi.accounts import access
from madoguchi.audit.models import AuditLog
from madoguchi.audit.services import ACTION_LABELS
from madoguchi.lib.params import parse_id
from madoguchi.lib.receipt import format_receipt_number
from madoguchi.procedures.models import Procedure
from madoguchi.submissions.models import Status, Submission

PAGE_SIZE = 100
# Stored in Japanese for actions without a user; shown in the page's language.
ACTOR_LABELS = {
    "申請者": pgettext_lazy("audit actor", "申請者"),
    "システム": pgettext_lazy("audit actor", "システム"),
}
SUBMISSION_MOVES = {"submission.transition", "submission.withdraw", "submission.resubmit"}


def _object_labels(entries) -> dict[tuple[str, str], str]:
    """受付番号 for submissions and titles for procedures, two queries for the whole page."""
    wanted: dict[str, set[int]] = {"submissions.submission": set(), "procedures.procedure": set()}
    for entry in entries:
        pk = parse_id(entry.object_id)
        if entry.object_type in wanted and pk:
            wanted[entry.object_type].add(pk)
    labels = {}
    for pk, receipt in Submission.objects.filter(pk__in=wanted["submissions.submission"]).values_list(
        "pk", "receipt_number"
    ):
        labels[("submissions.submission", str(pk))] = format_receipt_number(receipt)
    for pk, title in Procedure.objects.filter(pk__in=wanted["procedures.procedure"]).values_list(
        "pk", "title"
    ):
        labels[("procedures.procedure", str(pk))] = title
    return labels


def _status_change(detail: dict) -> str | None:
    """'処理待ち → 完了' for a status change, in the page's language."""
    if (
        set(detail) != {"from", "to"}
        or detail["from"] not in Status.values
        or detail["to"] not in Status.values
    ):
        return None
    return f"{Status(detail['from']).label} → {Status(detail['to']).label}"


@login_required
def audit_log(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    entries = AuditLog.objects.filter(organization=organization)
    action = request.GET.get("action", "")
    if action in ACTION_LABELS:
        entries = entries.filter(action=action)
    before = request.GET.get("before", "")
    if parse_id(before):
        entries = entries.filter(id__lt=parse_id(before))
    page = list(entries.order_by("-id")[: PAGE_SIZE + 1])
    has_next = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    labels = _object_labels(page)
    for entry in page:
        entry.action_label = ACTION_LABELS.get(entry.action, entry.action)
        if entry.actor_id is None and entry.actor_label in ACTOR_LABELS:
            entry.actor_label = ACTOR_LABELS[entry.actor_label]
        entry.object_label = labels.get(
            (entry.object_type, entry.object_id), f"{entry.object_type} #{entry.object_id}"
        )
        entry.change = _status_change(entry.detail) if entry.action in SUBMISSION_MOVES else None
    return render(
        request,
        "staff/audit.html",
        {
            "organization": organization,
            "entries": page,
            "actions": ACTION_LABELS.items(),
            "action": action,
            "next_before": page[-1].id if has_next else None,
        },
    )
