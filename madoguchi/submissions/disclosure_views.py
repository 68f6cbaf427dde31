"""開示請求 and 個人情報ファイル簿 pages, for an organization's admin (submissions/disclosure.py)."""

import csv
import io
import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext

from madoguchi.accounts import access, reauth
from madoguchi.audit import services as audit
from madoguchi.submissions import disclosure, paper
from madoguchi.submissions.paper_views import content_disposition


@login_required
def privacy(request: HttpRequest, code: str) -> HttpResponse:
    """「保有個人情報の開示」: look up a 受付番号 or an e-mail address; see what is held; download it as JSON
    (and the attachments as a ZIP). The download asks for the password again (本人確認) and is audited."""
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    context = {"organization": organization, "query": ""}
    if request.method != "POST":
        return render(request, "staff/privacy/disclosure.html", context)
    query = request.POST.get("query", "")[:1000]
    context["query"] = query
    try:
        kind, cases = disclosure.find(organization, query)
    except disclosure.DisclosureError as exc:
        context["error"] = str(exc)
        return render(request, "staff/privacy/disclosure.html", context, status=400)
    action = request.POST.get("action", "search")
    if action in ("json", "zip"):
        if (confirm := reauth.check(request, download=True)) is not None:
            return confirm
        numbers = [c.display_receipt_number for c in cases]
        audit.record(
            organization=organization,
            actor=request.user,
            action="privacy.disclosure",
            obj=organization,
            detail={"format": action, "receipt_numbers": numbers[:200], "count": len(numbers)},
        )
        stamp = timezone.localtime().strftime("%Y%m%d")
        if action == "json":
            body = json.dumps(
                disclosure.document(organization, kind, cases, query), ensure_ascii=False, indent=2
            )
            response = HttpResponse(body.encode(), content_type="application/json; charset=utf-8")
            response["Content-Disposition"] = content_disposition(
                f"開示データ_{stamp}.json", f"disclosure_{stamp}.json"
            )
            return response
        response = StreamingHttpResponse(paper.attachments_zip(list(cases)), content_type="application/zip")
        response["Content-Disposition"] = content_disposition(
            f"開示_添付ファイル_{stamp}.zip", f"disclosure_{stamp}.zip"
        )
        return response
    context["document"] = disclosure.document(organization, kind, cases, query)
    context["found"] = len(context["document"]["申請"]) + len(context["document"]["一時保存"])
    return render(request, "staff/privacy/disclosure.html", context)


@login_required
def file_register(request: HttpRequest, code: str) -> HttpResponse:
    """「個人情報ファイル簿」: one row per procedure; ?format=csv for a CSV (UTF-8 with BOM, for Excel)."""
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    rows = disclosure.file_register(organization)
    if request.GET.get("format") == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(disclosure.REGISTER_COLUMNS)
        for row in rows:
            writer.writerow([row[c] for c in disclosure.REGISTER_COLUMNS])
        response = HttpResponse(out.getvalue().encode(), content_type="text/csv; charset=utf-8")
        name = gettext("個人情報ファイル簿_%(name)s.csv") % {"name": organization.name}
        response["Content-Disposition"] = content_disposition(name, "file_register.csv")
        return response
    return render(
        request,
        "staff/privacy/register.html",
        {"organization": organization, "rows": rows, "columns": disclosure.REGISTER_COLUMNS},
    )
