from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from madoguchi.accounts import access
from madoguchi.accounts.models import Role
from madoguchi.procedures.models import Procedure
from madoguchi.stats.services import status_counts
from madoguchi.submissions.models import Status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My organizations' procedures, each with its submissions counted by status."""
    roles = access.roles_for_user(request.user)
    organizations = list(access.organizations_for_user(request.user).order_by("code"))
    procedures = list(
        Procedure.objects.filter(organization__in=organizations)
        .select_related("department", "organization")
        .order_by("organization__code", "title")
    )
    visible = [p.pk for p in procedures if roles.get(p.organization_id) in access.SEE_ANSWERS]
    counts = status_counts(visible)
    statuses = [s for s in Status if s != Status.DRAFT]
    by_org = []
    for organization in organizations:
        items = [
            {
                "procedure": p,
                "counts": [counts.get(p.pk, {}).get(s.value, 0) for s in statuses],
                "can_open": p.pk in visible,
            }
            for p in procedures
            if p.organization_id == organization.pk
        ]
        by_org.append(
            {"organization": organization, "role": Role(roles[organization.pk]).label, "items": items}
        )
    return render(
        request,
        "staff/home.html",
        {
            "by_org": by_org,
            "statuses": statuses,
            "councils": access.councils_for_user(request.user),
            "admin_of": [o for o in organizations if roles[o.pk] in access.ADMIN],
            "builder_of": [o for o in organizations if roles[o.pk] in access.BUILD],
        },
    )
