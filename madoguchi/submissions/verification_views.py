"""E-mail verification before a form (Procedure.requires_email_verification), and the recovery of a lost
問い合わせ番号. No JavaScript needed.

Verification: the form page first asks for an address (gate); a one-time link goes out through the outbox;
opening it shows a page whose button (a POST: a mail scanner's GET spends nothing) marks the address
verified in that browser's session for the procedure and opens the form, its e-mail field filled and not
editable. The final submit checks the session again (check_submit): a forged POST is refused and what was
typed goes back into the form. Tokens are kept hashed (notifications.EmailVerification), 24 hours, once.

Recovery: the resident gives a 受付番号 and an e-mail address; when the submission was given with that
address, its 問い合わせ番号 is e-mailed there (never anywhere else). The page says the same either way.
"""

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from madoguchi.audit import services as audit
from madoguchi.lib import japanese as ja
from madoguchi.lib.client import client_address
from madoguchi.lib.receipt import parse_receipt_number
from madoguchi.notifications import recovery
from madoguchi.notifications.models import EmailVerification
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import counters, intake
from madoguchi.submissions.models import Submission

VERIFICATION_HOURS = 24
SENDS_PER_ADDRESS_PER_HOUR = 5
SENDS_PER_SESSION_PER_HOUR = 5
TOKEN_PARAMETER = "t"  # noqa: S105 (the name of the link's parameter)
RECOVERY_PER_RECEIPT = 3  # e-mails asked for one 受付番号 in RECOVERY_WINDOW_SECONDS
RECOVERY_PER_CLIENT = 20  # asks from one client address in RECOVERY_WINDOW_SECONDS
RECOVERY_WINDOW_SECONDS = 60 * 60

TOO_MANY_SENDS_MESSAGE = gettext_lazy(
    "確認メールを短い時間に何度も送っています。1時間ほど時間をおいてから、もう一度お試しください。"
    "届いていない場合は、迷惑メールのフォルダもご確認ください。"
)
NOT_VERIFIED_MESSAGE = gettext_lazy(
    "この手続は、メールアドレスを確認してから送信できます。確認メールのリンクを開いてから、もう一度お進みください。"
    "入力した内容はそのまま残っています。"
)
VERIFIED_MESSAGE = gettext_lazy("メールアドレスを確認しました。入力を始めてください。")
RECOVERY_SENT_MESSAGE = gettext_lazy(
    "入力された受付番号とメールアドレスの組み合わせで申請を受け付けている場合は、そのメールアドレスに"
    "問い合わせ番号をお送りしました。数分たっても届かないときは、入力内容を確かめるか、担当課にお問い合わせください。"
)
RECOVERY_TOO_MANY_MESSAGE = gettext_lazy(
    "短い時間に何度も依頼があったため、しばらく受け付けられません。1時間ほど時間をおいてお試しください。"
)


def _verified_key(procedure_id: int) -> str:
    return f"verified:{procedure_id}"


def verified_email(request: HttpRequest, procedure: Procedure) -> str:
    """The address this browser verified for the procedure ("" when none)."""
    return request.session.get(_verified_key(procedure.pk), "")


def _session_hash(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return hashlib.sha256(request.session.session_key.encode()).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _start_url(procedure: Procedure) -> str:
    return reverse(
        "public:verify_start", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


def _form_url(procedure: Procedure) -> str:
    return reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


# The hooks of the resident's path ----------------------------------------------------------------------


def gate(request: HttpRequest, procedure: Procedure) -> HttpResponse | None:
    """Called first by the form page: None when the procedure needs no verification or this browser has
    verified an address for it (the form's e-mail field then takes that address, whatever was posted, and
    the page shows it read-only); otherwise a redirect to the page that asks for the address. What a form
    posted without a verified session (the session ended meanwhile) is kept for after the verification."""
    if not procedure.requires_email_verification:
        return None
    email = verified_email(request, procedure)
    spec = procedure.current_version.spec
    if not email:
        if request.method == "POST":
            _keep_posted_answers(request, procedure, spec)
        return redirect(_start_url(procedure))
    request.verified_email = email
    if spec.email_field:
        request.verified_email_field = spec.email_field
        if request.method == "POST":
            posted = request.POST.copy()
            posted[spec.email_field] = email
            request.POST = posted
    return None


def _keep_posted_answers(request: HttpRequest, procedure: Procedure, spec) -> None:
    from madoguchi.submissions.resident_views import _state_key

    key = _state_key(procedure)
    saved = request.session.get(key) or {}
    if saved.get("raw") or str(procedure.current_version_id) != request.POST.get("version", ""):
        return
    raw = intake.read_raw(spec, request.POST)
    request.session[key] = {
        "version": procedure.current_version_id,
        "raw": raw,
        "staged": {},
        "token": secrets.token_urlsafe(24),
    }


def check_submit(request: HttpRequest, procedure: Procedure, confirmed: dict, submit_args: dict):
    """Called by the final submit (ORM path) of a procedure: None, with submit_args["applicant_email"] set
    to the verified address, when this browser verified one (and the confirmed answers carry no other);
    otherwise a redirect to the verification page, the confirmed answers back in the form. A procedure
    without verification: None, nothing changed."""
    if not procedure.requires_email_verification:
        return None
    email = verified_email(request, procedure)
    if email and (not confirmed.get("e") or confirmed["e"].lower() == email.lower()):
        submit_args["applicant_email"] = email
        return None
    from madoguchi.submissions.resident_views import _refill_from_confirmed

    if confirmed.get("v") == procedure.current_version_id:
        _refill_from_confirmed(request, procedure, confirmed, lost_files=list(confirmed.get("s", {})))
    messages.warning(request, NOT_VERIFIED_MESSAGE)
    return redirect(_start_url(procedure))


# The verification pages ----------------------------------------------------------------------------------


def _open_procedure(code: str, procedure_id: int) -> Procedure:
    from madoguchi.submissions.resident_views import _procedure

    return _procedure(code, procedure_id)


@sensitive_variables("token")
def send_verification(*, request: HttpRequest, procedure: Procedure, email: str) -> EmailVerification:
    """Create a one-time link for `email` (normalized) and queue it through the outbox. Raises
    ja.InputError (Japanese, for the field) when the address or this browser asked too often."""
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    session_hash = _session_hash(request)
    if (
        EmailVerification.objects.filter(email=email, created_at__gte=hour_ago).count()
        >= SENDS_PER_ADDRESS_PER_HOUR
        or EmailVerification.objects.filter(session_hash=session_hash, created_at__gte=hour_ago).count()
        >= SENDS_PER_SESSION_PER_HOUR
    ):
        raise ja.InputError(str(TOO_MANY_SENDS_MESSAGE))
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Links expired for a day are of no use to anyone: the addresses in them go (of every procedure).
        EmailVerification.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
        verification = EmailVerification.objects.create(
            organization_id=procedure.organization_id,
            procedure=procedure,
            email=email,
            token_hash=_hash(token),
            session_hash=session_hash,
            created_at=now,
            expires_at=now + timedelta(hours=VERIFICATION_HOURS),
        )
        link = f"{settings.SITE_URL}{reverse('public:verify_open')}?{urlencode({TOKEN_PARAMETER: token})}"
        recovery.queue_verification_email(
            procedure=procedure, to=email, link=link, expires_at=verification.expires_at
        )
    return verification


@never_cache
@sensitive_post_parameters("email")
@require_http_methods(["GET", "POST"])
def verify_start(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """The address the link is sent to: asked before the form of a procedure that verifies it."""
    procedure = _open_procedure(code, procedure_id)
    if not procedure.requires_email_verification:
        return redirect(_form_url(procedure))
    context = {"procedure": procedure, "organization": procedure.organization, "email": "", "error": ""}
    if request.method == "GET":
        context["email"] = request.GET.get("email", "")[:254] if request.GET.get("again") else ""
        context["verified"] = verified_email(request, procedure)
        return render(request, "submissions/verify_start.html", context)
    typed = request.POST.get("email", "")[:254]
    context["email"] = typed
    try:
        email = ja.normalize_email(ja.remove_control_characters(typed))
        send_verification(request=request, procedure=procedure, email=email)
    except ja.InputError as exc:
        context["error"] = str(exc)
        status = 429 if str(exc) == str(TOO_MANY_SENDS_MESSAGE) else 400
        return render(request, "submissions/verify_start.html", context, status=status)
    request.session["verify_sent_to"] = email
    return redirect(
        reverse(
            "public:verify_sent", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
        )
    )


@never_cache
def verify_sent(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    procedure = _open_procedure(code, procedure_id)
    return render(
        request,
        "submissions/verify_sent.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "email": request.session.get("verify_sent_to", ""),
            "hours": VERIFICATION_HOURS,
        },
    )


def _invalid(request: HttpRequest, verification: EmailVerification | None, reason: str) -> HttpResponse:
    procedure = verification.procedure if verification is not None else None
    return render(
        request,
        "submissions/verify_invalid.html",
        {
            "procedure": procedure,
            "organization": procedure.organization if procedure else None,
            "email": verification.email if verification is not None else "",
            "reason": reason,
        },
        status=410 if verification is not None else 404,
    )


@never_cache
@sensitive_post_parameters(TOKEN_PARAMETER)
@require_http_methods(["GET", "POST"])
def verify_open(request: HttpRequest) -> HttpResponse:
    """The link of the e-mail. GET shows what it is for and a button; the POST of that button spends it."""
    token = (request.POST if request.method == "POST" else request.GET).get(TOKEN_PARAMETER, "")[:100]
    verification = (
        EmailVerification.objects.select_related("procedure__organization")
        .filter(token_hash=_hash(token))
        .first()
        if token
        else None
    )
    if verification is None:
        return _invalid(request, None, "unknown")
    procedure = verification.procedure
    if verified_email(request, procedure).lower() == verification.email.lower():
        return redirect(_form_url(procedure))  # this browser opened it already: on to the form
    now = timezone.now()
    if verification.used_at is not None:
        return _invalid(request, verification, "used")
    if verification.expires_at <= now:
        return _invalid(request, verification, "expired")
    if procedure.status != Procedure.Status.PUBLISHED or procedure.reception_state() != "open":
        return redirect(_form_url(procedure))  # the form page says it is closed
    if request.method == "GET":
        return render(
            request,
            "submissions/verify_open.html",
            {
                "procedure": procedure,
                "organization": procedure.organization,
                "email": verification.email,
                "token": token,
            },
        )
    # Once only, whoever clicks first: the conditional UPDATE decides.
    spent = EmailVerification.objects.filter(
        pk=verification.pk, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        return _invalid(request, verification, "used")
    request.session[_verified_key(procedure.pk)] = verification.email
    messages.success(request, VERIFIED_MESSAGE)
    return redirect(_form_url(procedure))


# 問い合わせ番号を忘れた方 ---------------------------------------------------------------------------------


def _count(key: str) -> int:
    """Count one ask under `key` in one statement (counters.hit): simultaneous asks cannot pass together."""
    return counters.hit(key, RECOVERY_WINDOW_SECONDS)


@transaction.atomic
def resend_inquiry_code(*, receipt_number: str, email: str) -> bool:
    """Queue the 問い合わせ番号 of the submission with this 受付番号 (10 digits) to its applicant_email when
    that is `email` (compared ignoring case and width). Audited (submission.inquiry_code_resent). Returns
    whether one was queued; callers never show it (the page says the same either way)."""
    submission = (
        Submission.objects.select_related("organization").filter(receipt_number=receipt_number).first()
    )
    if submission is None or not submission.applicant_email:
        return False
    given = ja.to_halfwidth_ascii(email).strip().lower()
    if given != ja.to_halfwidth_ascii(submission.applicant_email).strip().lower():
        return False
    recovery.queue_inquiry_code_email(submission=submission)
    audit.record(
        organization=submission.organization,
        actor="申請者",
        action="submission.inquiry_code_resent",
        obj=submission,
    )
    return True


@never_cache
@sensitive_post_parameters("email", "receipt_number")
@require_http_methods(["GET", "POST"])
def inquiry_recovery(request: HttpRequest) -> HttpResponse:
    """「問い合わせ番号を忘れた方」: 受付番号 and e-mail address in, the same answer out."""
    context = {"receipt": "", "email": "", "errors": {}, "sent": False, "sent_message": RECOVERY_SENT_MESSAGE}
    if request.method == "GET":
        context["sent"] = bool(request.session.pop("inquiry_recovery_sent", False))
        return render(request, "submissions/status_forgot.html", context)
    receipt_text = request.POST.get("receipt_number", "")[:40]
    email_text = request.POST.get("email", "")[:254]
    context.update(receipt=receipt_text, email=email_text)
    receipt = parse_receipt_number(ja.remove_control_characters(receipt_text))
    if receipt is None:
        context["errors"]["receipt_number"] = gettext(
            "受付番号が正しくありません。10桁の数字を確かめてください（例：4821-0395-76）。"
        )
    email = ""
    try:
        email = ja.normalize_email(ja.remove_control_characters(email_text))
    except ja.InputError as exc:
        context["errors"]["email"] = str(exc)
    if context["errors"]:
        return render(request, "submissions/status_forgot.html", context, status=400)
    client_key = counters.key_of("inquiry-recovery:client", client_address(request))
    receipt_key = counters.key_of("inquiry-recovery:receipt", receipt)
    if _count(client_key) > RECOVERY_PER_CLIENT or _count(receipt_key) > RECOVERY_PER_RECEIPT:
        context["errors"]["form"] = str(RECOVERY_TOO_MANY_MESSAGE)
        return render(request, "submissions/status_forgot.html", context, status=429)
    resend_inquiry_code(receipt_number=receipt, email=email)
    request.session["inquiry_recovery_sent"] = True
    return redirect("public:inquiry_recovery")
