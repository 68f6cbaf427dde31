"""Downloads of paper: the 決裁用 PDF, the resident's 控え and a case's attachments as one ZIP.

Staff reach a case only through accounts.access (another organization's case is a 404); a resident
reaches their own 控え only through what their session holds (the completion page's token, or the
status page's lookup by 受付番号 and 問い合わせ番号): never anything personal in a URL. Every download
is audited and sent with Cache-Control: no-store.
"""

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from madoguchi.accounts import access, reauth
from madoguchi.audit import services as audit
from madoguchi.lib.receipt import stored_token
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import paper
from madoguchi.submissions.models import Submission
from madoguchi.submissions.resident_views import DONE_COOKIE, DONE_MAX_AGE, DONE_SALT


def content_disposition(filename: str, ascii_name: str) -> str:
    """attachment; with the Japanese name for browsers (RFC 6266 filename*) and an ASCII one for the rest."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _download(body, *, content_type: str, filename: str, ascii_name: str) -> HttpResponse:
    if isinstance(body, bytes):
        response = HttpResponse(body, content_type=content_type)
    else:
        response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename, ascii_name)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _unavailable(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    response = render(request, template, {**context, "message": paper.FONT_UNAVAILABLE_MESSAGE}, status=503)
    response["Cache-Control"] = "no-store"
    return response


# --- Staff ---------------------------------------------------------------------------------------


@login_required
def case_pdf(request: HttpRequest, submission_id: int) -> HttpResponse:
    """GET /staff/submissions/<id>/case.pdf: the 決裁用 PDF (viewers too: anyone who may read answers)."""
    return _staff_pdf(request, submission_id, "case")


@login_required
def receipt_pdf(request: HttpRequest, submission_id: int) -> HttpResponse:
    """GET /staff/submissions/<id>/receipt.pdf: the resident's 控え, e.g. to post to one who asks."""
    return _staff_pdf(request, submission_id, "receipt")


def _staff_pdf(request: HttpRequest, submission_id: int, document: str) -> HttpResponse:
    """One of a case's PDFs for staff who may read its answers: made, audited, sent as a download."""
    submission = access.access_submission_for_user(request.user, submission_id, access.SEE_ANSWERS)
    try:
        if document == "case":
            body = paper.case_pdf(submission, printed_by=request.user.get_username())
        else:
            body = paper.receipt_pdf(submission)
    except paper.FontUnavailable:
        return _unavailable(request, "staff/paper_unavailable.html", _staff_context(submission))
    audit.record(
        organization=submission.organization,
        actor=request.user,
        action="submission.export",
        obj=submission,
        detail={"format": "pdf", "document": document},
    )
    filename = (paper.case_pdf_filename if document == "case" else paper.receipt_pdf_filename)(submission)
    return _download(
        body,
        content_type="application/pdf",
        filename=filename,
        ascii_name=f"{document}-{submission.receipt_number}.pdf",
    )


@login_required
def files_zip(request: HttpRequest, submission_id: int) -> HttpResponse:
    """GET /staff/submissions/<id>/files.zip: every attachment of the case (補正前 too), streamed."""
    submission = access.access_submission_for_user(request.user, submission_id, access.SEE_ANSWERS)
    if (confirm := reauth.check(request, download=True)) is not None:  # 本人確認 before personal data leaves
        return confirm
    attachment_ids = list(submission.attachments.order_by("pk").values_list("pk", flat=True))
    audit.record(
        organization=submission.organization,
        actor=request.user,
        action="submission.attachment_download",
        obj=submission,
        detail={"format": "zip", "attachments": attachment_ids},
    )
    return _download(
        paper.attachments_zip([submission]),
        content_type="application/zip",
        filename=paper.zip_filename(submission),
        ascii_name=f"files-{submission.receipt_number}.zip",
    )


def _staff_context(submission: Submission) -> dict:
    return {
        "submission": submission,
        "procedure": submission.procedure,
        "organization": submission.organization,
    }


# --- The resident ----------------------------------------------------------------------------------


def _resident_receipt(request: HttpRequest, submission: Submission) -> HttpResponse:
    try:
        body = paper.receipt_pdf(submission)
    except paper.FontUnavailable:
        return _unavailable(
            request,
            "submissions/paper_unavailable.html",
            {"procedure": submission.procedure, "organization": submission.organization},
        )
    audit.record(
        organization=submission.organization,
        actor="申請者",
        action="submission.export",
        obj=submission,
        detail={"format": "pdf", "document": "receipt"},
    )
    return _download(
        body,
        content_type="application/pdf",
        filename=paper.receipt_pdf_filename(submission),
        ascii_name=f"receipt-{submission.receipt_number}.pdf",
    )


@never_cache
def done_receipt_pdf(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """GET /<団体コード>/procedures/<id>/done/receipt.pdf: the 控え of what this browser just sent, found
    as the completion page finds it (its signed cookie, or the session); else back to the procedure."""
    procedure = Procedure.objects.filter(pk=procedure_id, organization__code=code).first()
    if procedure is None:
        return redirect("public:organization", code=code)
    saved = request.session.get(f"apply:{procedure.pk}") or {}
    submission = None
    for token in (
        request.get_signed_cookie(DONE_COOKIE, None, salt=DONE_SALT, max_age=DONE_MAX_AGE),
        saved.get("token"),
    ):
        if token and submission is None:
            submission = (
                Submission.objects.filter(token=stored_token(token), procedure=procedure)
                .select_related("procedure__department", "organization", "form_version")
                .first()
            )
    if submission is None:
        return redirect("public:organization", code=code)
    return _resident_receipt(request, submission)


@never_cache
def status_receipt_pdf(request: HttpRequest) -> HttpResponse:
    """GET /status/view/receipt.pdf: the 控え of the application looked up on the status page."""
    pk = request.session.get("status_submission")
    submission = (
        Submission.objects.filter(pk=pk)
        .select_related("procedure__department", "organization", "form_version")
        .first()
        if pk
        else None
    )
    if submission is None:
        return redirect("public:status")
    return _resident_receipt(request, submission)
