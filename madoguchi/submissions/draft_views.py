"""一時保存 for residents: save what was typed (from any page of a form), get the resume link by e-mail,
open it in any browser. And the 「混雑しています」 page: a form or 確認画面 posted while the site is saturated
is kept as a draft, never lost (madoguchi/overload.py sends those posts here).

No JavaScript needed. The raw resume token is never stored (submissions.drafts) and never logged: the
resume link carries it in the query string (access logs record paths only) and redirects at once.
"""

import secrets
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.lib.timeutil import JST
from madoguchi.procedures import rules
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import drafts, intake, services
from madoguchi.submissions.resident_views import (
    _carried_state,
    _closed_page,
    _procedure,
    _read_confirmed,
    _state_key,
)

BUSY_RETRY_AFTER_SECONDS = 30
RESUMED_MESSAGE = gettext_lazy("一時保存した内容を読み込みました。続きから入力してください。")
RESUMED_FILES_MESSAGE = gettext_lazy(
    "添付ファイルは一時保存されていません。ファイルの項目は、もう一度選んでください。"
)
RESUME_CLOSED_MESSAGE = gettext_lazy(
    "この手続は受付を終了したため、一時保存した内容から続けることはできません。"
)


def _draft_url(procedure: Procedure, *, saved: bool = False) -> str:
    url = reverse("public:draft", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})
    return url + "?saved=1" if saved else url


def _form_email(spec, state: dict) -> str:
    """The form's own e-mail answer, or the address this draft was sent to before ("" when neither)."""
    value = state.get("values", {}).get(spec.email_field) if spec.email_field else None
    if isinstance(value, str) and value:
        return value
    return (state.get("draft") or {}).get("email", "")


@sensitive_variables("saved")
def _save(
    request: HttpRequest, procedure: Procedure, state: dict, *, email: str, token=None, send=True
) -> drafts.SavedDraft:
    """Save the session's state of the form as a draft (raises drafts.DraftError); the session then knows
    the draft, so a later save updates it and the submit deletes it."""
    saved = drafts.save_draft(
        procedure=procedure,
        version=procedure.current_version,
        raw=state.get("raw", {}),
        page=state.get("page", ""),
        application_token=state.get("token") or secrets.token_urlsafe(24),
        email=email,
        draft_id=(state.get("draft") or {}).get("id"),
        token=token,
        send=send,
    )
    draft = saved.draft
    state = {
        **state,
        "token": drafts.draft_content(draft).token,
        "draft": {"id": draft.pk, "email": draft.email, "expires": draft.expires_at.isoformat()},
    }
    request.session[_state_key(procedure)] = state
    return saved


def save_from_form(request: HttpRequest, procedure: Procedure, spec) -> HttpResponse:
    """「一時保存する」 pressed on a page of the form (form_page has kept what was typed in the session): with
    an e-mail address known (the form's answer, or the draft's), save and send at once; else ask for one."""
    state = request.session.get(_state_key(procedure)) or {}
    email = _form_email(spec, state)
    if email:
        try:
            _save(request, procedure, state, email=email)
        except drafts.DraftError as exc:
            messages.warning(request, str(exc))
            return redirect(_draft_url(procedure))
        return redirect(_draft_url(procedure, saved=True))
    return redirect(_draft_url(procedure))


@never_cache
@sensitive_post_parameters("email", "draft_token")
@require_http_methods(["GET", "POST"])
def draft_page(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """GET: ask for the address to send the resume link to (or, with ?saved=1, say the draft was saved).
    POST: save the session's answers as a draft and e-mail the link."""
    procedure = _procedure(code, procedure_id)
    reception = procedure.reception_state()
    if reception != "open":
        return _closed_page(request, procedure, reception)
    spec = procedure.current_version.spec
    state = request.session.get(_state_key(procedure)) or {}
    form_url = reverse("public:form", kwargs={"code": code, "procedure_id": procedure.pk})
    if not state.get("raw") or state.get("version") != procedure.current_version_id:
        return redirect(form_url)  # nothing typed in this browser yet (or a session that has ended)
    continue_url = f"{form_url}?page={state['page']}" if state.get("page") else form_url
    context = {
        "procedure": procedure,
        "organization": procedure.organization,
        "continue_url": continue_url,
        "has_files": any(f.type == "file" for f in spec.input_fields),
        "email": _form_email(spec, state),
        "error": "",
    }
    draft = state.get("draft") or {}
    if request.method == "GET":
        if request.GET.get("saved") and draft.get("email"):
            context["expires"] = timezone.localtime(datetime.fromisoformat(draft["expires"]), timezone=JST)
            context["email"] = draft["email"]
            return render(request, "submissions/draft_saved.html", context)
        return render(request, "submissions/draft.html", context)
    email = request.POST.get("email", "")[:300]
    try:
        _save(
            request, procedure, state, email=drafts.clean_email(email), token=request.POST.get("draft_token")
        )
    except drafts.DraftError as exc:
        context.update(email=email.strip(), error=str(exc))
        return render(request, "submissions/draft.html", context, status=400)
    return redirect(_draft_url(procedure, saved=True))


@never_cache
@require_GET
@sensitive_variables("token")
def draft_resume(request: HttpRequest) -> HttpResponse:
    """The e-mailed link, opened in any browser: the draft's answers go into this browser's session and the
    form opens where the resident left off. Unknown, replaced or expired link: a page saying so (404); a
    procedure no longer open: the closed page (410)."""
    token = request.GET.get(drafts.RESUME_PARAMETER, "")
    draft = drafts.find_draft(token)
    if draft is None:
        return render(request, "submissions/draft_invalid.html", status=404)
    procedure = draft.procedure
    reception = procedure.reception_state()
    if reception != "open" or procedure.current_version_id is None:
        state = reception if reception != "open" else "not_published"
        message = f"{RESUME_CLOSED_MESSAGE}{services.RECEPTION_MESSAGES[state]}"
        context = {"procedure": procedure, "organization": procedure.organization, "message": message}
        return render(request, "submissions/closed.html", context, status=410)
    version = procedure.current_version
    spec = version.spec
    content = drafts.draft_content(draft)
    raw = content.raw
    if spec.email_field and draft.email and not str(raw.get(spec.email_field) or "").strip():
        # The address given only on the save page is the resident's: the form's own e-mail box starts with it.
        raw = {**raw, spec.email_field: draft.email}
    if draft.form_version_id != version.pk:
        messages.warning(
            request,
            gettext("この手続の入力フォームが更新されました。入力内容を確認して、もう一度お進みください。"),
        )
    page = content.page
    pages = rules.pages_of(spec)
    if len(pages) < 2 or page not in {p.key for p in pages}:
        page = ""
    request.session[_state_key(procedure)] = {
        "version": version.pk,
        "raw": raw,
        "values": intake.parse(spec, intake.as_post(raw), None, staged={}).values,
        "staged": {},
        "token": content.token or secrets.token_urlsafe(24),
        "page": page,
        "draft": {"id": draft.pk, "email": draft.email, "expires": draft.expires_at.isoformat()},
    }
    messages.info(request, RESUMED_MESSAGE)
    if any(f.type == "file" for f in spec.input_fields):
        messages.info(request, RESUMED_FILES_MESSAGE)
    form_url = reverse(
        "public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )
    return redirect(f"{form_url}?page={page}" if page else form_url)


# 混雑しています --------------------------------------------------------------------------------------------


def _posted_state(request: HttpRequest, procedure: Procedure) -> dict:
    """What a POST of one page of the form holds, merged with what the session (or the page's signed carry)
    kept of the other pages: the form_page's reading, without judging it and without storing files."""
    version = procedure.current_version
    spec = version.spec
    saved = request.session.get(_state_key(procedure)) or {}
    if saved.get("version") != version.pk or saved.get("submitted"):
        saved = {}
    if not saved.get("raw"):
        saved = _carried_state(request, procedure) or saved
    pages = rules.pages_of(spec)
    page = next((p for p in pages if p.key == request.POST.get("page")), pages[0])
    paged = len(pages) > 1
    posted = intake.read_raw(spec, request.POST, set(page.fields) if paged else None)
    raw = {**saved.get("raw", {}), **posted} if paged else posted
    state = {
        "version": version.pk,
        "raw": raw,
        "values": intake.parse(spec, intake.as_post(raw), None, staged={}).values,
        "staged": saved.get("staged", {}),
        "token": saved.get("token") or secrets.token_urlsafe(24),
        "page": page.key if paged else "",
        "valid": False,
        "errors": {},
    }
    if saved.get("draft"):
        state["draft"] = saved["draft"]
    return state


def _busy_page(
    request, procedure, saved: drafts.SavedDraft, *, sent: bool, retry: dict | None
) -> HttpResponse:
    form_url = reverse(
        "public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )
    response = render(
        request,
        "submissions/busy.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "resume_url": saved.resume_url,
            "draft_token": saved.token,
            "email": saved.draft.email,
            "sent": sent,
            "expires": timezone.localtime(saved.draft.expires_at, timezone=JST),
            "form_url": form_url,
            "draft_url": _draft_url(procedure),
            "retry": retry,
            "has_files": any(f.type == "file" for f in procedure.current_version.spec.input_fields),
        },
        status=503,
    )
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    _keep_session(request, response)
    return response


def _keep_session(request: HttpRequest, response: HttpResponse) -> None:
    """Django's SessionMiddleware neither saves the session nor sets its cookie on a 5xx answer; the 503 of
    the 混雑 page is the exception: what was typed is in the session, so the form shows it again later."""
    session = request.session
    session.save()
    if session.get_expire_at_browser_close():
        max_age = None
    else:
        max_age = session.get_expiry_age()
    response.set_cookie(
        settings.SESSION_COOKIE_NAME,
        session.session_key,
        max_age=max_age,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE or None,
        httponly=settings.SESSION_COOKIE_HTTPONLY or None,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )


def _save_busy(request, procedure, state: dict, email: str) -> tuple[drafts.SavedDraft, bool]:
    """Save the draft; e-mail the link when an address is known and it may be sent (else only shown)."""
    if email:
        try:
            return _save(request, procedure, state, email=email), True
        except drafts.DraftError:
            pass  # a bad or too often used address: the link is on the page all the same
    return _save(request, procedure, state, email="", send=False), False


@sensitive_post_parameters()
def busy_form(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse | None:
    """A page of the form posted while the site is saturated: everything typed is kept (session and draft)
    and the page says so, with the resume link. None when the procedure is not open (the short page)."""
    procedure = _procedure(code, procedure_id)
    if procedure.reception_state() != "open":
        return None
    state = _posted_state(request, procedure)
    request.session[_state_key(procedure)] = state
    saved, sent = _save_busy(request, procedure, state, _form_email(procedure.current_version.spec, state))
    return _busy_page(request, procedure, saved, sent=sent, retry=None)


@sensitive_post_parameters()
def busy_confirm(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse | None:
    """The 確認画面's submit posted while the site is saturated: nothing is received yet; its signed answers
    (files aside) are kept as a draft, with the resume link and a button to send the same page again."""
    procedure = _procedure(code, procedure_id)
    confirmed = _read_confirmed(request, procedure_id)
    if confirmed is None or procedure.reception_state() != "open":
        return None
    spec = procedure.current_version.spec
    files = set(confirmed["s"])
    session_state = request.session.get(_state_key(procedure)) or {}
    state = {
        "version": procedure.current_version_id,
        "raw": intake.raw_from_values(spec, {k: v for k, v in confirmed["a"].items() if k not in files}),
        "token": confirmed["t"],
        "page": "",
        "draft": {"id": confirmed["d"]} if confirmed.get("d") else session_state.get("draft"),
    }
    saved, sent = _save_busy(request, procedure, state, confirmed.get("e", ""))
    if session_state.get("token") == confirmed["t"]:
        # This browser's form keeps its answers and files; it only learns of the draft.
        request.session[_state_key(procedure)] = {
            **session_state,
            "draft": request.session[_state_key(procedure)]["draft"],
        }
    retry = {
        "action": reverse("public:confirm", kwargs={"code": code, "procedure_id": procedure.pk}),
        "token": confirmed["t"],
        "confirmed": request.POST.get("confirmed", ""),
    }
    return _busy_page(request, procedure, saved, sent=sent, retry=retry)


def busy_response(request: HttpRequest, view_name: str, kwargs: dict) -> HttpResponse | None:
    """The 「混雑しています」 page of a resident's post of the form or the 確認画面, or None for the short one."""
    if request.method != "POST":
        return None
    if view_name == "public:form":
        return busy_form(request, **kwargs)
    if view_name == "public:confirm":
        return busy_confirm(request, **kwargs)
    return None
