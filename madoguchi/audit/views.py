from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from madoguchi.accounts import access
from madoguchi.audit.models import AuditLog
from madoguchi.audit.services import ACTION_LABELS
from madoguchi.lib.params import parse_id

PAGE_SIZE = 100


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
    for entry in page:
        entry.action_label = ACTION_LABELS.get(entry.action, entry.action)
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
