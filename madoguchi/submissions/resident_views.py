"""The resident's path: form → 確認画面 → submit → completion; and the status page. No JavaScript needed.

What the resident typed lives in their session between steps (never in URLs), so a page with errors,
the Back button and the 「修正する」 link all show it again.
"""

import functools
import hashlib
import json
import logging
import secrets

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.lib import japanese as ja
from madoguchi.lib.client import client_address
from madoguchi.lib.params import parse_id
from madoguchi.lib.reads import RowRead
from madoguchi.lib.receipt import (
    format_inquiry_code,
    inquiry_code_for,
    parse_inquiry_code,
    parse_receipt_number,
    stored_token,
)
from madoguchi.notifications import services as notify
from madoguchi.procedures import rules
from madoguchi.procedures.models import FormVersion, Procedure
from madoguchi.submissions import counters, drafts, intake, services, status_explanations, verification_views
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import StagedUpload, Status, StatusChange, Submission

logger = logging.getLogger(__name__)

# 「この欄は空のままにしてください」: a field of every resident form that people never see (hidden); programs
# that fill every box give themselves away.
HONEYPOT_FIELD = "_website"  # no field key starts with "_" (formspec), so none can collide
LOOKUP_FAILURES_PER_RECEIPT = 10  # one client at one 受付番号, per window
LOOKUP_FAILURES_PER_CLIENT = 100  # one client at any numbers, per window
# Every client at one 受付番号, per window: 300 in 15 minutes is about 29,000 a day, so guessing a 40-bit
# 問い合わせ番号 stays near 1 in 38 million a day; only guesses from hundreds of addresses can reach it.
LOOKUP_ATTEMPTS_PER_RECEIPT = 300
RESUBMITTED_MESSAGE = gettext_lazy("修正した内容で再提出しました。受付番号は変わりません。")
ANSWERS_SENT_ELSEWHERE_MESSAGE = gettext_lazy(
    "この申請・申込みは、別の画面から先に送信されていました。受け付けたのは先に送信された内容で、"
    "この画面で確認した内容は送信されていません。内容を変えたいときは、担当課にご連絡ください。"
)
FILE_EXPIRED_MESSAGE = gettext_lazy(
    "時間が経ったため、添付ファイルの保存期限が切れました。次のファイルをもう一度選んでください："
    "%(files)s。ほかの入力内容はそのまま残っています。"
)
FILE_AGAIN_MESSAGE = gettext_lazy("このファイルをもう一度選んでください（保存期限が切れました）。")
CONFIRMED_TOO_OLD_MESSAGE = gettext_lazy(
    "確認画面を開いてから時間が経ったため、送信できませんでした。入力内容はそのまま残っています。"
    "内容を確かめて、もう一度お進みください。"
)
LOOKUP_WINDOW_SECONDS = 15 * 60
CONFIRMED_SALT = "madoguchi.confirmed"
CONFIRMED_MAX_AGE = 24 * 60 * 60  # a 確認画面 left open overnight still submits
CARRY_SALT = "madoguchi.carry"
DONE_COOKIE = "madoguchi_done"
DONE_SALT = "madoguchi.done"
# No longer than a session: on a shared PC in a library, the next person must not find the numbers.
DONE_MAX_AGE = settings.SESSION_COOKIE_AGE


# Every step of a resident's path reads the procedure with these, in SQL made once per process
# (lib/reads.py): the same SELECT and instances as select_related, for a quarter of the ORM's CPU.
_PROCEDURE = RowRead(Procedure, related=("organization", "department", "current_version"))
# Whether this browser already sent it, and the completion page: a submission by its token (unique) or id.
_SUBMISSION = RowRead(Submission)


def _procedure(code: str, procedure_id: int) -> Procedure:
    procedure = _PROCEDURE.get(pk=procedure_id, organization__code=code)
    if (
        procedure is None
        or procedure.status == Procedure.Status.DRAFT
        or procedure.current_version_id is None
    ):
        raise Http404
    return procedure


def _state_key(procedure: Procedure) -> str:
    return f"apply:{procedure.pk}"


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def _session_hash(request: HttpRequest) -> str:
    return hashlib.sha256(_session_key(request).encode()).hexdigest()


def _rows(spec, values: dict, only: set[str] | None = None) -> list[dict]:
    """Label and display text of every field the resident was asked (of `only`, one page's), in form order."""
    rows = []
    shown = set(rules.evaluate(spec, values).shown) if spec.has_rules else None
    for field in rules.field_order(spec):
        if (shown is not None and field.key not in shown) or (only is not None and field.key not in only):
            continue
        if field.type == "heading":
            rows.append({"heading": field.shown_label, "text": field.shown_text})
            continue
        rows.append({"label": field.shown_label, "value": intake.display_value(field, values.get(field.key))})
    return rows


def _sections(spec, values: dict, code: str, procedure_id: int) -> list[dict]:
    """The 確認画面 of a form with pages: each page on the resident's path with its answers and a 変更 link
    that comes back to the 確認画面. A form of one page has none (its rows stand alone)."""
    if len(rules.pages_of(spec)) < 2:
        return []
    flow = rules.evaluate(spec, values)
    shown = set(flow.shown)
    url = reverse("public:form", kwargs={"code": code, "procedure_id": procedure_id})
    english = translation.get_language() == "en"
    sections = []
    for page in flow.pages:
        if page.is_exit:
            continue
        sections.append(
            {
                "title": (page.title_en if english and page.title_en else page.title) or "",
                "rows": _rows(spec, values, only=set(page.fields) & shown),
                "change_url": f"{url}?page={page.key}&return=confirm",
            }
        )
    return sections


def _closed_page(request, procedure: Procedure, state: str) -> HttpResponse:
    return render(
        request,
        "submissions/closed.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "message": services.RECEPTION_MESSAGES[state],
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def form_page(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    procedure = _procedure(code, procedure_id)
    state = procedure.reception_state()
    if state != "open":
        return _closed_page(request, procedure, state)
    if (unverified := verification_views.gate(request, procedure)) is not None:
        return unverified  # e-mail verification first (verification_views)
    version = procedure.current_version
    spec = version.spec
    saved = request.session.get(_state_key(procedure), {})
    sent_from_here = _sent_from_here(procedure, saved)
    if saved.get("version") != version.pk or sent_from_here:
        saved = {}  # nothing typed yet, a new version of the form, or already submitted: start afresh
    if request.method == "GET":
        return _render_saved_form(
            request,
            procedure,
            spec,
            saved,
            sent_from_here=sent_from_here,
            page_key=request.GET.get("page") or saved.get("page"),
            return_to_confirm=request.GET.get("return") == "confirm" and bool(saved.get("valid")),
            carry=_carry(procedure, saved) if len(rules.pages_of(spec)) > 1 else "",
        )

    if request.POST.get(HONEYPOT_FIELD):
        # A box no person sees or reaches (hidden, out of the tab order, no autofill) was filled: a program
        # posting every field. Nothing is kept; the same plain page a malformed post gets.
        logger.warning("form post with the honeypot filled refused (procedure %s)", procedure.pk)
        return render(request, "400.html", status=400)
    if not saved.get("raw") and not sent_from_here:
        # The session expired (or was never kept) while this page was open: the page carries the answers of
        # the other pages, signed, so nothing typed before is lost.
        saved = _carried_state(request, procedure) or saved
    posted_version = request.POST.get("version", "")
    staged = saved.get("staged", {})
    # One application, one token, however often it is corrected or confirmed (in one tab or several):
    # whichever 確認画面 is submitted first is the application, and any other gives its 受付番号.
    token = saved.get("token") or secrets.token_urlsafe(24)
    all_pages = rules.pages_of(spec)
    page = next((p for p in all_pages if p.key == request.POST.get("page")), all_pages[0])
    paged = len(all_pages) > 1
    page_keys = set(page.fields) if paged else None
    known = saved.get("values", {}) if paged else {}
    result = intake.parse(spec, request.POST, request.FILES, staged=staged, page_keys=page_keys, known=known)
    raw = {**saved.get("raw", {}), **result.raw} if paged else result.raw
    values = {**{k: v for k, v in known.items() if k not in page.fields}, **result.values}
    form_url = reverse("public:form", kwargs={"code": code, "procedure_id": procedure.pk})
    if _switching_language(request):
        _stage_uploads(request, procedure, result, staged)
        state = _state_for_switch(
            request,
            spec,
            result,
            staged,
            had_errors=bool(saved.get("errors")),
            page_keys=page_keys,
            known=known,
        )
        request.session[_state_key(procedure)] = {
            "version": version.pk,
            "token": token,
            **state,
            "raw": {**raw, **state["raw"]},
            "values": {**values, **result.values},
            "page": page.key,
            **({"draft": saved["draft"]} if saved.get("draft") else {}),
        }
        return _switch_language(request, _page_url(form_url, page, paged))
    if posted_version != str(version.pk):
        # An older version of the page (or a tampered one): keep what still fits and ask to check.
        known_version = FormVersion.objects.filter(procedure=procedure, pk=parse_id(posted_version) or 0)
        messages.warning(
            request,
            gettext("この手続の入力フォームが更新されました。入力内容を確認して、もう一度お進みください。")
            if known_version.exists()
            else gettext("フォームの情報が正しくありません。入力内容を確認して、もう一度お進みください。"),
        )
        request.session[_state_key(procedure)] = {
            "version": version.pk,
            "raw": raw,
            "staged": staged,
            "token": token,
        }
        return redirect("public:form", code=code, procedure_id=procedure.pk)
    _stage_uploads(request, procedure, result, staged)
    values.update({key: staged[key] for key in result.uploads})
    for key in list(staged):
        if (page_keys is None or key in page_keys) and key not in result.values:
            staged.pop(key)
    state = {
        "version": version.pk,
        "raw": raw,
        "values": values,
        "staged": staged,
        "token": token,
        "page": page.key,
    }
    if saved.get("draft"):
        state["draft"] = saved["draft"]
    if "save_draft" in request.POST:
        # 一時保存: keep everything typed as it is, judge nothing, and keep it as a draft.
        from madoguchi.submissions import draft_views

        request.session[_state_key(procedure)] = {**state, "valid": False, "errors": {}}
        return draft_views.save_from_form(request, procedure, spec)
    postal_key = request.POST.get("postal_lookup") or request.POST.get("postal_pick")
    if postal_key:
        # 「住所を検索」 or 「この町域を住所に入れる」: a helper, not a try at the page. The address box is filled
        # (or the resident told why not) at that field; nothing else on the page is judged yet.
        field_key = postal_key if postal_key in result.errors else postal_key.split("__")[0]
        notice = result.errors.get(field_key, "")
        request.session[_state_key(procedure)] = {
            **state, "valid": False, "errors": {}, "notices": {field_key: notice} if notice else {},
        }  # fmt: skip
        return redirect(_page_url(form_url, page, paged) + f"#field-{field_key}")
    changed_items = _change_group_items(spec, page, raw, request.POST)
    going_back = "go_back" in request.POST
    if changed_items or going_back:
        # Another item, one item less, or back a page: keep everything typed, judge nothing yet.
        flow = rules.evaluate(spec, values)
        if going_back:
            keys = [p.key for p in flow.pages]
            position = keys.index(page.key) if page.key in keys else 0
            state["page"] = keys[max(position - 1, 0)] if keys else page.key
        request.session[_state_key(procedure)] = state
        target = next((p for p in all_pages if p.key == state["page"]), page)
        return redirect(
            _page_url(form_url, target, paged) + (f"#field-{changed_items}" if changed_items else "")
        )
    if result.errors:
        # Post/Redirect/Get: the page with the errors is a GET, so the Back button from the 確認画面 (after
        # the resident fixed them) shows the form again instead of asking to resend it.
        request.session[_state_key(procedure)] = {**state, "valid": False, "errors": result.shown_errors}
        return redirect(_page_url(form_url, page, paged))
    if paged:
        flow = rules.evaluate(spec, values)
        keys = [p.key for p in flow.pages]
        following = keys[keys.index(page.key) + 1] if page.key in keys[:-1] else None
        if flow.exit is not None and (following is None or following == flow.exit.key):
            request.session[_state_key(procedure)] = {**state, "valid": False, "page": flow.exit.key}
            return redirect(_page_url(form_url, flow.exit, paged))
        if following is not None and request.POST.get("return_to") != "confirm":
            request.session[_state_key(procedure)] = {**state, "valid": False, "page": following}
            return redirect(f"{form_url}?page={following}")
        # The last page (or a change from the 確認画面): every answer is read again, rules and all.
        whole = intake.parse(spec, intake.as_post(raw), None, staged=staged)
        if whole.flow.exit is not None:
            request.session[_state_key(procedure)] = {**state, "valid": False, "page": whole.flow.exit.key}
            return redirect(_page_url(form_url, whole.flow.exit, paged))
        if whole.errors:
            first = next((p for p in whole.flow.pages if set(p.fields) & set(whole.errors)), page)
            request.session[_state_key(procedure)] = {
                **state, "valid": False, "errors": whole.shown_errors, "page": first.key,
            }  # fmt: skip
            return redirect(_page_url(form_url, first, paged))
        state["values"] = whole.values
    request.session[_state_key(procedure)] = {**state, "valid": True, "errors": {}}
    return redirect("public:confirm", code=code, procedure_id=procedure.pk)


def _carry(procedure: Procedure, saved: dict) -> str:
    """What a page of a form with pages carries, signed, besides its own inputs: the answers typed on the
    other pages (files aside), the application's token and its draft. Read only when the session has lost
    them (_carried_state); the signature stops any change."""
    if not saved.get("raw"):
        return ""
    return signing.dumps(
        {
            "p": procedure.pk,
            "v": saved.get("version"),
            "raw": saved["raw"],
            "t": saved.get("token", ""),
            "d": (saved.get("draft") or {}).get("id"),
        },
        salt=CARRY_SALT,
        compress=True,
    )


def _carried_state(request: HttpRequest, procedure: Procedure) -> dict | None:
    """The session state a page's signed carry (see _carry) stands for, or None when it is missing, forged,
    older than CONFIRMED_MAX_AGE, or of another procedure or version of the form."""
    try:
        carried = signing.loads(request.POST.get("carry", ""), salt=CARRY_SALT, max_age=CONFIRMED_MAX_AGE)
    except signing.BadSignature:
        return None
    version = procedure.current_version
    if carried.get("p") != procedure.pk or carried.get("v") != version.pk:
        return None
    raw = carried.get("raw") or {}
    state = {
        "version": version.pk,
        "raw": raw,
        "values": intake.parse(version.spec, intake.as_post(raw), None, staged={}).values,
        "staged": {},
        "token": carried.get("t") or secrets.token_urlsafe(24),
    }
    if carried.get("d"):
        state["draft"] = {"id": carried["d"]}
    return state


def _page_url(form_url: str, page, paged: bool) -> str:
    return f"{form_url}?page={page.key}" if paged else form_url


def _change_group_items(spec, page, raw: dict, data) -> str | None:
    """「追加する」 or 「削除」 pressed on a repeating group of this page: change the kept input and return the
    group's key. Items after a removed one move up."""
    add, remove = data.get("group_add", ""), data.get("group_remove", "")
    key = add or remove.rpartition(":")[0]
    group = spec.field(key) if key else None
    if group is None or group.type != "group" or key not in page.fields:
        return None
    count = intake.group_count(group, raw)

    def names(index: int) -> list[str]:
        """The input names of one item, in the same order for every item."""
        return [
            name
            for sub in group.fields
            if sub.is_input
            for name in _input_names(intake.item_spec(group, index, sub))
        ]

    if add:
        raw[key + intake.GROUP_COUNT] = str(min(count + 1, group.max_items))
        return key
    index = parse_id(remove.rpartition(":")[2])
    if index is None or index >= count:
        return None
    for i in range(index, count - 1):
        for here, there in zip(names(i), names(i + 1), strict=True):
            raw[here] = raw.get(there, "")
    for name in names(count - 1):
        raw.pop(name, None)
    raw[key + intake.GROUP_COUNT] = str(max(count - 1, 0))
    return key


def _input_names(spec) -> list[str]:
    if spec.type == "file":
        return [f"{spec.key}__remove"]
    return intake.subkeys(spec)


def _staged_ids(saved: dict) -> dict[str, int]:
    """{field key: staged upload id} of the files among the saved answers not yet attached."""
    values = saved["values"]
    return {
        key: item["staged"]
        for key, item in saved.get("staged", {}).items()
        if key in values and "staged" in item
    }


def _claim_staged_files(
    request, procedure, answers: dict, staged_ids: dict
) -> tuple[dict, dict[str, StagedUpload]] | None:
    """Split the confirmed answers into plain values and this session's staged files, or None when a
    staged file is gone (expired, or taken by a submission). Files already attached stay among the values."""
    values = dict(answers)
    staged_rows = {
        row.pk: row
        for row in StagedUpload.objects.filter(
            pk__in=staged_ids.values(), procedure=procedure, session_key_hash=_session_hash(request)
        )
    } if staged_ids else {}  # fmt: skip
    staged_files = {}
    for key, staged_id in staged_ids.items():
        if key not in values:
            continue  # a file for a question the rules no longer show: not attached
        if staged_id not in staged_rows:
            return None
        staged_files[key] = staged_rows[staged_id]
        values.pop(key)
    return values, staged_files


def _stage_uploads(request, procedure, result, staged: dict) -> None:
    """Keep the files of this try on the server, so a page with errors does not ask for them again."""
    for key, (upload, content_type) in result.uploads.items():
        staged_upload = services.stage_upload(
            procedure=procedure, session_key=_session_key(request), upload=upload, content_type=content_type
        )
        staged[key] = {
            "staged": staged_upload.pk,
            "name": staged_upload.original_name,
            "size": staged_upload.size,
        }
        result.values[key] = staged[key]


def _switching_language(request: HttpRequest) -> bool:
    return request.POST.get("switch_language", "") in dict(settings.LANGUAGES)


def _state_for_switch(
    request, spec, result, staged: dict, *, had_errors: bool, page_keys=None, known=None
) -> dict:
    """What the form keeps across a language switch: what was typed, the files still attached (not those
    the resident removed) and, if the page showed errors, the same errors in the new language."""
    kept = {
        key: item
        for key, item in staged.items()
        if key in result.values or (page_keys is not None and key not in page_keys)
    }
    state = {"raw": result.raw, "staged": kept}
    if had_errors:
        with translation.override(request.POST["switch_language"]):
            state["errors"] = intake.parse(
                spec, request.POST, {}, staged=kept, page_keys=page_keys, known=known
            ).shown_errors
    return state


def _switch_language(request: HttpRequest, url: str) -> HttpResponse:
    """The language switch pressed on a form page: what was typed is already kept; set the language as
    Django's set_language view does and show the same form again."""
    response = redirect(url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        request.POST["switch_language"],
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def _render_saved_form(
    request, procedure, spec, saved: dict, *, sent_from_here=None, **render_args
) -> HttpResponse:
    """The form as the session holds it: what was typed, files kept, and the errors of the last try."""
    errors = saved.get("errors", {})
    return _render_form(
        request,
        procedure,
        spec,
        saved.get("raw", {}),
        errors,
        saved.get("staged", {}),
        status=400 if errors else 200,
        sent_from_here=sent_from_here,
        values=saved.get("values", {}),
        notices=saved.get("notices", {}),
        **render_args,
    )


def _condition_text(spec, conditions) -> str:
    """「「世帯の人数」が次以上：2」の場合に答えてください: shown where the browser cannot hide the field."""
    from madoguchi.procedures.formspec import CONDITION_OP_LABELS

    parts = []
    for c in conditions:
        target = spec.field(c.field)
        label = target.shown_label if target else c.field
        value = "、".join(c.value) if isinstance(c.value, list) else (c.value or "")
        if target is not None and target.options and c.value not in (None, "", []):  # not for 空欄でない
            value = "、".join(
                target.shown_option(v) for v in (c.value if isinstance(c.value, list) else [c.value])
            )
        parts.append(
            gettext("「%(label)s」%(op)s%(value)s")
            % {
                "label": label,
                "op": CONDITION_OP_LABELS[c.op],
                "value": gettext("：%(value)s") % {"value": value} if value else "",
            }
        )
    return gettext("%(conditions)s の場合にお答えください。") % {"conditions": gettext("、かつ").join(parts)}


def _field_view(field) -> dict:
    """What the field templates read of a field, as a dict. Django's templates look every name up as a
    key first: on a pydantic model that costs two exceptions per look-up, about a third of the time a
    page of fields took to render."""
    return {
        "key": field.key,
        "type": field.type,
        "required": field.required,
        "help": field.help,
        "text": field.text,
        "unit": field.unit,
        "whole_number": field.whole_number,
        "max_length": field.max_length,
        "max_items": field.max_items,
        "max_size_mb": field.max_size_mb,
        "allowed_types": field.allowed_types,
        "accept": field.accept,
        "max_bytes": field.max_bytes,
        "shown_label": field.shown_label,
        "shown_help": field.shown_help,
        "shown_text": field.shown_text,
        "shown_item_label": field.shown_item_label,
        "shown_options": field.shown_options,
        "split_date": field.split_date,  # the date as 年・月・日 boxes (_field.html)
        "reading": field.reading,  # a name's reading boxes: "", "kana", "latin", "either" (_field.html)
        "script": field.script,
        "past_only": field.past_only,
        "is_birth_date": field.is_birth_date,  # autocomplete="bday" only for a date of birth (_field.html)
    }


_BOXES = {
    "name": ("family", "given", "reading_family", "reading_given"),
    "address": ("postal", "address"),
}


def _boxes_in_error(field, errors: dict) -> tuple[dict[str, bool], str]:
    """Which boxes of a field made of several (a name, an address) its error marks — those the message is
    about (InputError.box), else all — and the id of the box its link in the error summary points to (the
    first marked; a choice's first option; else the field's one box). ({}, key) when it has no error."""
    boxes = _BOXES.get(field.type)
    if boxes is None:
        if field.type in ("single_choice", "multiple_choice"):
            return {}, f"{field.key}-1"
        return {}, field.key
    named = [box for box in errors.get(field.key + intake.BOX, "").split() if box in boxes]
    marked = named or (list(boxes) if field.key in errors else [])
    return {box: True for box in marked}, f"{field.key}__{(marked or boxes)[0]}"


def _field_context(spec, field, raw, errors, staged) -> dict:
    context = {
        "spec": _field_view(field),
        # Every name the templates ask for is there: a missing one costs Django a search through dir()
        # and three exceptions before it reads as empty.
        "page_title": "",
        "show_if": "",
        "condition_text": "",
        "items": [],
        "can_add": False,
        "error": errors.get(field.key),
        "notice": "",
        "value": raw.get(field.key, [] if field.type == "multiple_choice" else ""),
        "family": raw.get(f"{field.key}__family", ""),
        "given": raw.get(f"{field.key}__given", ""),
        "postal": raw.get(f"{field.key}__postal", ""),
        "address": raw.get(f"{field.key}__address", ""),
        "staged": staged.get(field.key),
    }
    context["invalid"], context["error_target"] = _boxes_in_error(field, errors)
    if field.type == "group":
        count = intake.group_count(field, raw)
        context["items"] = [
            {
                "name": intake.item_name(field, index),
                "index": index,
                "fields": [
                    _field_context(spec, intake.item_spec(field, index, sub), raw, {}, {})
                    for sub in field.fields
                ],
            }
            for index in range(count)
        ]
        context["can_add"] = count < field.max_items
    return context


def _render_form(
    request,
    procedure,
    spec,
    raw,
    errors,
    staged,
    status=200,
    *,
    form_action=None,
    correction=None,
    sent_from_here=None,
    preview=None,
    values=None,
    page_key=None,
    return_to_confirm=False,
    carry="",
    notices=None,
) -> HttpResponse:
    """One page of the form (or, for a 補正 and the builder's preview, every page at once). Conditions on
    answers of earlier pages are decided here; a field whose condition depends on the same page is sent
    with its condition, which the page's script applies and the text under it explains."""
    all_pages = rules.pages_of(spec)
    paged = len(all_pages) > 1 and correction is None
    values = values or {}
    page = None
    path: list = []
    if paged:
        path = rules.evaluate(spec, values).pages or all_pages[:1]
        page = next((p for p in path if p.key == page_key), path[0])
        keys = [p.key for p in path]
        decided = {k for p in path[: keys.index(page.key)] for k in p.fields}
        page_fields = [spec.field(k) for k in page.fields if spec.field(k) is not None]
    else:
        decided = set()
        page_fields = rules.field_order(spec)
    fields = []
    headings = {p.fields[0]: p for p in all_pages if p.fields and p.title} if spec.pages and not paged else {}
    for field in page_fields:
        if field.key in headings:
            fields.append(
                {
                    "page_title": headings[field.key].title_en
                    if translation.get_language() == "en" and headings[field.key].title_en
                    else headings[field.key].title
                }
            )
        context = _field_context(spec, field, raw, errors, staged)
        context["notice"] = (notices or {}).get(field.key, "")
        if field.show_if:
            if all(c.field in decided for c in field.show_if):
                if not rules.all_hold(field.show_if, spec, values):
                    continue
            else:
                context["show_if"] = json.dumps(
                    [c.model_dump(mode="json") for c in field.show_if], ensure_ascii=False
                )
                context["condition_text"] = _condition_text(spec, field.show_if)
        fields.append(context)
    error_list = [(f["spec"], f["error"], f["error_target"]) for f in fields if f.get("error")]
    position = path.index(page) if paged else 0
    return render(
        request,
        "submissions/form.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "version": procedure.current_version,
            "form_action": form_action
            or reverse(
                "public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
            ),
            "correction": correction,
            "sent_from_here": sent_from_here,
            "keep_form_id": "apply-form",
            "fields": fields,
            "error_list": error_list,
            "has_files": any(f.type == "file" for f in spec.fields),
            "preview": preview,
            "page": page,
            "page_title": (
                page.title_en if translation.get_language() == "en" and page.title_en else page.title
            )
            if page
            else "",
            "exit_message": (
                page.exit_message_en
                if translation.get_language() == "en" and page.exit_message_en
                else page.exit_message
            )
            if page is not None and page.is_exit
            else "",
            "pages": path,
            "page_number": position + 1,
            "is_first_page": position == 0,
            "is_last_page": not paged or position == len(path) - 1,
            "return_to_confirm": return_to_confirm,
            "has_conditions": any(f.get("show_if") for f in fields),
            "carry": carry,
            "can_save_draft": correction is None and preview is None,
        },
        status=status,
    )


def render_form_preview(
    request, procedure, spec, raw, errors, *, form_action: str, checked: bool, values=None, page_key=None
) -> HttpResponse:
    """The resident's form page for a form not yet published (the builder's preview): the same template,
    pages and checks, with a banner saying nothing is sent. `checked`: every page was just checked."""
    return _render_form(
        request,
        procedure,
        spec,
        raw,
        errors,
        {},
        status=400 if errors else 200,
        form_action=form_action,
        preview={"checked": checked},
        values=values,
        page_key=page_key,
    )


def change_group_items(spec, page, raw: dict, data) -> str | None:
    """「追加する」 or 「削除」 of a repeating group, for the builder's preview too."""
    return _change_group_items(spec, page, raw, data)


def _confirmed_payload(procedure: Procedure, saved: dict) -> str:
    """What the 確認画面 shows, signed, for its submit button to carry: the submit then writes exactly
    what the resident confirmed (even if another tab has since changed the session), without reading
    the session. Only the resident's own answers are in it; the signature stops any change."""
    version = procedure.current_version
    values = saved["values"]
    return signing.dumps(
        {
            "p": procedure.pk,
            "v": version.pk,
            "t": saved["token"],
            "a": values,
            "s": _staged_ids(saved),
            "e": values.get(version.spec.email_field, "") if version.spec.email_field else "",
            "r": version.spec.has_rules,
            "d": (saved.get("draft") or {}).get("id"),
        },
        salt=CONFIRMED_SALT,
        compress=True,
    )


def _shown_answers(confirmed: dict) -> dict:
    """The rules once more at the final click, for a form that has any: only answers to fields the form
    shows are stored. (A form without rules shows every field: nothing to read.)"""
    answers = confirmed["a"]
    if not confirmed.get("r"):
        return answers
    version = FormVersion.objects.filter(pk=confirmed["v"]).only("schema").first()
    return answers if version is None else rules.shown_answers(version.spec, answers)


def _read_confirmed(request: HttpRequest, procedure_id: int, *, stale_ok: bool = False) -> dict | None:
    """The signed answers of the 確認画面 that was submitted, or None (forged, of another page, or older than
    CONFIRMED_MAX_AGE unless `stale_ok`: an old one may refill the form, never be submitted)."""
    max_age = None if stale_ok else CONFIRMED_MAX_AGE
    try:
        confirmed = signing.loads(request.POST.get("confirmed", ""), salt=CONFIRMED_SALT, max_age=max_age)
    except signing.BadSignature:  # also expired, empty or not ours
        return None
    if confirmed.get("p") != procedure_id or confirmed.get("t") != request.POST.get("token"):
        return None
    return confirmed


def _sent_from_here(procedure: Procedure, saved: dict) -> Submission | None:
    """The submission this browser last sent for the procedure, if the session still remembers it: the
    form then says so, so that Back after the completion page does not lead to a second one unawares."""
    if saved.get("submitted"):
        return _SUBMISSION.get(pk=saved["submitted"], procedure=procedure.pk)
    if saved.get("token"):
        return _SUBMISSION.get(token=stored_token(saved["token"]), procedure=procedure.pk)
    return None


def _note_if_other_answers_were_sent(request: HttpRequest, submission: Submission, confirmed: dict) -> None:
    """This 確認画面's answers lost to another tab's, sent first with the same application: say so."""
    files = set(confirmed["s"])
    stored = read_answers(submission)
    if any(stored.get(key) != value for key, value in confirmed["a"].items() if key not in files):
        messages.warning(request, ANSWERS_SENT_ELSEWHERE_MESSAGE)


@never_cache
@sensitive_post_parameters(
    "confirmed", "token"
)  # the answers and the key to the inquiry code: never in error reports
@require_http_methods(["GET", "POST"])
def confirm_page(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    if request.method == "POST":
        return _submit(request, code, procedure_id)
    procedure = _procedure(code, procedure_id)
    saved = request.session.get(_state_key(procedure))
    if saved and _sent_from_here(procedure, saved):
        return redirect("public:done", code=code, procedure_id=procedure.pk)
    state = procedure.reception_state()
    if state != "open":
        return _closed_page(request, procedure, state)
    if not saved or not saved.get("valid") or saved.get("version") != procedure.current_version_id:
        return redirect("public:form", code=code, procedure_id=procedure.pk)
    spec = procedure.current_version.spec
    return render(
        request,
        "submissions/confirm.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "rows": _rows(spec, saved["values"]),
            "sections": _sections(spec, saved["values"], code, procedure.pk),
            "token": saved["token"],
            "confirmed": _confirmed_payload(procedure, saved),
            "form_action": reverse("public:confirm", kwargs={"code": code, "procedure_id": procedure.pk}),
        },
    )


def _lost_files(request: HttpRequest, procedure: Procedure, confirmed: dict) -> list[str]:
    """The file fields of a signed 確認画面 whose staged file this session can no longer claim."""
    staged_ids = {key: staged_id for key, staged_id in confirmed["s"].items() if key in confirmed["a"]}
    found = set(
        StagedUpload.objects.filter(
            pk__in=staged_ids.values(), procedure=procedure, session_key_hash=_session_hash(request)
        ).values_list("pk", flat=True)
    ) if staged_ids else set()  # fmt: skip
    return [key for key, staged_id in staged_ids.items() if staged_id not in found]


def _refill_from_confirmed(
    request: HttpRequest, procedure: Procedure, confirmed: dict, *, lost_files
) -> None:
    """Put the answers of a signed 確認画面 back into this session's form, as if just typed: every answer
    but the files in `lost_files`, which are marked to be chosen again (files still staged for this session
    stay attached). The application keeps its token, and its draft."""
    version = procedure.current_version
    spec = version.spec
    lost = set(lost_files)
    answers = {key: value for key, value in confirmed["a"].items() if key not in lost}
    staged = {key: value for key, value in answers.items() if key in confirmed["s"]}
    first_page = next(
        (p.key for p in rules.evaluate(spec, answers).pages if set(p.fields) & lost), None
    ) if len(rules.pages_of(spec)) > 1 else None  # fmt: skip
    state = {
        "version": version.pk,
        "raw": intake.raw_from_values(spec, answers),
        "values": answers,
        "staged": staged,
        "token": confirmed["t"],
        "valid": False,
        "errors": {key: str(FILE_AGAIN_MESSAGE) for key in lost},
        "page": first_page or "",
    }
    if confirmed.get("d"):
        state["draft"] = {"id": confirmed["d"]}
    request.session[_state_key(procedure)] = state


def _back_to_form(request: HttpRequest, code: str, procedure_id: int, token: str) -> HttpResponse:
    """「入力画面に戻って修正する」 on the 確認画面: back to the form with every answer. When the session no
    longer holds them (it expired, or the cookie was lost), the page's signed answers refill the form (files
    still staged for this browser stay; the others are asked for again)."""
    procedure = _procedure(code, procedure_id)
    saved = request.session.get(_state_key(procedure)) or {}
    if not (saved.get("token") and saved.get("token") == token):
        confirmed = _read_confirmed(request, procedure_id, stale_ok=True)
        if confirmed is not None:
            _refill_from_confirmed(
                request, procedure, confirmed, lost_files=_lost_files(request, procedure, confirmed)
            )
    return redirect(_refill_url(procedure))


def _refill_url(procedure: Procedure) -> str:
    """The form, which opens on the page the state names."""
    return reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


@functools.lru_cache(maxsize=2048)
def _done_url(code: str, procedure_id: int) -> str:
    """The completion page's path (the URLconf does not change while the process runs)."""
    return reverse("public:done", kwargs={"code": code, "procedure_id": procedure_id})


def _to_done(code: str, procedure_id: int, token: str) -> HttpResponse:
    """To the completion page, with the token in a signed cookie only that page receives: it finds the
    submission again from it, also after a double click whose first response the browser dropped."""
    done_url = _done_url(code, procedure_id)
    response = HttpResponseRedirect(done_url)
    response.set_signed_cookie(
        DONE_COOKIE,
        token,
        salt=DONE_SALT,
        max_age=DONE_MAX_AGE,
        path=done_url,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _too_many_submissions(
    request: HttpRequest, code: str, procedure_id: int, token: str, confirmed: dict
) -> HttpResponse:
    """Over the per-client limit: a retry of a case already received still gets its 受付番号; anything else
    is not received, and the page lists what was typed and carries the signed 確認画面 back so that one
    button sends it later."""
    if Submission.objects.filter(token=stored_token(token), procedure=procedure_id).exists():
        return _to_done(code, procedure_id, token)
    procedure = _procedure(code, procedure_id)
    logger.warning("submission refused: too many from one client (procedure %s)", procedure.pk)
    minutes = max(settings.SUBMISSION_WINDOW_SECONDS // 60, 1)
    version = FormVersion.objects.filter(pk=confirmed["v"], procedure=procedure).only("schema").first()
    context = {
        "procedure": procedure,
        "organization": procedure.organization,
        "minutes": minutes,
        "rows": _rows(version.spec, confirmed["a"]) if version is not None else [],
        "retry": {"action": request.path, "token": token, "confirmed": request.POST.get("confirmed", "")},
    }
    return render(request, "submissions/too_many.html", context, status=429)


def _submit(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """The final click. The common case (no file to attach) is one statement and no session access."""
    token = request.POST.get("token", "")[:64]
    if "edit" in request.POST:
        return _back_to_form(request, code, procedure_id, token)
    confirmed = _read_confirmed(request, procedure_id)
    if confirmed is None:
        procedure = _procedure(code, procedure_id)
        saved = request.session.get(_state_key(procedure)) or {}
        if token and saved.get("token") == token and _sent_from_here(procedure, saved):
            # This browser's own submission, sent again from a page too old to carry its answers.
            return _to_done(code, procedure_id, token)
        stale = _read_confirmed(request, procedure_id, stale_ok=True)
        if stale is not None and procedure.reception_state() == "open":
            # A 確認画面 left open for longer than it may submit: its answers go back into the form.
            _refill_from_confirmed(request, procedure, stale, lost_files=list(stale["s"]))
            messages.warning(request, CONFIRMED_TOO_OLD_MESSAGE)
            return redirect(_refill_url(procedure))
        messages.warning(
            request, gettext("入力内容の有効期限が切れました。お手数ですが、もう一度入力してください。")
        )
        return redirect("public:form", code=procedure.organization.code, procedure_id=procedure.pk)
    # Submissions of one procedure from one client address (settings.SUBMISSIONS_PER_CLIENT per
    # settings.SUBMISSION_WINDOW_SECONDS): one program cannot take a sign-up's seats, while a family, or a
    # 公民館's Wi-Fi or a carrier's shared address, still applies freely. Counted in one statement before
    # the write (counters.hit; on PostgreSQL without files, inside the submit's own statement), so a burst
    # cannot pass the limit together.
    client_key = counters.key_of("submit:client", str(procedure_id), client_address(request))
    submit_args = {
        "answers": _shown_answers(confirmed),
        "token": token,
        "applicant_email": confirmed["e"],
        "language": translation.get_language(),
    }
    if not confirmed["s"] and services.one_statement_available():
        try:
            result = services.submit_confirmed(
                organization_code=code,
                procedure_id=procedure_id,
                version_id=confirmed["v"],
                client_key=client_key,
                client_window_seconds=settings.SUBMISSION_WINDOW_SECONDS,
                client_limit=settings.SUBMISSIONS_PER_CLIENT,
                draft_id=confirmed.get("d"),
                **submit_args,
            )
        except services.TooManyFromClient:
            return _too_many_submissions(request, code, procedure_id, token, confirmed)
        if result is not None:
            if not result.created:
                _note_if_other_answers_were_sent(request, result.submission, confirmed)
                drafts.discard_draft(
                    procedure_id=procedure_id, draft_id=confirmed.get("d"), application_token=token
                )
            return _to_done(code, procedure_id, token)
        # Counted; the procedure is closed, full or changed: read it below and let submit() say.
    elif counters.hit(client_key, settings.SUBMISSION_WINDOW_SECONDS) > settings.SUBMISSIONS_PER_CLIENT:
        return _too_many_submissions(request, code, procedure_id, token, confirmed)
    # Files to attach, SQLite, or a procedure that is closed, full or changed: read it and let submit() say.
    procedure = _procedure(code, procedure_id)
    existing = Submission.objects.filter(token=stored_token(token), procedure=procedure).first()
    if existing is not None:
        # A retry whose first answer was lost: received then, whatever has closed or changed since.
        _note_if_other_answers_were_sent(request, existing, confirmed)
        return _to_done(code, procedure_id, token)
    if (
        unverified := verification_views.check_submit(request, procedure, confirmed, submit_args)
    ) is not None:
        return unverified  # a procedure that verifies e-mail, submitted without (verification_views)
    version = FormVersion.objects.filter(pk=confirmed["v"], procedure=procedure).first()
    try:
        if version is None:
            raise services.VersionChanged(str(services.VERSION_CHANGED_MESSAGE))
        claimed = _claim_staged_files(request, procedure, submit_args["answers"], confirmed["s"])
        if claimed is None:
            if Submission.objects.filter(token=stored_token(token), procedure=procedure).exists():
                return _to_done(code, procedure_id, token)  # the other click of a double click took the files
            # The session ended (or the files expired) since the 確認画面: every other answer goes back into
            # the form from the signed 確認画面; only the files are asked for again, by name.
            lost = _lost_files(request, procedure, confirmed)
            spec = procedure.current_version.spec
            _refill_from_confirmed(request, procedure, confirmed, lost_files=lost)
            labels = "、".join(
                f"「{spec.field(key).shown_label}」" for key in lost if spec.field(key) is not None
            )
            messages.warning(request, FILE_EXPIRED_MESSAGE % {"files": labels})
            return redirect(_refill_url(procedure))
        values, staged_files = claimed
        result = services.submit(
            procedure=procedure,
            version=version,
            staged_files=staged_files,
            **{**submit_args, "answers": values},
        )
        if not result.created:
            _note_if_other_answers_were_sent(request, result.submission, confirmed)
        drafts.discard_draft(procedure_id=procedure.pk, draft_id=confirmed.get("d"), application_token=token)
    except services.VersionChanged as exc:
        messages.warning(request, str(exc))
        # Onto the new version with what was typed: the form shows it again to check and continue. Without
        # the session (it expired), what was typed comes from the signed 確認画面, files aside.
        saved = request.session.get(_state_key(procedure)) or {}
        files = set(confirmed["s"])
        request.session[_state_key(procedure)] = {
            "version": procedure.current_version_id,
            "raw": saved.get("raw")
            or intake.raw_from_values(
                procedure.current_version.spec,
                {key: value for key, value in confirmed["a"].items() if key not in files},
            ),
            "staged": saved.get("staged", {}),
            "token": token,
        }
        return redirect("public:form", code=procedure.organization.code, procedure_id=procedure.pk)
    except services.DuplicateSubmission as exc:
        # One per e-mail address or key (duplicate_rule): told with the earlier 受付番号, nothing typed lost.
        _refill_from_confirmed(request, procedure, confirmed, lost_files=[])
        if exc.field_key:
            state = request.session[_state_key(procedure)]
            state["errors"] = {exc.field_key: str(exc)}
            pages = rules.evaluate(procedure.current_version.spec, state["values"]).pages
            state["page"] = next((p.key for p in pages if exc.field_key in p.fields), state["page"])
        messages.error(request, str(exc))
        return redirect(_refill_url(procedure))
    except services.SubmissionError as exc:
        return render(
            request,
            "submissions/closed.html",
            {
                "procedure": procedure,
                "organization": procedure.organization,
                "message": str(exc),
                "not_received": True,
            },
            status=409,
        )
    return _to_done(code, procedure_id, token)


@never_cache
def done_page(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    procedure = _procedure(code, procedure_id)
    saved = request.session.get(_state_key(procedure)) or {}
    submission = None
    for token in (request.get_signed_cookie(DONE_COOKIE, None, salt=DONE_SALT, max_age=DONE_MAX_AGE),
                  saved.get("token")):  # fmt: skip
        if token and submission is None:
            submission = _SUBMISSION.get(token=stored_token(token), procedure=procedure.pk)
    if submission is None:
        return redirect("public:organization", code=code)
    if saved.get("token") and stored_token(saved["token"]) == submission.token and "values" in saved:
        # Submitted: the answers leave the session. The token stays, for Back and reload.
        request.session[_state_key(procedure)] = {"submitted": submission.pk, "token": saved["token"]}
    return render(
        request,
        "submissions/done.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "submission": submission,
            "inquiry_code": format_inquiry_code(inquiry_code_for(submission.token)),
            # Sent after a 一時保存 in this browser: the draft (and its e-mailed link) is gone.
            "draft_discarded": bool(saved.get("draft")),
        },
    )


def _lookup_keys(request: HttpRequest, receipt: str | None) -> tuple[str, str | None, str | None]:
    """Attempt counters (submissions/counters.py): one per client address (generous: a 公民館's Wi-Fi or a
    carrier shares one), one per 受付番号 and client (strict: one person's guesses at one number), and one per
    受付番号 from every client together (for guesses spread over many addresses; high, so that a stranger
    who knows the number cannot lock its owner out by guessing from one place)."""
    address = client_address(request)
    client = counters.key_of("status-lookup:client", address)
    pair = counters.key_of("status-lookup:pair", address, receipt) if receipt else None
    number = counters.key_of("status-lookup:receipt", receipt) if receipt else None
    return client, pair, number


@never_cache
@require_http_methods(["GET", "POST"])
def status_lookup(request: HttpRequest) -> HttpResponse:
    """「申請状況の確認」: 受付番号 and 問い合わせ番号 (40 bits). Each attempt is counted before the code is
    checked, in one statement per counter, so a burst of simultaneous guesses gets at most the limit checked;
    a success forgets that client's attempts at the number."""
    context = {"receipt": "", "error": None}
    if request.method == "POST":
        receipt_text = request.POST.get("receipt_number", "")[:40]
        code_text = request.POST.get("inquiry_code", "")[:40]
        context["receipt"] = receipt_text
        receipt = parse_receipt_number(receipt_text)
        client_key, pair_key, receipt_key = _lookup_keys(request, receipt)
        window = LOOKUP_WINDOW_SECONDS
        if counters.hit(client_key, window) > LOOKUP_FAILURES_PER_CLIENT:
            context["error"] = gettext(
                "確認に続けて失敗したため、しばらく確認できません。15分ほど時間をおいてお試しください。"
            )
            return render(request, "submissions/status_lookup.html", context, status=429)
        if receipt and (
            counters.hit(pair_key, window) > LOOKUP_FAILURES_PER_RECEIPT
            or counters.hit(receipt_key, window) > LOOKUP_ATTEMPTS_PER_RECEIPT
        ):
            context["error"] = gettext(
                "この受付番号での確認に続けて失敗したため、しばらく確認できません。"
                "15分ほど時間をおいてお試しください。"
            )
            return render(request, "submissions/status_lookup.html", context, status=429)
        code = parse_inquiry_code(code_text)
        submission = Submission.objects.filter(receipt_number=receipt).first() if receipt else None
        if submission and code and services.check_inquiry_code(submission, code):
            counters.clear(pair_key)
            request.session["status_submission"] = submission.pk
            return redirect("public:status_view")
        if receipt is None:
            context["error"] = gettext(
                "受付番号が正しくありません。10桁の数字を確かめてください（例：4821-0395-76）。"
            )
        else:
            context["error"] = gettext(
                "受付番号と問い合わせ番号の組み合わせが見つかりません。入力内容を確かめてください。"
            )
        return render(request, "submissions/status_lookup.html", context, status=400)
    return render(request, "submissions/status_lookup.html", context)


def _looked_up(request: HttpRequest) -> Submission | None:
    pk = request.session.get("status_submission")
    if not pk:
        return None
    return (
        Submission.objects.select_related(
            "procedure", "organization", "form_version", "procedure__department"
        )
        .filter(pk=pk)
        .first()
    )


def _withdraw_draft(request: HttpRequest) -> dict:
    return request.session.get("withdraw_draft") or {}


@never_cache
def status_view(request: HttpRequest) -> HttpResponse:
    submission = _looked_up(request)
    if submission is None:
        return redirect("public:status")
    spec = submission.form_version.spec
    kind = submission.procedure.kind
    history = [
        {
            "change": h,
            "to": services.status_label(kind, h.to_status),
            "reopened": h.from_status in services.DECIDED and h.to_status == Status.IN_REVIEW,
        }
        for h in submission.history.all()
    ]
    # The reason typed for a 取下げ stays until it is done (cancelling the confirmation keeps it); an error
    # is shown once.
    withdraw_draft = _withdraw_draft(request)
    if withdraw_draft.get("error"):
        request.session["withdraw_draft"] = {"reason": withdraw_draft.get("reason", "")}
    reply_draft = request.session.pop(f"reply_draft:{submission.pk}", None) or {}
    can_withdraw = services.can_withdraw(submission)
    can_reply = notify.can_reply(submission)
    return render(
        request,
        "submissions/status_view.html",
        {
            "submission": submission,
            "procedure": submission.procedure,
            "organization": submission.organization,
            "status_text": services.status_label(kind, submission.status),
            "explanation": status_explanations.explain(kind, submission.status),
            "processing_days": submission.procedure.standard_processing_days
            if kind != Procedure.Kind.SURVEY
            else None,
            "expected_date": status_explanations.expected_decision_date(submission)
            if submission.status in (Status.RECEIVED, Status.IN_REVIEW, Status.RETURNED)
            else None,
            "kind_noun": services.kind_noun(kind),
            "is_signup": kind == "signup",
            "history": history,
            "thread": submission.messages.all(),
            "can_reply": can_reply,
            "reply_body": reply_draft.get("body", ""),
            "reply_error": reply_draft.get("error"),
            "rows": _rows(spec, read_answers(submission)),
            "can_withdraw": can_withdraw,
            "can_correct": submission.status == Status.RETURNED,
            "withdraw_reason": withdraw_draft.get("reason", ""),
            "withdraw_error": withdraw_draft.get("error"),
            "keep_form_id": "withdraw-form" if can_withdraw else "reply-form" if can_reply else None,
            "Status": Status,
        },
    )


@require_POST
def status_reply(request: HttpRequest) -> HttpResponse:
    """The resident writes to staff (notifications.services.receive_reply). A refused text comes back in the
    box with the reason; a closed case says so."""
    submission = _looked_up(request)
    if submission is None:
        return redirect("public:status")
    body = request.POST.get("body", "")[:20000]
    # The session is JSON: no NUL on PostgreSQL, and no more than the box could hold.
    kept = {"body": ja.remove_control_characters(body[:4000])}
    if _switching_language(request):
        request.session[f"reply_draft:{submission.pk}"] = kept
        return _switch_language(request, reverse("public:status_view") + "#reply")
    try:
        notify.receive_reply(submission=submission, body=body)
    except notify.MessageError as exc:
        request.session[f"reply_draft:{submission.pk}"] = {**kept, "error": str(exc)}
        return redirect(reverse("public:status_view") + "#reply")
    messages.success(request, gettext("担当課にメッセージを送りました。"))
    return redirect(reverse("public:status_view") + "#messages")


@require_POST
def status_withdraw(request: HttpRequest) -> HttpResponse:
    """Step one of a 取下げ: the reason is checked and kept in the session; the confirmation page follows."""
    submission = _looked_up(request)
    if submission is None:
        return redirect("public:status")
    typed = request.POST.get("reason", "")[:1000]
    if _switching_language(request):
        # The language switch pressed while typing a reason: keep it, withdraw nothing.
        request.session["withdraw_draft"] = {"reason": typed}
        return _switch_language(request, reverse("public:status_view") + "#withdraw")
    try:
        reason = services.check_withdrawal(submission=submission, reason=typed)
    except services.SubmissionError as exc:
        # Shown at the reason box itself (the page is long on a phone), with what was typed.
        request.session["withdraw_draft"] = {
            "reason": ja.remove_control_characters(typed),
            "error": str(exc),
        }
        return redirect(reverse("public:status_view") + "#reason")  # the box with its message takes the focus
    request.session["withdraw_draft"] = {
        "reason": reason,
        "submission": submission.pk,
        "token": secrets.token_urlsafe(16),
    }
    return redirect("public:status_withdraw_confirm")


@never_cache
@require_http_methods(["GET", "POST"])
def status_withdraw_confirm(request: HttpRequest) -> HttpResponse:
    """Step two: 「本当に取り下げますか」 with the reason typed. 「取り下げる」 does it (services.withdraw) and the
    resident is e-mailed; 「戻る」 returns to the status page with the reason still in its box."""
    submission = _looked_up(request)
    if submission is None:
        return redirect("public:status")
    draft = _withdraw_draft(request)
    if not draft.get("token") or draft.get("submission") != submission.pk:
        # A second click after it was done, or the page opened without step one.
        return redirect("public:status_view")
    if not services.can_withdraw(submission):
        request.session.pop("withdraw_draft", None)
        messages.info(request, gettext("この申請は、いまは取り下げられない状態です。"))
        return redirect("public:status_view")
    kind = submission.procedure.kind
    if request.method == "GET":
        return render(
            request,
            "submissions/status_withdraw_confirm.html",
            {
                "submission": submission,
                "procedure": submission.procedure,
                "organization": submission.organization,
                "reason": draft["reason"],
                "token": draft["token"],
                "is_signup": kind == "signup",
                "status_text": services.status_label(kind, submission.status),
                "keep_form_id": "withdraw-confirm-form",
            },
        )
    if _switching_language(request):
        return _switch_language(request, reverse("public:status_withdraw_confirm"))
    if request.POST.get("token", "") != draft["token"]:
        return redirect("public:status_withdraw_confirm")
    try:
        services.withdraw(submission=submission, reason=draft["reason"])
    except services.SubmissionError as exc:
        request.session["withdraw_draft"] = {"reason": draft["reason"], "error": str(exc)}
        return redirect(reverse("public:status_view") + "#reason")
    request.session.pop("withdraw_draft", None)
    if kind == "signup":
        done = gettext("申込をキャンセルしました。")
    else:
        done = gettext("%(noun)sを取り下げました。") % {"noun": services.kind_noun(kind)}
    if submission.applicant_email:
        done += gettext("確認のメールを送ります。")
    messages.success(request, done)
    return redirect("public:status_view")


@require_POST
def status_end(request: HttpRequest) -> HttpResponse:
    request.session.pop("status_submission", None)
    return redirect("public:status")


def _correction_key(submission: Submission) -> str:
    return f"correct:{submission.pk}"


def _returned_for_correction(request: HttpRequest) -> Submission | HttpResponse:
    submission = _looked_up(request)
    if submission is None:
        return redirect("public:status")
    if submission.status != Status.RETURNED:
        request.session.pop(_correction_key(submission), None)
        messages.info(
            request,
            gettext("この申請は、いまは修正できる状態ではありません（返却中のときに修正できます）。"),
        )
        return redirect("public:status_view")
    return submission


def _correction_context(submission: Submission) -> dict:
    returned = submission.history.filter(to_status=Status.RETURNED).order_by("-created_at", "-id").first()
    return {"submission": submission, "reason": returned.reason if returned else ""}


@never_cache
@require_http_methods(["GET", "POST"])
def status_correct(request: HttpRequest) -> HttpResponse:
    """補正: the resident fixes a returned submission, on the form version it was made with."""
    submission = _returned_for_correction(request)
    if isinstance(submission, HttpResponse):
        return submission
    procedure = submission.procedure
    spec = submission.form_version.spec
    saved = request.session.get(_correction_key(submission))
    if saved is None:
        answers = read_answers(submission)
        kept = {k: v for k, v in answers.items() if isinstance(v, dict) and "attachment" in v}
        saved = {"raw": intake.raw_from_values(spec, answers), "staged": kept}
    render_args = {
        "form_action": reverse("public:status_correct"),
        "correction": _correction_context(submission),
    }
    if request.method == "GET":
        return _render_saved_form(request, procedure, spec, saved, **render_args)
    staged = dict(saved["staged"])
    result = intake.parse(spec, request.POST, request.FILES, staged=staged)
    _stage_uploads(request, procedure, result, staged)
    if _switching_language(request):
        request.session[_correction_key(submission)] = _state_for_switch(
            request, spec, result, staged, had_errors=bool(saved.get("errors"))
        )
        return _switch_language(request, reverse("public:status_correct"))
    request.session[_correction_key(submission)] = {
        "raw": result.raw,
        "values": result.values,
        "staged": {k: v for k, v in staged.items() if k in result.values},
        "token": secrets.token_urlsafe(24),
        "valid": not result.errors,
        "errors": result.shown_errors,
    }
    if result.errors:
        return redirect("public:status_correct")  # Post/Redirect/Get, as on the first form
    return redirect("public:status_correct_confirm")


@never_cache
@require_http_methods(["GET", "POST"])
def status_correct_confirm(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and "edit" in request.POST:
        # 「入力画面に戻って修正する」: the answers stay in the session
        return redirect("public:status_correct")
    if request.method == "POST" and _already_resubmitted(request):
        # A double click on 「再提出する」: the first click did it, this one says so again.
        messages.success(request, RESUBMITTED_MESSAGE)
        return redirect("public:status_view")
    submission = _returned_for_correction(request)
    if isinstance(submission, HttpResponse):
        return submission
    saved = request.session.get(_correction_key(submission))
    if not saved or not saved.get("valid"):
        return redirect("public:status_correct")
    procedure = submission.procedure
    if request.method == "GET":
        return render(
            request,
            "submissions/confirm.html",
            {
                "procedure": procedure,
                "organization": submission.organization,
                "rows": _rows(submission.form_version.spec, saved["values"]),
                "token": saved["token"],
                "form_action": reverse("public:status_correct_confirm"),
                "resubmit": True,
            },
        )
    if request.POST.get("token", "") != saved["token"]:
        return redirect("public:status_correct_confirm")
    claimed = _claim_staged_files(request, procedure, saved["values"], _staged_ids(saved))
    if claimed is None:
        messages.warning(request, FILE_EXPIRED_MESSAGE)
        return redirect("public:status_correct")
    values, staged_files = claimed
    try:
        done = services.resubmit(submission=submission, answers=values, staged_files=staged_files)
    except services.SubmissionError as exc:
        messages.error(request, str(exc))
        return redirect("public:status_correct")
    request.session.pop(_correction_key(submission), None)
    if done or _last_move_was_resubmit(submission.pk):  # or the other click of a double click did it
        request.session[f"resubmitted:{submission.pk}"] = saved["token"]
        messages.success(request, RESUBMITTED_MESSAGE)
    return redirect("public:status_view")


def _already_resubmitted(request: HttpRequest) -> bool:
    token = request.POST.get("token", "")
    looked_up = request.session.get("status_submission")
    if not token or not looked_up:
        return False
    if request.session.get(f"resubmitted:{looked_up}") == token:
        return True
    # Both clicks in flight at once: the second found it already moved to 処理待ち by the first.
    saved = request.session.get(f"correct:{looked_up}") or {}
    return saved.get("token") == token and _last_move_was_resubmit(looked_up)


def _last_move_was_resubmit(submission_id: int) -> bool:
    last = StatusChange.objects.filter(submission_id=submission_id).order_by("-created_at", "-id").first()
    return last is not None and last.actor_kind == "resident" and last.reason == services.RESUBMIT_REASON
