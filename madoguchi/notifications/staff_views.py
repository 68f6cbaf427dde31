"""Staff pages of notifications: messages to the resident on a submission, and a procedure's e-mail texts."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.accounts import access
from madoguchi.lib import japanese as ja
from madoguchi.notifications import services, texts
from madoguchi.notifications.models import EmailText, OutgoingEmail


@login_required
@require_POST
def send_message(request: HttpRequest, submission_id: int) -> HttpResponse:
    """Staff who process the submission write to the resident (services.send_message)."""
    submission = access.access_submission_for_user(request.user, submission_id, access.PROCESS)
    body = request.POST.get("body", "")[:20000]
    try:
        services.send_message(submission=submission, author=request.user, body=body)
    except services.MessageError as exc:
        # Shown at the message box, with what was typed (cut only far beyond the limit).
        request.session[f"message:{submission.pk}"] = {
            "body": ja.remove_control_characters(body[:4000]),  # the session is JSON: no NUL on PostgreSQL
            "error": str(exc),
        }
    else:
        request.session.pop(f"message:{submission.pk}", None)
        messages.success(
            request,
            gettext(
                "申請者にメッセージを送りました（状況確認画面に表示し、メールアドレスがあればメールでも送ります）。"
            ),
        )
    return redirect(reverse("staff:submission", kwargs={"submission_id": submission.pk}) + "#messages")


def _kind_rows(procedure) -> list[dict]:
    own = set(
        EmailText.objects.filter(organization_id=procedure.organization_id, procedure=procedure).values_list(
            "kind", flat=True
        )
    )
    return [
        {"kind": kind, "name": texts.KINDS[kind][0], "own": kind in own}
        for kind in texts.kinds_for(procedure.kind)
    ]


@login_required
def email_texts(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The procedure's e-mails to residents, each with its own text or the default; for its editors."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    return render(
        request,
        "notifications/email_texts.html",
        {"procedure": procedure, "organization": procedure.organization, "kinds": _kind_rows(procedure)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def email_text_edit(request: HttpRequest, procedure_id: int, kind: str) -> HttpResponse:
    """Edit one e-mail text: 「プレビュー」 fills it with sample values, 「保存する」 stores it, 「既定の文面に戻す」
    removes the procedure's own. A refused text is shown again as typed, with the reason (status 400)."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.BUILD)
    if kind not in texts.kinds_for(procedure.kind):
        raise Http404
    subject, body, own = services.email_text(procedure, kind)
    context = {
        "procedure": procedure,
        "organization": procedure.organization,
        "kind": kind,
        "kind_name": texts.KINDS[kind][0],
        "placeholders": texts.KINDS[kind][1],
        "own": own,
        "error": None,
        "preview": None,
    }
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "reset":
            services.reset_email_text(procedure=procedure, kind=kind, actor=request.user)
            messages.success(request, gettext("既定の文面に戻しました。"))
            return redirect("staff:email_text", procedure_id=procedure.pk, kind=kind)
        subject = request.POST.get("subject", "")[:1000]
        body = request.POST.get("body", "")[:20000]
        try:
            if action == "save":
                services.save_email_text(
                    procedure=procedure, kind=kind, subject=subject, body=body, actor=request.user
                )
                messages.success(request, gettext("メールの文面を保存しました。"))
                return redirect("staff:email_text", procedure_id=procedure.pk, kind=kind)
            context["preview"] = services.preview_email_text(
                procedure=procedure, kind=kind, subject=subject, body=body
            )
        except texts.TextError as exc:
            context["error"] = str(exc)
    context.update(subject=subject, body=body)
    return render(
        request, "notifications/email_text_edit.html", context, status=400 if context["error"] else 200
    )


FAILED_EMAILS_PAGE = 200


def _failed_emails_for(user, organization):
    """The organization's failed e-mails the user may see: those of the procedures they reach (a member
    limited to their 所属 sees only theirs), and, for the others, also the ones tied to no submission."""
    emails = OutgoingEmail.objects.filter(organization=organization, status=OutgoingEmail.Status.FAILED)
    if access.is_limited_to_departments(user, organization):
        emails = emails.filter(submission__procedure__in=access.procedures_for_user(user))
    return emails


def masked_address(address: str) -> str:
    """ "sakiko@example.jp" → "sa***@example.jp": enough to tell two apart, not the whole address."""
    local, at, domain = address.partition("@")
    return (local[:2] + "***" + at + domain) if at else address[:2] + "***"


@login_required
def failed_emails(request: HttpRequest, code: str) -> HttpResponse:
    """The organization's e-mails that could not be sent (newest first), each with its case and, where it
    can be written again, a 「再送する」 button. For staff who process submissions."""
    organization = access.access_organization_for_user(request.user, code, access.PROCESS)
    rows = list(
        _failed_emails_for(request.user, organization)
        .select_related("submission__procedure")
        .order_by("-created_at", "-id")[:FAILED_EMAILS_PAGE]
    )
    for row in rows:
        row.shown_to = masked_address(row.to)
        row.retryable = services.can_retry(row)
    return render(
        request,
        "notifications/failed_emails.html",
        {"organization": organization, "rows": rows, "limit": FAILED_EMAILS_PAGE},
    )


@login_required
@require_POST
def retry_email(request: HttpRequest, code: str, email_id: int) -> HttpResponse:
    """Send one failed e-mail again (services.retry_email); back to where the button was."""
    organization = access.access_organization_for_user(request.user, code, access.PROCESS)
    emails = OutgoingEmail.objects.filter(organization=organization, pk=email_id)
    if access.is_limited_to_departments(request.user, organization):
        emails = emails.filter(submission__procedure__in=access.procedures_for_user(request.user))
    email = emails.first()
    if email is None:  # another organization's, or out of the user's 所属
        raise Http404
    try:
        services.retry_email(email=email, actor=request.user)
    except services.RetryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("メールを送信待ちに戻しました。まもなく送信します。"))
    back = request.POST.get("next", "")
    if back == "submission" and email.submission_id:
        return redirect(
            reverse("staff:submission", kwargs={"submission_id": email.submission_id}) + "#emails"
        )
    return redirect("staff:failed_emails", code=organization.code)
