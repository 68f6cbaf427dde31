"""The council secretariat's 負担金 pages: the 部会, each 年度's cost and weights, the shares, populations.

Counts and populations only: nothing here reads a resident's answer.
"""

import csv
import io
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache

from madoguchi.accounts import access
from madoguchi.audit import services as audit
from madoguchi.lib import japanese as ja
from madoguchi.stats import services
from madoguchi.stats.cost_share import CostShareError, Weights
from madoguchi.stats.forms import CostShareForm, PopulationImportForm
from madoguchi.stats.models import CostShare
from madoguchi.stats.views import fiscal_year_label

MAX_POPULATION_CSV = 1024 * 1024  # bytes: 1,788 organizations fit in some 60 KB


def _years(current: int) -> list[tuple[int, str]]:
    return [(y, fiscal_year_label(y)) for y in range(current + 1, current - 6, -1)]


@login_required
def cost_shares(request: HttpRequest, council_id: int) -> HttpResponse:
    """The council's 部会, their members (with the dates they joined or left) and each 年度's state."""
    council = access.access_council_for_user(request.user, council_id)
    groups = list(council.working_groups.prefetch_related("memberships__organization", "cost_shares"))
    current = ja.fiscal_year(timezone.now())
    error = ""
    if "fy" in request.GET:
        try:
            year = ja.parse_fiscal_year(request.GET.get("fy", "")[:20])
            group = next((g for g in groups if str(g.pk) == request.GET.get("group")), None)
            if group is not None:
                return redirect("staff:cost_share", council_id=council.pk, group_id=group.pk, year=year)
            error = gettext("部会を選んでください。")
        except ja.InputError as exc:
            error = str(exc)
    return render(
        request,
        "staff/cost_shares.html",
        {
            "council": council,
            "groups": groups,
            "years": _years(current),
            "current": current,
            "error": error,
            "typed": request.GET.get("fy", "")[:20],
        },
    )


def _form_initial(record: CostShare | None) -> dict:
    if record is None:
        return {}
    return {
        "cost": f"{record.cost:,}",
        "weight_equal": record.weight_equal,
        "weight_population": record.weight_population,
        "weight_usage": record.weight_usage,
    }


@never_cache
@login_required
def cost_share_year(request: HttpRequest, council_id: int, group_id: int, year: int) -> HttpResponse:
    """One 部会's 負担金 for one 年度: enter the cost and weights, see each member's share and its formula,
    decide it (kept as it is from then on), export it."""
    council, group = access.access_working_group_for_user(request.user, council_id, group_id)
    if not 1926 <= year <= 2200:
        raise Http404
    record = CostShare.objects.filter(working_group=group, fiscal_year=year).first()
    form = CostShareForm(initial=_form_initial(record))
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "decide":
            if record is None:
                messages.error(request, gettext("先に費用と割合を保存してください。"))
            elif request.POST.get("confirm") != "yes":
                messages.error(request, gettext("確定する前に、確認の欄にチェックを入れてください。"))
            else:
                try:
                    services.decide_cost_share(record=record, actor=request.user)
                    messages.success(request, gettext("負担金を確定しました。"))
                except CostShareError as exc:
                    messages.error(request, str(exc))
            return redirect("staff:cost_share", council_id=council.pk, group_id=group.pk, year=year)
        form = CostShareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.save_cost_share(
                    working_group=group,
                    fiscal_year=year,
                    cost=data["cost"],
                    weights=Weights(data["weight_equal"], data["weight_population"], data["weight_usage"]),
                    actor=request.user,
                )
                messages.success(request, gettext("費用と割合を保存しました。"))
                return redirect("staff:cost_share", council_id=council.pk, group_id=group.pk, year=year)
            except CostShareError as exc:
                form.add_error(None, str(exc))
        status = 400
    rows, problem = [], ""
    if record is not None:
        try:
            rows = services.cost_share_rows(group, year, record)
        except CostShareError as exc:
            problem = str(exc)
    return render(
        request,
        "staff/cost_share.html",
        {
            "council": council,
            "group": group,
            "year": year,
            "year_label": fiscal_year_label(year),
            "record": record,
            "form": form,
            "rows": rows,
            "problem": problem,
            "total": sum(r["amount"] for r in rows),
            "remainder": sum(1 for r in rows if r["rounded_up"]),
        },
        status=status,
    )


HEADER = [
    "団体コード",
    "団体",
    "加入月数",
    "人口",
    "件数",
    "均等割",
    "人口割",
    "件数割",
    "計算上の額",
    "負担額（円）",
]


def _table(rows: list[dict]) -> list[list]:
    return [
        [
            r["code"],
            r["name"],
            r["months"],
            r["population"],
            r["usage"],
            r["equal"],
            r["by_population"],
            r["by_usage"],
            r["exact"],
            r["amount"],
        ]
        for r in rows
    ]


@never_cache
@login_required
def cost_share_export(
    request: HttpRequest, council_id: int, group_id: int, year: int, ext: str
) -> HttpResponse:
    """The shares as CSV (UTF-8 with BOM, opens in Excel) or .xlsx (amounts as number cells)."""
    council, group = access.access_working_group_for_user(request.user, council_id, group_id)
    record = CostShare.objects.filter(working_group=group, fiscal_year=year).first()
    if record is None or ext not in ("csv", "xlsx"):
        raise Http404
    try:
        rows = services.cost_share_rows(group, year, record)
    except CostShareError as exc:
        messages.error(request, str(exc))
        return redirect("staff:cost_share", council_id=council.pk, group_id=group.pk, year=year)
    table = _table(rows)
    name = f"負担金_{group.name}_{year}年度{'（確定）' if record.decided_at else '（試算）'}.{ext}"
    if ext == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(table)
        writer.writerow(["合計", "", "", "", "", "", "", "", "", sum(r["amount"] for r in rows)])
        response = HttpResponse(
            ("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8"
        )
    else:
        from decimal import Decimal

        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "負担金"
        sheet.append(HEADER)
        for line in table:
            sheet.append([*line[:5], *(Decimal(v) for v in line[5:9]), line[9]])
        sheet.append(["合計", None, None, None, None, None, None, None, None, sum(r["amount"] for r in rows)])
        out = io.BytesIO()
        book.save(out)
        response = HttpResponse(
            out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    audit.record(
        organization=council.secretariat,
        actor=request.user,
        action="cost_share.export",
        obj=record,
        detail={"working_group": group.name, "fiscal_year": year, "format": ext},
    )
    return response


@login_required
def populations(request: HttpRequest, council_id: int) -> HttpResponse:
    """Members' populations, used by 人口割: edit them here or import a CSV (団体コード, 人口)."""
    council = access.access_council_for_user(request.user, council_id)
    members = list(council.members.order_by("code"))
    import_form = PopulationImportForm()
    errors: list[str] = []
    member_errors: dict[str, str] = {}  # {団体コード: message}, shown at its box and linked from the summary
    typed: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "import":
                import_form = PopulationImportForm(request.POST, request.FILES)
                if not import_form.is_valid():
                    raise CostShareError("")  # the message is at the file box
                upload = import_form.cleaned_data["file"]
                try:
                    if upload.size > MAX_POPULATION_CSV:
                        raise CostShareError(gettext("ファイルが大きすぎます（1MBまで）。"))
                    values = services.read_population_csv(upload.read())
                except CostShareError as exc:  # shown at the file box, and linked from the summary
                    import_form.add_error("file", str(exc))
                    raise CostShareError("") from exc
                source = "csv"
            else:
                values = {}
                for member in members:
                    if f"population-{member.code}" not in request.POST:
                        continue  # a member not on the page that was sent (joined since) keeps its population
                    text = request.POST[f"population-{member.code}"][:20]
                    typed[member.code] = text
                    if not text.strip():
                        values[member.code] = None  # an emptied box clears the population
                        continue
                    value = services.population_value(text)
                    if value is None:
                        member_errors[member.code] = services.population_problem(text)
                        continue
                    values[member.code] = value
                if member_errors:
                    raise CostShareError("")
                source = "form"
            changed = services.set_populations(
                council=council, populations=values, actor=request.user, source=source
            )
            if changed:
                messages.success(
                    request,
                    ngettext(
                        "人口を%(count)s団体分更新しました。", "人口を%(count)s団体分更新しました。", changed
                    )
                    % {"count": changed},
                )
            else:
                messages.info(
                    request, gettext("人口は変わっていません（入力された値は保存済みの値と同じです）。")
                )
            return redirect("staff:populations", council_id=council.pk)
        except CostShareError as exc:
            if str(exc):
                errors.append(str(exc))
            status = 400
    rows = [
        {
            "organization": m,
            "value": typed.get(m.code, "" if m.population is None else f"{m.population}"),
            "error": member_errors.get(m.code, ""),
        }
        for m in members
    ]
    return render(
        request,
        "staff/populations.html",
        {
            "council": council,
            "rows": rows,
            "errors": errors,
            "has_errors": bool(errors or member_errors or import_form.errors),
            "import_form": import_form,
        },
        status=status,
    )
