import logging
import unicodedata

import jaconv
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from madoguchi.accounts import access
from madoguchi.lib import japanese as ja
from madoguchi.organizations import services
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


# 所属の管理: the organization's admin keeps its sections and their contacts -------------------------------


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("所属名（例：市民生活部 市民課）"), max_length=128)
    phone = forms.CharField(
        label=_("電話番号"),
        max_length=32,
        required=False,
        help_text=_("住民に表示されます（例：0857-20-3111）"),
    )
    email = forms.EmailField(label=_("メールアドレス"), max_length=254, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "input"
            field.validators.append(_no_control_characters)

    def clean_phone(self):
        text = self.cleaned_data["phone"].strip()
        if not text:
            return ""
        try:
            return ja.normalize_phone(text)
        except ja.InputError as exc:
            raise forms.ValidationError(str(exc)) from None


def _no_control_characters(value) -> None:
    if isinstance(value, str) and any(unicodedata.category(c) == "Cc" for c in value):
        raise forms.ValidationError(_("使えない文字（制御文字）が含まれています。"))


@login_required
def departments(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    form = DepartmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_department(organization=organization, actor=request.user, **form.cleaned_data)
        except services.DepartmentError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, gettext("所属を追加しました。"))
            return redirect("staff:departments", code=code)
    return render(
        request,
        "staff/departments.html",
        {
            "organization": organization,
            "form": form,
            "departments": access.departments_of_organization(organization),
        },
        status=400 if form.errors else 200,
    )


@login_required
def department_edit(request: HttpRequest, code: str, department_id: int) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    department = access.departments_of_organization(organization).filter(pk=department_id).first()
    if department is None:
        raise Http404
    if request.method == "POST" and "delete" in request.POST:
        try:
            services.delete_department(organization=organization, actor=request.user, department=department)
        except services.DepartmentError as exc:
            messages.error(request, str(exc))
            return redirect("staff:department", code=code, department_id=department.pk)
        messages.success(request, gettext("所属を削除しました。"))
        return redirect("staff:departments", code=code)
    initial = {"name": department.name, "phone": department.phone, "email": department.email}
    form = DepartmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_department(
                organization=organization, actor=request.user, department=department, **form.cleaned_data
            )
        except services.DepartmentError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, gettext("所属を保存しました。"))
            return redirect("staff:departments", code=code)
    return render(
        request,
        "staff/department.html",
        {"organization": organization, "form": form, "department": department},
        status=400 if form.errors else 200,
    )
