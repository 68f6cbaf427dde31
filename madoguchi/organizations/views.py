import logging
import unicodedata

import jaconv
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures.models import Procedure

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 100


def _published():
    return Procedure.objects.filter(
        status=Procedure.Status.PUBLISHED, current_version__isnull=False, organization__is_active=True
    ).select_related("organization", "department")


def _search(query: str, organization: Organization | None = None):
    # Residents type in any width: ＰＣＲ, ｶﾀｶﾅ; NFKC is right for a search query (never for stored names).
    words = unicodedata.normalize("NFKC", query).split()[:8]
    procedures = _published()
    if organization is not None:
        procedures = procedures.filter(organization=organization)
    for word in words:
        # すまーとふぉん finds スマートフォン and the other way round.
        match = Q()
        for form in {word, jaconv.hira2kata(word), jaconv.kata2hira(word)}:
            match |= (
                Q(title__icontains=form) | Q(summary__icontains=form) | Q(organization__name__icontains=form)
            )
        procedures = procedures.filter(match)
    return procedures.order_by("organization__code", "title")[:SEARCH_LIMIT]


def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100].strip()
    councils = Council.objects.select_related("secretariat").prefetch_related("members")
    members = Organization.objects.filter(is_active=True, councils__isnull=False).distinct().order_by("code")
    if not members.exists():
        members = Organization.objects.filter(is_active=True, procedures__status="published").distinct()
    return render(
        request,
        "organizations/home.html",
        {
            "councils": councils,
            "members": members,
            "query": query,
            "results": _search(query) if query else None,
        },
    )


def organization_page(request: HttpRequest, code: str) -> HttpResponse:
    organization = get_object_or_404(Organization, code=code, is_active=True)
    query = request.GET.get("q", "")[:100].strip()
    procedures = _search(query, organization) if query else _published().filter(organization=organization)
    return render(
        request,
        "organizations/organization.html",
        {"organization": organization, "procedures": procedures, "query": query},
    )


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": False, "migrations": False}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
        executor = MigrationExecutor(connection)
        checks["migrations"] = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:  # a readiness probe reports, it does not raise
        logger.exception("readiness check failed")
    ready = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "400.html", status=400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
