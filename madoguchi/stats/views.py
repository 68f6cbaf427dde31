"""Counts for staff: the council's view of its members, and an organization's 件数 page. Counts only, read
from the rollups (stats/counts.py): nothing here reads a resident's data."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from madoguchi.accounts import access
from madoguchi.lib import charts
from madoguchi.lib import japanese as ja
from madoguchi.lib.japanese import fiscal_year, format_fiscal_year
from madoguchi.organizations.models import OpenDataLicense, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.stats import counts, opendata

FIRST_YEAR = 2000  # no 年度 before this is offered or read


def fiscal_year_label(year: int) -> str:
    """令和8年度 in Japanese; a translation may name the Western year instead, or as well."""
    # Translators: a fiscal year (年度), April to March. %(wareki)s is its Japanese name, such as 令和8年度;
    # %(year)s is the Western year it starts in, such as 2026. Either or both may be used, so msgfmt is
    # not asked to check that a translation keeps both.
    # xgettext:no-python-format
    label = pgettext("fiscal year", "%(wareki)s")
    return label % {"wareki": format_fiscal_year(year), "year": year}


def counted_fiscal_year(typed: str, current: int) -> tuple[int | None, str]:
    """(the 年度 whose counts `typed` asks for, "") or (None, a Japanese message). `typed` may be 2026, 令和8年度,
    R8 … (lib.japanese.parse_fiscal_year); a 年度 it cannot read, before FIRST_YEAR or after `current` (not
    begun: it has no counts) gets one message naming what was typed and the 年度 there are, in 和暦."""
    try:
        year = ja.parse_fiscal_year(typed)
    except ja.InputError:
        year = None
    if year is not None and FIRST_YEAR <= year <= current:
        return year, ""
    return None, gettext(
        "「%(typed)s」の件数はありません。%(first)sから%(last)sまでを、%(example)s や %(year)s のように入力してください。"
    ) % {
        "typed": typed,
        "first": fiscal_year_label(FIRST_YEAR),
        "last": fiscal_year_label(current),
        "example": format_fiscal_year(current),
        "year": current,
    }


def chosen_fiscal_year(request: HttpRequest) -> tuple[int, int, str]:
    """(年度 asked for in ?fy=, the current 年度, an error message or ""): counted_fiscal_year's, the current
    年度 shown when it refuses what was typed."""
    current = fiscal_year(timezone.now())
    typed = request.GET.get("fy", "").strip()[:20]
    if not typed:
        return current, current, ""
    year, error = counted_fiscal_year(typed, current)
    return (year if year is not None else current), current, error


def _years(current: int, year: int) -> list[tuple[int, str]]:
    years = sorted({*range(current, current - 5, -1), year}, reverse=True)
    return [(y, fiscal_year_label(y)) for y in years]


SORTS = {
    "code": gettext_lazy("団体コード順"),
    "count": gettext_lazy("件数の多い順"),
    "count_asc": gettext_lazy("件数の少ない順"),
}


class LicenseForm(forms.Form):
    license = forms.ChoiceField(
        label=gettext_lazy("オープンデータのライセンス"), choices=OpenDataLicense.choices
    )


@login_required
def council_dashboard(request: HttpRequest, council_id: int) -> HttpResponse:
    """The council's members side by side for a 年度: submissions in it and the 年度 before, procedures
    published now, share of the council's total and the members with little or no use (the rule:
    counts.LOW_USE_SHARE_OF_MEDIAN), then the council's months and kinds. Counts only, never answers.
    A constant number of queries whatever the number of members."""
    council = access.access_council_for_user(request.user, council_id)
    year, current, error = chosen_fiscal_year(request)
    use = counts.council_use(council, year)
    sort = request.GET.get("sort", "code")
    sort = sort if sort in SORTS else "code"
    only_low = request.GET.get("low") == "1"
    rows = use.members
    if sort == "count":
        rows = sorted(rows, key=lambda m: (-m.count, m.organization.code))
    elif sort == "count_asc":
        rows = sorted(rows, key=lambda m: (m.count, m.organization.code))
    if only_low:
        rows = [m for m in rows if m.low_use]
    scope = counts.council_members(council)
    months = counts.council_months_of_year(council.pk, year)
    label = fiscal_year_label(year)
    # 1,788 rows: strings made here once, so the template only prints (no URL reversal or number
    # formatting per row; the page renders in a fraction of the time).
    link = reverse("staff:council_member_counts", kwargs={"council_id": council.pk, "code": "000000"})
    link_before, link_after = link.rsplit("000000", 1)
    table = [
        (
            m.organization.code,
            m.organization.name,
            f"{link_before}{m.organization.code}{link_after}?fy={year}",
            f"{m.count:,}",
            f"{m.previous:,}",
            "-" if m.share is None else str(m.share),
            f"{m.published:,}",
            m.low_use,
        )
        for m in rows
    ]
    return render(
        request,
        "staff/council.html",
        {
            "council": council,
            "use": use,
            "rows": rows,
            "table": table,
            "total": use.total,
            "total_text": f"{use.total:,}",
            "previous_total_text": f"{use.previous_total:,}",
            "sort": sort,
            "sorts": list(SORTS.items()),
            "only_low": only_low,
            "months": months,
            "month_chart": _month_chart(months, label),
            "kinds": counts.totals_by_kind(scope, year),
            "fiscal_year": year,
            "fiscal_year_label": label,
            "previous_label": fiscal_year_label(year - 1),
            "years": _years(current, year),
            "error": error,
            "typed": request.GET.get("fy", "")[:20] if error else "",
            "license": opendata.license_of(council),
            "license_form": LicenseForm(initial={"license": council.open_data_license}),
        },
    )


@require_POST
@login_required
def council_open_data_license(request: HttpRequest, council_id: int) -> HttpResponse:
    """Set the licence of the council's open data (its secretariat only); back to the council page."""
    council = access.access_council_for_user(request.user, council_id)
    form = LicenseForm(request.POST)
    if form.is_valid():
        opendata.set_open_data_license(
            council=council, license=form.cleaned_data["license"], actor=request.user
        )
        messages.success(request, gettext("オープンデータのライセンスを保存しました。"))
    else:
        messages.error(request, gettext("ライセンスを一覧から選んでください。"))
    return redirect("staff:council", council_id=council.pk)


def _month_chart(months, label: str):
    return charts.monthly_bars(
        # Django's own month names: 4月 in Japanese, "April" / "Dec." in English.
        [charts.Bar(charts.month_label(m.month), n) for m, n in months],
        title=gettext("%(year)sの月別の件数（同じ数値を下の表に示します）") % {"year": label},
    )


def _counts_context(organization: Organization, year: int) -> dict:
    """The 件数 of one organization in a 年度 at every grain; eight queries."""
    months = counts.totals_by_month(organization, year)
    label = fiscal_year_label(year)
    by_year = counts.totals_by_fiscal_year(organization)
    by_year.setdefault(year, 0)
    published = counts.published_procedures_by_kind(organization).get(organization.pk, {})
    return {
        "organization": organization,
        "fiscal_year": year,
        "fiscal_year_label": label,
        "total": by_year[year],
        "by_year": [(fiscal_year_label(y), n) for y, n in sorted(by_year.items(), reverse=True)],
        "months": months,
        "month_chart": _month_chart(months, label),
        "departments": counts.totals_by_department(organization, year),
        "kinds": counts.totals_by_kind(organization, year),
        "procedures": counts.totals_by_procedure(organization, year),
        "published_total": sum(published.values()),
        "published_breakdown": _kinds_breakdown(published),
    }


def _kinds_breakdown(published: dict[str, int]) -> str:
    """「（申請 1・申込 2）」: the kinds with procedures published, in the active language's punctuation."""
    parts = [
        gettext("%(kind)s %(n)s") % {"kind": label, "n": published[kind]}
        for kind, label in Procedure.Kind.choices
        if published.get(kind)
    ]
    # Translators: the separator between kinds in 「（申請 1・申込 2）」.
    return gettext("（%(kinds)s）") % {"kinds": gettext("・").join(parts)} if parts else ""


@login_required
def organization_counts(request: HttpRequest, code: str) -> HttpResponse:
    """件数 of the user's organization in a 年度: per 年度, month, 所属, kind and procedure, and the
    procedures published now. Any staff role of the organization; an outsider gets 404."""
    organization = access.access_organization_for_user(request.user, code)
    year, current, error = chosen_fiscal_year(request)
    return render(
        request,
        "staff/counts.html",
        {
            **_counts_context(organization, year),
            "years": _years(current, year),
            "error": error,
            "typed": request.GET.get("fy", "")[:20] if error else "",
        },
    )


@login_required
def council_member_counts(request: HttpRequest, council_id: int, code: str) -> HttpResponse:
    """The same 件数 of one member, for the council's secretariat; 404 for anyone else, or for an
    organization that is not a member of this council."""
    council = access.access_council_for_user(request.user, council_id)
    organization = council.members.filter(code=code).first()
    if organization is None:
        raise Http404
    year, current, error = chosen_fiscal_year(request)
    return render(
        request,
        "staff/counts.html",
        {
            **_counts_context(organization, year),
            "council": council,
            "years": _years(current, year),
            "error": error,
            "typed": request.GET.get("fy", "")[:20] if error else "",
        },
    )
