import logging
import unicodedata

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from madoguchi.accounts import access
from madoguchi.lib import japanese as ja
from madoguchi.lib.formfields import OwnWordsMixin
from madoguchi.organizations import services
from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures import finding
from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS

logger = logging.getLogger(__name__)


def _filters(request: HttpRequest) -> dict:
    """The resident's search and browsing from the query string: q (text), category, event (codes)."""
    return {
        "query": request.GET.get("q", "")[: finding.MAX_QUERY_LENGTH].strip(),
        "category": request.GET.get("category", "")[:32],
        "event": request.GET.get("event", "")[:32],
    }


def _filter_labels(filters: dict) -> dict:
    return {
        "category_label": dict(CATEGORIES).get(filters["category"], ""),
        "event_label": dict(LIFE_EVENTS).get(filters["event"], ""),
    }


def home(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    searching = any(filters.values())
    councils = Council.objects.select_related("secretariat").prefetch_related("members")
    members = Organization.objects.filter(is_active=True, councils__isnull=False).distinct().order_by("code")
    if not members.exists():
        members = Organization.objects.filter(is_active=True, procedures__status="published").distinct()
    results = finding.search(filters["query"], category=filters["category"], event=filters["event"])
    return render(
        request,
        "organizations/home.html",
        {
            "councils": councils,
            "members": members,
            **filters,
            **_filter_labels(filters),
            "results": results if searching else None,
            "limit": finding.SEARCH_LIMIT,
            "categories": finding.categories_offered(),
            "life_events": finding.life_events_offered(),
            "popular": [] if searching else finding.popular(),
            "newest": [] if searching else finding.newest(),
        },
    )


def organization_page(request: HttpRequest, code: str) -> HttpResponse:
    """The organization's procedures; for a municipality also its prefecture's, in their own section.

    ?q= searches both, ?category= and ?event= browse both (procedures/finding.py)."""
    organization = get_object_or_404(
        Organization.objects.select_related("prefecture"), code=code, is_active=True
    )
    filters = _filters(request)
    shown = finding.organizations_shown(organization)
    prefecture = shown[1] if len(shown) > 1 else None
    if filters["query"]:
        found = finding.search(
            filters["query"], organizations=shown, category=filters["category"], event=filters["event"]
        )
    else:
        found = list(
            finding.browse(
                organizations=shown, category=filters["category"], event=filters["event"]
            ).order_by("title")
        )
    return render(
        request,
        "organizations/organization.html",
        {
            "organization": organization,
            "prefecture": prefecture,
            "procedures": [p for p in found if p.organization_id == organization.pk],
            "prefecture_procedures": [p for p in found if prefecture and p.organization_id == prefecture.pk],
            **filters,
            **_filter_labels(filters),
            "filtered": any(filters.values()),
            "found_count": len(found),
            "limited": bool(filters["query"]) and len(found) >= finding.SEARCH_LIMIT,
            "limit": finding.SEARCH_LIMIT,
            "categories": finding.categories_offered(shown),
            "life_events": finding.life_events_offered(shown),
        },
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
    """The page for a post whose CSRF cookie was lost (cookies deleted, a long-closed browser). A 確認画面 sent
    that way carries its signed answers: they are offered back with a fresh token, so one button returns the
    resident to the form with everything typed (only a signature of this site is passed on; nothing is
    submitted from here)."""
    from django.urls import Resolver404, resolve

    from madoguchi.submissions import resident_views

    carry = None
    if request.method == "POST" and request.POST.get("confirmed"):
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None
        if match is not None and match.view_name == "public:confirm":
            procedure_id = match.kwargs.get("procedure_id")
            if resident_views._read_confirmed(request, procedure_id, stale_ok=True) is not None:
                carry = {
                    "action": request.path_info,
                    "confirmed": request.POST["confirmed"],
                    "token": request.POST.get("token", ""),
                }
    return render(request, "403_csrf.html", {"carry": carry}, status=403)


# 所属の管理: the organization's admin keeps its sections and their contacts -------------------------------


class DepartmentForm(OwnWordsMixin, forms.Form):
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


# 検索の同義語: the council's secretariat keeps the residents' synonym list (procedures/finding.py) ------


class SynonymsForm(forms.Form):
    synonyms = forms.CharField(
        label=_("検索の同義語"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 14, "class": "input", "spellcheck": "false"}),
        help_text=_(
            "1行に1つ書きます。「スマホ → スマートフォン」は、スマホで探した人にスマートフォンの手続も"
            "見せます（一方向）。「転入 = 引越し」や「マイナンバーカード、個人番号カード」は、どの言葉で"
            "探しても互いに見つかります（双方向）。#で始まる行はメモです。"
        ),
    )

    def clean_synonyms(self):
        text = self.cleaned_data["synonyms"]
        try:
            finding.parse_synonyms(text)
        except finding.SynonymError as exc:
            raise forms.ValidationError(str(exc).split("\n")) from None
        return text


@login_required
def council_synonyms(request: HttpRequest, council_id: int) -> HttpResponse:
    """The council's synonym list for the residents' search; its secretariat only (404 for anyone else).

    A malformed line is refused with its line number and the typed text kept; a saved change is audited.
    """
    council = access.access_council_for_user(request.user, council_id)
    form = SynonymsForm(request.POST or None, initial={"synonyms": council.search_synonyms})
    if request.method == "POST" and form.is_valid():
        try:
            finding.save_search_synonyms(
                council=council, actor=request.user, text=form.cleaned_data["synonyms"]
            )
        except finding.SynonymError as exc:
            form.add_error("synonyms", str(exc).split("\n"))
        else:
            messages.success(request, gettext("検索の同義語を保存しました。"))
            return redirect("staff:council_synonyms", council_id=council.pk)
    field = form.fields["synonyms"]
    described = ["id_synonyms_helptext"] + (["id_synonyms-error"] if form.errors else [])
    field.widget.attrs["aria-describedby"] = " ".join(described)
    return render(
        request,
        "staff/council_synonyms.html",
        {"council": council, "form": form},
        status=400 if form.errors else 200,
    )
