"""廃棄: the organization admin's lists of cases past their retention period, and their approval."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from madoguchi.accounts import access
from madoguchi.lib.timeutil import jst_date
from madoguchi.submissions import retention
from madoguchi.submissions.models import DisposalList, Submission


@login_required
def disposal_lists(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    lists = DisposalList.objects.filter(organization=organization).select_related("decided_by")[:100]
    return render(request, "staff/disposals.html", {"organization": organization, "lists": lists})


def _rows(disposal_list: DisposalList) -> list[dict]:
    cases = (
        Submission.objects.filter(
            organization=disposal_list.organization, pk__in=disposal_list.submission_ids
        )
        .select_related("procedure")
        .order_by("procedure__title", "pk")
    )
    rows = []
    for submission in cases:
        closed_at = submission.history.order_by("-created_at").values_list("created_at", flat=True).first()
        rows.append(
            {
                "receipt_number": submission.display_receipt_number,
                "procedure": submission.procedure.title,
                "status": submission.get_status_display(),
                "closed_on": jst_date(closed_at) if closed_at else None,
                "due_on": retention.due_date(closed_at, submission.procedure.retention_years)
                if closed_at
                else None,
                "disposed": submission.disposed_at is not None,
            }
        )
    return rows


@login_required
def disposal_list(request: HttpRequest, code: str, list_id: int) -> HttpResponse:
    disposal = access.access_disposal_list_for_user(request.user, code, list_id)
    return render(
        request,
        "staff/disposal.html",
        {"organization": disposal.organization, "disposal": disposal, "rows": _rows(disposal), "error": None},
    )


@login_required
@require_POST
def disposal_decide(request: HttpRequest, code: str, list_id: int) -> HttpResponse:
    disposal = access.access_disposal_list_for_user(request.user, code, list_id)
    action = request.POST.get("action")
    try:
        if action == "approve":
            if request.POST.get("confirm") != "1":
                return render(
                    request,
                    "staff/disposal.html",
                    {
                        "organization": disposal.organization,
                        "disposal": disposal,
                        "rows": _rows(disposal),
                        "error": gettext("「元に戻せないことを確認しました」にチェックを入れてください。"),
                    },
                    status=400,
                )
            done = retention.approve_disposal(disposal_list=disposal, actor=request.user)
            messages.success(
                request, gettext("%(count)s件の申請の内容を廃棄しました。") % {"count": done.disposed_count}
            )
        elif action == "cancel":
            retention.cancel_disposal(disposal_list=disposal, actor=request.user)
            messages.info(request, gettext("廃棄の一覧を取り消しました。来月の一覧にまた載ります。"))
    except retention.DisposalError as exc:
        messages.error(request, str(exc))
    return redirect("staff:disposal_list", code=code, list_id=disposal.pk)
