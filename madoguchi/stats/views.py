from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import pgettext

from madoguchi.accounts import access
from madoguchi.lib.japanese import fiscal_year, format_fiscal_year
from madoguchi.stats.services import counts_by_organization


def fiscal_year_label(year: int) -> str:
    """令和8年度 in Japanese; a translation may name the Western year instead, or as well."""
    # Translators: a fiscal year (年度), April to March. %(wareki)s is its Japanese name, such as 令和8年度;
    # %(year)s is the Western year it starts in, such as 2026. Either or both may be used, so msgfmt is
    # not asked to check that a translation keeps both.
    # xgettext:no-python-format
    label = pgettext("fiscal year", "%(wareki)s")
    return label % {"wareki": format_fiscal_year(year), "year": year}


@login_required
def council_dashboard(request: HttpRequest, council_id: int) -> HttpResponse:
    """Member organizations and their submission counts for a 年度: counts only, never answers."""
    council = access.access_council_for_user(request.user, council_id)
    current = fiscal_year(timezone.now())
    try:
        year = int(request.GET.get("fy", current))
    except ValueError:
        year = current
    year = min(max(year, 2000), current + 1)
    members = list(council.members.order_by("code"))
    counts = counts_by_organization(organizations=members, fiscal_year=year)
    rows = [{"organization": m, "count": counts.get(m.pk, 0)} for m in members]
    return render(
        request,
        "staff/council.html",
        {
            "council": council,
            "rows": rows,
            "total": sum(r["count"] for r in rows),
            "fiscal_year": year,
            "fiscal_year_label": fiscal_year_label(year),
            "years": [(y, fiscal_year_label(y)) for y in range(current, current - 5, -1)],
        },
    )
