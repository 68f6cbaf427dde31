"""集計: a procedure's answers tallied per question, as a page with charts and tables, and as a CSV.

Staff who may see the procedure's answers (access.SEE_ANSWERS) see it; anyone else in another organization
gets 404. Viewing the page and downloading the CSV are audited. What counts is described in
submissions/tally.py.
"""

from datetime import date
from urllib.parse import quote, urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi.accounts import access
from madoguchi.audit import services as audit
from madoguchi.lib import charts, exporting
from madoguchi.lib import japanese as ja
from madoguchi.lib.timeutil import JST
from madoguchi.submissions.staff_views import _date_filter
from madoguchi.submissions.tally import CSV_HEADER, Question, Tally, csv_rows, percent, tally_procedure


def date_range(request: HttpRequest) -> tuple[date | None, date | None, list[str]]:
    """The 到達日 range of ?from= and ?to= (JST days, both included), read and explained as the inbox does:
    (from, to, errors). With any error both dates are None and errors holds Japanese messages."""
    errors: list[str] = []
    date_from = _date_filter(request.GET.get("from", "").strip()[:40], gettext("到達日（から）"), errors)
    date_to = _date_filter(request.GET.get("to", "").strip()[:40], gettext("到達日（まで）"), errors)
    if date_from and date_to and date_from > date_to:
        errors.append(
            gettext("到達日：「から」の日付が「まで」の日付より後になっています。入れ替えてください。")
        )
    if errors:
        return None, None, errors
    return date_from, date_to, errors


def _shown_date(day: date) -> str:
    if translation.get_language() == "en":
        return date_format(day, "j F Y")
    return ja.format_date_both(day)


def _count_text(count: int, share) -> str:
    if share is None:
        return pgettext("number of answers", "%(count)s件") % {"count": charts.format_number(count)}
    return pgettext("number of answers", "%(count)s件（%(percent)s%%）") % {
        "count": charts.format_number(count),
        "percent": percent(share),
    }


def _chart(question: Question):
    bars = [charts.Bar(o.label, o.count, _count_text(o.count, o.share)) for o in question.options]
    bars.append(
        charts.Bar(
            gettext("無回答"),
            question.unanswered,
            _count_text(question.unanswered, question.unanswered_share),
        )
    )
    return charts.horizontal_bars(
        bars,
        title=gettext("「%(question)s」の回答の件数と割合（同じ数値を下の表に示します）")
        % {"question": question.label},
        max_value=question.asked,
    )


# The arrivals chart shows at most this many months (two 年度); a longer range gets the table only.
MONTHS_CHARTED = 24


def _months(tally: Tally) -> dict | None:
    """Respondents per arrival month (JST) as a chart and table rows; None within a single month."""
    months = tally.months()
    if len(months) < 2:
        return None
    chart = None
    if len(months) <= MONTHS_CHARTED:
        chart = charts.monthly_bars(
            [charts.Bar(gettext("%(month)s月") % {"month": m}, n) for _y, m, n in months],
            title=gettext("到達月ごとの回答者数（同じ数値を下の表に示します）"),
        )
    rows = [(gettext("%(year)s年%(month)s月") % {"year": y, "month": m}, n) for y, m, n in months]
    return {"chart": chart, "rows": rows}


def _summary(question: Question) -> list[tuple[str, str]]:
    def number(value) -> str:
        return "" if value is None else f"{charts.format_number(value)}{question.unit}"

    if question.kind == "number":
        return [
            (gettext("回答数"), charts.format_number(question.answered)),
            (gettext("最小"), number(question.minimum)),
            (gettext("最大"), number(question.maximum)),
            (gettext("平均"), number(question.mean)),
            (gettext("中央値"), number(question.median)),
        ]
    if question.kind == "date":
        return [
            (gettext("回答数"), charts.format_number(question.answered)),
            (gettext("最も早い日"), _shown_date(question.earliest) if question.earliest else ""),
            (gettext("最も遅い日"), _shown_date(question.latest) if question.latest else ""),
        ]
    return []


@never_cache
@login_required
@require_GET
def tally_page(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """GET /staff/procedures/<id>/tally/?from=&to= — the 集計 page (dates as the inbox reads them)."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.SEE_ANSWERS)
    date_from, date_to, errors = date_range(request)
    tally: Tally | None = None
    sections = []
    if not errors:
        tally = tally_procedure(procedure, date_from=date_from, date_to=date_to)
        audit.record(
            organization=procedure.organization,
            actor=request.user,
            action="submission.tally",
            obj=procedure,
            detail=_range_detail(date_from, date_to),
        )
        for question in tally.questions:
            sections.append(
                {
                    "question": question,
                    "chart": _chart(question) if question.kind == "choice" else None,
                    "rows": [
                        (o.label, charts.format_number(o.count), percent(o.share), o.current)
                        for o in question.options
                    ],
                    "summary": _summary(question),
                    "unanswered_share": percent(question.unanswered_share),
                }
            )
    filters = {"from": request.GET.get("from", "")[:40], "to": request.GET.get("to", "")[:40]}
    query = {k: v for k, v in filters.items() if v and not errors}
    return render(
        request,
        "staff/tally.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "tally_page": True,
            "tally": tally,
            "months": _months(tally) if tally else None,
            "sections": sections,
            "filters": filters,
            "errors": errors,
            "csv_query": f"?{urlencode(query)}" if query else "",
            "date_from": _shown_date(date_from) if date_from else "",
            "date_to": _shown_date(date_to) if date_to else "",
        },
    )


def _range_detail(date_from: date | None, date_to: date | None) -> dict:
    return {
        "from": date_from.isoformat() if date_from else "",
        "to": date_to.isoformat() if date_to else "",
    }


@never_cache
@login_required
@require_GET
def tally_csv(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """GET /staff/procedures/<id>/tally.csv?from=&to= — the choice tallies as CSV (UTF-8 with BOM):
    質問, 選択肢, 件数, 割合（%）, after a 回答者数 row. Audited as an export. A date that cannot be read
    gives the 集計 page with the message (400), never a file."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.SEE_ANSWERS)
    date_from, date_to, errors = date_range(request)
    if errors:
        response = tally_page(request, procedure_id)
        response.status_code = 400
        return response
    with translation.override("ja"):  # exports are always Japanese
        tally = tally_procedure(procedure, date_from=date_from, date_to=date_to, text_limit=0)
        rows = list(csv_rows(tally))
    audit.record(
        organization=procedure.organization,
        actor=request.user,
        action="submission.export",
        obj=procedure,
        detail={"format": "csv", "encoding": "utf-8", "report": "tally", **_range_detail(date_from, date_to)},
    )
    response = StreamingHttpResponse(
        exporting.csv_stream(CSV_HEADER, rows, encoding="utf-8"), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().astimezone(JST).strftime("%Y%m%d-%H%M")
    filename = f"{procedure.title}_集計_{stamp}.csv"
    response["Content-Disposition"] = (
        f"attachment; filename=\"tally.csv\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
