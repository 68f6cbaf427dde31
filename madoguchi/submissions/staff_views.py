"""Back office: inbox, detail, status changes, notes, attachments and exports of one procedure."""

import secrets
import tempfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.accounts import access, reauth
from madoguchi.accounts.models import Role
from madoguchi.audit import services as audit
from madoguchi.audit.models import AuditLog
from madoguchi.lib import envelope, exporting, search, tenancy
from madoguchi.lib import japanese as ja
from madoguchi.lib.params import parse_id
from madoguchi.lib.receipt import parse_receipt_number
from madoguchi.lib.timeutil import jst_date, jst_start_of_day
from madoguchi.notifications.models import Message
from madoguchi.procedures import rules
from madoguchi.stats.services import status_counts
from madoguchi.submissions import exports, intake, services, upload_checks
from madoguchi.submissions.answers import read_answers, read_revision
from madoguchi.submissions.models import ExportFile, Status, Submission

PAGE_SIZE = 50


def _date_filter(text: str, label: str, errors: list[str]):
    if not text:
        return None
    try:
        return ja.parse_date(text)
    except ja.InputError as exc:
        errors.append(gettext("%(label)s：%(message)s") % {"label": label, "message": exc})
        return None


# The inbox's filters that travel in its links; the search words never do (personal data stays out of
# URLs and logs): they are kept in the session, and the link carries a short random key ("s").
INBOX_PARAMS = ("status", "from", "to", "receipt", "assignee", "overdue", "order", "s")
INBOX_ORDERS = {"new": gettext_lazy("到達の新しい順"), "old": gettext_lazy("到達の古い順")}
SEARCH_SESSION_KEY = "inbox_searches"
SEARCHES_KEPT = 20
# What a search box may send back to be shown again (a longer text is refused, and kept to this much).
SEARCH_TYPED_KEPT = 20000


def _remember_search(request: HttpRequest, procedure, words: str) -> str:
    """The key of these search words for this procedure in the session (the last SEARCHES_KEPT are kept)."""
    searches = dict(request.session.get(SEARCH_SESSION_KEY) or {})
    for key, entry in searches.items():
        if entry == [procedure.pk, words]:
            return key
    key = secrets.token_urlsafe(6)
    searches[key] = [procedure.pk, words]
    while len(searches) > SEARCHES_KEPT:
        searches.pop(next(iter(searches)))
    request.session[SEARCH_SESSION_KEY] = searches
    return key


def _remembered_search(request: HttpRequest, procedure, key: str) -> str | None:
    entry = (request.session.get(SEARCH_SESSION_KEY) or {}).get(key)
    return entry[1] if entry and entry[0] == procedure.pk else None


def _search_problem(typed: str) -> str | None:
    if len(typed) > search.MAX_QUERY_LENGTH:
        return gettext(
            "検索語は%(max)s文字以内で入力してください（入力されたのは%(length)s文字です）。"
            "氏名・ふりがな・電話番号・メールアドレス・回答の一部で探せます。"
        ) % {"max": search.MAX_QUERY_LENGTH, "length": f"{len(typed):,}"}
    return None


def _is_overdue(submission: Submission, today, processing_days: int | None) -> bool:
    """期限切れ: the 補正期限 passed while 返却中 (the resident may correct through that whole day), or the
    標準処理期間 (calendar days after the JST arrival date) passed while 処理待ち or 処理中."""
    if submission.status == Status.RETURNED:
        return submission.correction_deadline is not None and submission.correction_deadline < today
    if submission.status in (Status.RECEIVED, Status.IN_REVIEW) and processing_days is not None:
        return submission.submitted_at < jst_start_of_day(today - timedelta(days=processing_days))
    return False


def _overdue_filter(today, processing_days: int | None) -> Q:
    """The same rule as _is_overdue, as a filter (each branch an index range of sub_inbox_status)."""
    late = Q(status=Status.RETURNED, correction_deadline__lt=today)
    if processing_days is not None:
        late |= Q(
            status__in=[Status.RECEIVED, Status.IN_REVIEW],
            submitted_at__lt=jst_start_of_day(today - timedelta(days=processing_days)),
        )
    return late


@login_required
@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The procedure's submissions, 50 a page, filtered, searched and sorted; a search box's words arrive
    by POST, are kept in the session and the page is shown again under a key (never the words) in its URL."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.SEE_ANSWERS)
    errors: list[str] = []
    if request.method == "POST":
        params = {k: request.POST.get(k, "")[:40] for k in INBOX_PARAMS if k != "s"}
        typed = request.POST.get("q", "")[:SEARCH_TYPED_KEPT]
        problem = _search_problem(typed)
        if problem is None:
            words = search.strip_controls(typed).strip()
            if words and search.fold_query(words):
                params["s"] = _remember_search(request, procedure, words)
            query = urlencode({k: v for k, v in params.items() if v})
            url = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
            return redirect(f"{url}?{query}" if query else url)
        errors.append(problem)
        return _inbox_page(request, procedure, params, words=None, typed=typed, errors=errors)
    params = {k: request.GET.get(k, "")[:40] for k in INBOX_PARAMS}
    words = ""
    if params["s"]:
        remembered = _remembered_search(request, procedure, params["s"])
        if remembered is None:
            errors.append(
                gettext(
                    "この検索はもう使えません（検索語はこのブラウザーに一時的に保存されます）。もう一度検索してください。"
                )
            )
            words = None
        else:
            words = remembered
    return _inbox_page(request, procedure, params, words=words, typed=words or "", errors=errors)


def _unanswered_replies(submission_ids: list[int]) -> set[int]:
    """The cases among `submission_ids` whose last message is the resident's (未返信): one query a page."""
    if not submission_ids:
        return set()
    last: dict[int, str] = {}
    rows = (
        Message.objects.filter(submission_id__in=submission_ids)
        .order_by("submission_id", "created_at", "id")
        .values_list("submission_id", "direction")
    )
    for submission_id, direction in rows:
        last[submission_id] = direction
    return {pk for pk, direction in last.items() if direction == Message.Direction.FROM_RESIDENT}


def _inbox_page(request, procedure, params: dict, *, words: str | None, typed: str, errors: list[str]):
    """words: the search words ("" none; None: a search that could not be made, which shows nothing)."""
    submissions = Submission.objects.filter(organization_id=procedure.organization_id, procedure=procedure)
    if words is None:
        submissions = submissions.none()
    elif words:
        found = tenancy.submissions_containing(search.search_condition(search.fold_query(words)))
        receipt_in_words = parse_receipt_number(words.strip())
        if receipt_in_words is not None:
            # A 受付番号 typed into the search box finds its case too (ten digits may also be a phone number).
            found |= Q(receipt_number=receipt_in_words)
        submissions = submissions.filter(found)
    status = params.get("status", "")
    if status in Status.values:
        submissions = submissions.filter(status=status)
    error_count = len(errors)
    date_from = _date_filter(params.get("from", "").strip(), gettext("到達日（から）"), errors)
    date_to = _date_filter(params.get("to", "").strip(), gettext("到達日（まで）"), errors)
    if len(errors) > error_count:
        submissions = submissions.none()  # a date that could not be read filters nothing in: show nothing
    if date_from and date_to and date_from > date_to:
        errors.append(
            gettext("到達日：「から」の日付が「まで」の日付より後になっています。入れ替えてください。")
        )
        submissions = submissions.none()
    if date_from:
        submissions = submissions.filter(submitted_at__gte=jst_start_of_day(date_from))
    if date_to:
        submissions = submissions.filter(submitted_at__lt=jst_start_of_day(date_to + timedelta(days=1)))
    receipt_text = params.get("receipt", "").strip()
    if receipt_text:
        receipt = parse_receipt_number(receipt_text)
        if receipt is None:
            digits = [c for c in ja.to_halfwidth_ascii(receipt_text) if c.isascii() and c.isdigit()]
            errors.append(
                gettext("受付番号：10桁の数字を確かめてください（確認用の数字が合いません）")
                if len(digits) == 10
                else gettext("受付番号：10桁の数字で入力してください（例：4821-0395-76）")
            )
            submissions = submissions.none()
        else:
            submissions = submissions.filter(receipt_number=receipt)
    colleagues = list(access.processors_of_procedure(procedure).values_list("pk", "username"))
    assignee = params.get("assignee", "")
    if assignee == "me":
        submissions = submissions.filter(assignee_id=request.user.pk)
    elif assignee == "none":
        submissions = submissions.filter(assignee__isnull=True)
    elif assignee:
        if parse_id(assignee) in {pk for pk, _ in colleagues}:
            submissions = submissions.filter(assignee_id=parse_id(assignee))
        else:
            errors.append(gettext("担当者：この団体の処理担当者から選んでください。"))
            submissions = submissions.none()
    today = jst_date(timezone.now())
    processing_days = procedure.standard_processing_days
    if params.get("overdue"):
        submissions = submissions.filter(_overdue_filter(today, processing_days))
    order = params.get("order") if params.get("order") in INBOX_ORDERS else "new"
    after = params.get("after", "") or request.GET.get("after", "")
    cursor = None
    if parse_id(after):
        cursor = (
            Submission.objects.filter(
                organization_id=procedure.organization_id, procedure=procedure, pk=parse_id(after)
            )
            .values_list("submitted_at", "id")
            .first()
        )
    if cursor:
        # Keyset paging in arrival order, either way: page 20,000 costs what page 1 costs.
        arrived, pk = cursor
        if order == "new":
            submissions = submissions.filter(submitted_at__lte=arrived).filter(
                Q(submitted_at__lt=arrived) | Q(id__lt=pk)
            )
        else:
            submissions = submissions.filter(submitted_at__gte=arrived).filter(
                Q(submitted_at__gt=arrived) | Q(id__gt=pk)
            )
    page = list(
        submissions.select_related("assignee")
        .only(
            "id",
            "receipt_number",
            "status",
            "submitted_at",
            "correction_deadline",
            "applicant_name",
            "applicant_kana",
            "assignee__username",
        )
        .order_by(*(("-submitted_at", "-id") if order == "new" else ("submitted_at", "id")))[: PAGE_SIZE + 1]
    )
    has_next = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    for submission in page:
        submission.overdue = _is_overdue(submission, today, processing_days)
        submission.status_text = services.status_label(procedure.kind, submission.status)
    unanswered = _unanswered_replies([submission.pk for submission in page])
    for submission in page:
        submission.unanswered = submission.pk in unanswered
    query = {k: v for k, v in params.items() if k in INBOX_PARAMS and v and not (k == "s" and words is None)}
    next_url = f"?{urlencode({**query, 'after': page[-1].id})}" if has_next else None
    first_url = f"?{urlencode(query)}" if cursor else None
    counts = status_counts([procedure.pk])[procedure.pk]
    kind_statuses = _kind_statuses(procedure)
    role = access.roles_for_user(request.user).get(procedure.organization_id)
    return render(
        request,
        "staff/inbox.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "submissions": page,
            "counts": [(s, counts.get(s.value, 0)) for s in kind_statuses],
            "total": sum(counts.values()),
            "filters": {
                "status": status,
                "from": params.get("from", ""),
                "to": params.get("to", ""),
                "receipt": receipt_text,
                "assignee": assignee,
                "overdue": bool(params.get("overdue")),
                "order": order,
                "q": typed,
            },
            "searching": bool(words),
            "errors": errors,
            "next_url": next_url,
            "first_url": first_url,
            "back": f"?{urlencode({**query, 'after': after})}" if cursor else f"?{urlencode(query)}",
            "statuses": kind_statuses,
            "orders": INBOX_ORDERS.items(),
            "colleagues": colleagues,
            "processing_days": processing_days,
            "role": role,
            "can_process": role in access.PROCESS,
            "bulk_targets": _bulk_targets(procedure),
            "attachments_zip": _attachments_zip() is not None,
            "max_query_length": search.MAX_QUERY_LENGTH,
        },
    )


# Bulk actions on the inbox's selection ---------------------------------------------------------------


class _KindStatus:
    """A status as a procedure of its kind names it (value, label): for the inbox's tabs and filter."""

    def __init__(self, value: str, label: str):
        self.value, self.label = value, label

    def __eq__(self, other) -> bool:
        return self.value == getattr(other, "value", other)

    __hash__ = None  # compared by value only, never a key


def _kind_statuses(procedure) -> list[_KindStatus]:
    """The statuses a submission of this kind can have, in the kind's words (a survey has no 返却中, 却下 or
    取下げ; a sign-up's 完了 is 受付済み): services.transitions_for, KIND_WITHDRAWABLE."""
    reachable = {Status.RECEIVED}
    for from_status, to_status in services.transitions_for(procedure.kind):
        reachable |= {from_status, to_status}
    if services.KIND_WITHDRAWABLE.get(procedure.kind, services.RESIDENT_WITHDRAWABLE):
        reachable.add(Status.WITHDRAWN)
    return [
        _KindStatus(s.value, services.status_label(procedure.kind, s))
        for s in Status
        if s != Status.DRAFT and s in reachable
    ]


def _bulk_targets(procedure) -> list[tuple[str, str]]:
    """The statuses staff may move the procedure's submissions to (its kind's status machine), in the
    machine's order, with their buttons' words."""
    targets = {to for (_from, to) in services.transitions_for(procedure.kind)}
    return [(s.value, services.action_label(procedure.kind, s)) for s in Status if s in targets]


def _attachments_zip():
    """paper.attachments_zip(submissions) -> Iterator[bytes], where the installation has it."""
    try:
        from madoguchi.submissions import paper
    except ImportError:
        return None
    return getattr(paper, "attachments_zip", None)


def _inbox_back(request: HttpRequest, procedure) -> str:
    """The inbox page the selection was made on (its query string only: never another site)."""
    url = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
    back = request.POST.get("back", "")
    if back.startswith("?") and len(back) <= 1000 and back.isascii() and "\\" not in back:
        return url + back
    return url


def _selected_ids(request: HttpRequest) -> list[int]:
    """The ids of the ticked rows, in the order sent, each once. Anything but an id is a forged post: 404."""
    ids = []
    for text in request.POST.getlist("ids"):
        pk = parse_id(text)
        if pk is None:
            raise Http404
        ids.append(pk)
    return list(dict.fromkeys(ids))


@login_required
@require_POST
def inbox_bulk(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The inbox's selection: change the status of each (after a confirmation page), export them as CSV,
    or download their attachments as a ZIP. A selection naming a submission that is not this procedure's
    (another organization's, a forged post) is a 404 and changes nothing."""
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.PROCESS)
    back = _inbox_back(request, procedure)
    ids = _selected_ids(request)
    if not ids:
        messages.error(request, gettext("申請を1件以上選んでから操作してください。"))
        return redirect(back)
    if len(ids) > services.BULK_MAX:
        messages.error(
            request,
            gettext("一度に操作できるのは%(max)s件までです。") % {"max": f"{services.BULK_MAX:,}"},
        )
        return redirect(back)
    if services.count_of_procedure(procedure, ids) != len(ids):
        raise Http404
    action = request.POST.get("action", "")
    if action in ("csv", "attachments") and (confirm := reauth.check(request, download=True)) is not None:
        return confirm  # 本人確認 before personal data leaves
    if action == "csv":
        return _bulk_csv(request, procedure, ids)
    if action == "attachments":
        attachments_zip = _attachments_zip()
        if attachments_zip is None:
            raise Http404
        return _bulk_attachments(request, procedure, ids, attachments_zip)
    if action not in ("status", "confirm"):
        messages.error(request, gettext("操作を選んでください。"))
        return redirect(back)
    draft = {
        "to": request.POST.get("to", "")[:20],
        "reason": request.POST.get("reason", "")[:10000],  # over 4,000 is refused by the service, not cut
        "deadline": request.POST.get("deadline", "").strip()[:40],
    }
    error = ""
    if action == "confirm":
        try:
            deadline = ja.parse_date(draft["deadline"]) if draft["deadline"] else None
            result = services.bulk_transition(
                procedure=procedure,
                submission_ids=ids,
                to_status=draft["to"],
                actor=request.user,
                reason=draft["reason"],
                deadline=deadline,
            )
        except (services.SubmissionError, ja.InputError) as exc:
            error = str(exc)
        else:
            if result.moved:
                messages.success(
                    request,
                    gettext("%(count)s件を「%(status)s」に変更しました。")
                    % {
                        "count": f"{result.moved:,}",
                        "status": services.status_label(procedure.kind, draft["to"]),
                    },
                )
            if result.refused:
                messages.error(
                    request,
                    (
                        gettext("次の%(count)s件は変更できませんでした（ほかの申請は変更しました）：%(list)s")
                        if result.moved
                        else gettext(
                            "次の%(count)s件は変更できませんでした（変更した申請はありません）：%(list)s"
                        )
                    )
                    % {
                        "count": f"{len(result.refused):,}",
                        "list": gettext("、").join(
                            gettext("%(receipt)s（%(reason)s）") % {"receipt": r, "reason": why}
                            for r, why in result.refused
                        ),
                    },
                )
            return redirect(back)
    rows = (
        Submission.objects.filter(organization_id=procedure.organization_id, procedure=procedure, pk__in=ids)
        .only("id", "receipt_number", "status", "applicant_name", "submitted_at")
        .order_by("-submitted_at", "-id")
    )
    return render(
        request,
        "staff/inbox_bulk.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "rows": rows.iterator(chunk_size=200),
            "count": len(ids),
            "ids": ids,
            "draft": draft,
            "error": error,
            "targets": _bulk_targets(procedure),
            "back": request.POST.get("back", ""),
            "back_url": back,
        },
        status=400 if error else 200,
    )


def _bulk_csv(request: HttpRequest, procedure, ids: list[int]) -> StreamingHttpResponse:
    """The selected cases as the export page's CSV (the same writer, audit entry and replacement report)."""
    encoding, purpose = csv_options(request.POST)
    return csv_export_response(request, procedure, encoding=encoding, purpose=purpose, submission_ids=ids)


def _bulk_attachments(request: HttpRequest, procedure, ids: list[int], attachments_zip) -> HttpResponse:
    audit.record(
        organization=procedure.organization,
        actor=request.user,
        action="submission.attachment_download",
        obj=procedure,
        detail={"format": "zip", "selected": len(ids)},
    )
    submissions = Submission.objects.filter(
        organization_id=procedure.organization_id, procedure=procedure, pk__in=ids
    ).order_by("-submitted_at", "-id")
    response = StreamingHttpResponse(attachments_zip(submissions), content_type="application/zip")
    response["Content-Disposition"] = _content_disposition(f"{procedure.title}_添付ファイル.zip")
    return response


def _answer_rows(submission: Submission) -> list[dict]:
    spec = submission.form_version.spec
    answers = read_answers(submission)
    attachments = {a.pk: a for a in submission.attachments.all()}
    # Questions the resident's answers did not lead to were never asked: they are left out.
    shown = set(rules.evaluate(spec, answers).shown) if spec.has_rules else None
    rows = []
    for field in rules.field_order(spec):
        if shown is not None and field.key not in shown:
            continue
        if field.type == "heading":
            rows.append({"heading": field.label})
            continue
        value = answers.get(field.key)
        attachment = attachments.get(value.get("attachment")) if isinstance(value, dict) else None
        rows.append(
            {
                "label": field.label,
                "value": intake.display_value(field, value),
                "attachment": attachment,
                "active_content": upload_checks.active_content_labels(attachment.active_content)
                if attachment
                else [],
                # A PDF that could not be read through: said as such, not as content that runs
                "unreadable_pdf": attachment is not None
                and "unreadable" in attachment.active_content.split(","),
            }
        )
    return rows


def _revision_rows(submission: Submission) -> list[dict]:
    """Each earlier set of answers (before a 補正), with only the fields that the resident changed."""
    spec = submission.form_version.spec
    later = read_answers(submission)
    revisions = []
    for revision in reversed(list(submission.revisions.all())):
        before = read_revision(revision)
        changed = [
            {"label": f.label, "before": intake.display_value(f, before.get(f.key))}
            for f in spec.input_fields
            if before.get(f.key) != later.get(f.key)
        ]
        revisions.append({"replaced_at": revision.replaced_at, "changed": changed})
        later = before
    return revisions


@login_required
def detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access.access_submission_for_user(request.user, submission_id, access.SEE_ANSWERS)
    role = access.roles_for_user(request.user)[submission.organization_id]
    kind = submission.procedure.kind
    audit.record(
        organization=submission.organization, actor=request.user, action="submission.view", obj=submission
    )
    draft = request.session.pop(_transition_draft_key(submission), None) or {}
    reopen_draft = request.session.pop(_reopen_draft_key(submission), None) or {}
    message_draft = request.session.pop(f"message:{submission.pk}", None) or {}
    moves = services.moves_for(submission) if role in access.PROCESS else []
    transitions = [m for m in moves if not m.not_yet]
    colleagues = access.processors_of_procedure(submission.procedure)
    history = [
        {
            "change": h,
            "from": services.status_label(kind, h.from_status) if h.from_status else "",
            "to": services.status_label(kind, h.to_status),
        }
        for h in submission.history.select_related("actor")
    ]
    return render(
        request,
        "staff/detail.html",
        {
            "submission": submission,
            "procedure": submission.procedure,
            "organization": submission.organization,
            "status_text": services.status_label(kind, submission.status),
            "kind_noun": services.kind_noun(kind),
            "rows": _answer_rows(submission),
            "revisions": _revision_rows(submission),
            "history": history,
            "notes": submission.notes.select_related("author"),
            "messages_to_resident": submission.messages.select_related("author"),
            "message_draft": message_draft,
            "emails": submission.emails.all(),
            "transitions": transitions,
            "not_yet": [m for m in moves if m.not_yet],
            "draft": draft,
            # What was chosen before an error; else only 処理を開始する (a move that is no decision and asks no
            # reason): a click on 変更する as the page opens never sends a case back, refuses or decides it.
            "selected": draft["to"]
            if draft.get("to") in [m.to for m in transitions]
            else next((m.to for m in transitions if not m.needs_reason and not m.needs_confirmation), None),
            "can_process": role in access.PROCESS,
            "can_reopen": role == Role.ADMIN and submission.status in services.DECIDED,
            "reopen_draft": reopen_draft,
            "colleagues": colleagues,
        },
    )


def _transition_draft_key(submission) -> str:
    return f"transition:{submission.pk}"


def _reopen_draft_key(submission) -> str:
    return f"reopen:{submission.pk}"


@login_required
@require_POST
def transition(request: HttpRequest, submission_id: int) -> HttpResponse:
    """A status change from the detail page. A decision (完了 / 却下 in the kind's words) first shows a
    confirmation page; it takes effect only when that page's button posts `confirmed`."""
    submission = access.access_submission_for_user(request.user, submission_id, access.PROCESS)
    draft = {
        "to": request.POST.get("to", "")[:20],
        "reason": request.POST.get("reason", "")[:10000],  # over 4,000 is refused by the service, not cut
        "deadline": request.POST.get("deadline", "").strip()[:40],
    }
    kind = submission.procedure.kind
    try:
        deadline = ja.parse_date(draft["deadline"]) if draft["deadline"] else None
        if services.needs_confirmation(kind, draft["to"]) and request.POST.get("confirmed") != "1":
            services.validate_transition(
                submission=submission, to_status=draft["to"], reason=draft["reason"], deadline=deadline
            )
            # Kept so that 「戻って直す」 shows the detail page with the choice and the reason as typed.
            request.session[_transition_draft_key(submission)] = draft
            return render(
                request,
                "staff/transition_confirm.html",
                {
                    "submission": submission,
                    "procedure": submission.procedure,
                    "organization": submission.organization,
                    "draft": draft,
                    "from_text": services.status_label(kind, submission.status),
                    "to_text": services.status_label(kind, draft["to"]),
                    "action_text": services.action_label(kind, draft["to"]),
                    "kind_noun": services.kind_noun(kind),
                },
            )
        services.transition(
            submission=submission,
            to_status=draft["to"],
            actor=request.user,
            reason=draft["reason"],
            deadline=deadline,
        )
    except (services.SubmissionError, ja.InputError) as exc:
        # Shown beside the form, with the choice, the reason and the deadline as they were sent.
        # Kept without control characters: the session is stored as JSON, which PostgreSQL refuses NUL in.
        kept = {key: ja.remove_control_characters(value) for key, value in draft.items()}
        request.session[_transition_draft_key(submission)] = {**kept, "error": str(exc)}
    else:
        request.session.pop(_transition_draft_key(submission), None)
        submission.refresh_from_db(fields=["status"])
        messages.success(
            request,
            gettext("状態を「%(status)s」に変更しました。")
            % {"status": services.status_label(kind, submission.status)},
        )
    return redirect("staff:submission", submission_id=submission.pk)


@login_required
@require_POST
def reopen(request: HttpRequest, submission_id: int) -> HttpResponse:
    """An admin takes back a decision (services.reopen). Anyone else who may see the submission is told
    why nothing changed; an outsider gets 404."""
    submission = access.access_submission_for_user(request.user, submission_id, access.SEE_ANSWERS)
    reason = request.POST.get("reason", "")[:10000]  # over 4,000 is refused by the service, not cut
    try:
        services.reopen(submission=submission, actor=request.user, reason=reason)
    except services.SubmissionError as exc:
        request.session[_reopen_draft_key(submission)] = {
            "reason": ja.remove_control_characters(reason),
            "error": str(exc),
        }
        return redirect(reverse("staff:submission", kwargs={"submission_id": submission.pk}) + "#reopen")
    request.session.pop(_reopen_draft_key(submission), None)
    messages.success(request, gettext("決定を取り消し、処理中に戻しました。申請者にも知らせます。"))
    return redirect("staff:submission", submission_id=submission.pk)


@login_required
@require_POST
def add_note(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access.access_submission_for_user(request.user, submission_id, access.PROCESS)
    try:
        services.add_note(
            submission=submission, author=request.user, body=request.POST.get("body", "")[:8000]
        )
    except services.SubmissionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("内部メモを追加しました。"))
    return redirect("staff:submission", submission_id=submission.pk)


@login_required
@require_POST
def assign(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = access.access_submission_for_user(request.user, submission_id, access.PROCESS)
    username = ja.remove_control_characters(request.POST.get("assignee", ""))[:150]  # PostgreSQL refuses NUL
    assignee = None
    if username:
        assignee = access.processors_of_procedure(submission.procedure).filter(username=username).first()
        if assignee is None:
            # Nor one limited to other 所属: the case would be theirs and out of their reach.
            messages.error(request, gettext("担当者に選べるのは、この手続を扱える処理担当者だけです。"))
            return redirect("staff:submission", submission_id=submission.pk)
    services.assign(submission=submission, assignee=assignee, actor=request.user)
    messages.success(request, gettext("担当者を変更しました。"))
    return redirect("staff:submission", submission_id=submission.pk)


@login_required
def attachment(request: HttpRequest, submission_id: int, attachment_id: int) -> FileResponse:
    submission = access.access_submission_for_user(request.user, submission_id, access.SEE_ANSWERS)
    item = access.access_attachment_for_user(request.user, submission, attachment_id)
    audit.record(
        organization=submission.organization,
        actor=request.user,
        action="submission.attachment_download",
        obj=submission,
        detail={"attachment": item.pk},
    )
    try:
        stored = envelope.open_file(item.organization_id, item.file.storage, item.file.name)
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(stored, as_attachment=True, filename=item.original_name)
    response["Content-Type"] = "application/octet-stream"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _content_disposition(filename: str) -> str:
    ascii_name = "export." + filename.rsplit(".", 1)[-1]
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@login_required
def export_page(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.PROCESS)
    recent = AuditLog.objects.filter(
        organization_id=procedure.organization_id,
        action__in=["submission.export", "submission.export_request", "submission.export_download"],
        object_type="procedures.procedure",
        object_id=str(procedure.pk),
    ).select_related("actor")[:10]
    return _export_page(request, procedure, recent)


def _export_note(entry: AuditLog) -> str:
    """What one entry of 最近の出力 says after its actor and format: which file, how many rows, and the
    characters that export replaced."""
    detail = entry.detail or {}
    if entry.action == "submission.export_request":
        return gettext("（作成を依頼）")
    if entry.action == "submission.export_download":
        return gettext("（作成したファイルをダウンロード）")
    parts = []
    if detail.get("format") == "csv":
        encoding = gettext("Shift_JIS") if detail.get("encoding") == "cp932" else gettext("UTF-8")
        if detail.get("purpose") == exporting.SYSTEMS:
            parts.append(gettext("他のシステムに取り込む用、%(encoding)s") % {"encoding": encoding})
        else:
            parts.append(gettext("Excel用、%(encoding)s") % {"encoding": encoding})
    if detail.get("selected") is not None:
        parts.append(gettext("選んだ申請のみ"))
    if detail.get("rows") is not None:
        count = detail["rows"]
        parts.append(ngettext("%(count)s件", "%(count)s件", count) % {"count": number_format(count)})
    replaced = detail.get("replaced")
    if replaced:
        text = ngettext("置き換えた文字 %(count)s文字", "置き換えた文字 %(count)s文字", replaced) % {
            "count": number_format(replaced)
        }
        if detail.get("examples"):
            text += gettext("：%(examples)s") % {"examples": " ".join(detail["examples"])}
        parts.append(text)
    elif replaced == 0 and detail.get("encoding") == "cp932":
        parts.append(gettext("置き換えた文字なし"))
    if not parts:
        return ""
    return gettext("（%(notes)s）") % {"notes": pgettext("list separator", "、").join(parts)}


def _export_page(request, procedure, recent, *, status=200) -> HttpResponse:
    rows = sum(status_counts([procedure.pk])[procedure.pk].values())
    files = list(
        ExportFile.objects.filter(organization_id=procedure.organization_id, procedure=procedure)[:5]
    )
    for export in files:
        export.shown_status = exports.shown_status(export)
        export.shown_status_label = ExportFile.Status(export.shown_status).label
    recent = list(recent)
    for entry in recent:
        entry.export_note = _export_note(entry)
        entry.replaced = (entry.detail or {}).get("replaced") or 0
    return render(
        request,
        "staff/export.html",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "recent": recent,
            "rows": rows,
            "xlsx_in_request": rows <= exports.XLSX_MAX_ROWS_IN_REQUEST,
            "xlsx_max_rows": exports.XLSX_MAX_ROWS_IN_REQUEST,
            "export_files": files,
            "export_file_days": exports.EXPORT_FILE_DAYS,
        },
        status=status,
    )


def csv_options(params) -> tuple[str, str]:
    """The encoding ("utf-8" or "cp932") and purpose (``exporting.EXCEL`` or ``exporting.SYSTEMS``) a CSV
    export is asked for with (``encoding=cp932``, ``purpose=systems`` in a query or a form); anything
    else means the default, UTF-8 for Excel."""
    encoding = "cp932" if params.get("encoding") == "cp932" else "utf-8"
    purpose = exporting.SYSTEMS if params.get("purpose") == exporting.SYSTEMS else exporting.EXCEL
    return encoding, purpose


def csv_export_response(
    request: HttpRequest,
    procedure,
    *,
    encoding: str = "utf-8",
    purpose: str = exporting.EXCEL,
    submission_ids: Iterable[int] | None = None,
) -> StreamingHttpResponse:
    """The streamed CSV of a procedure's submissions (all of them, or those of ``submission_ids`` among
    them), audited as "submission.export".

    The caller has checked the user's access (``access.PROCESS``). The audit entry's detail says
    ``format``, ``encoding``, ``purpose`` (and ``selected``: how many ids were asked for); once the last
    row is sent it gains ``rows`` (written) and ``replaced``/``examples`` (the characters this export
    replaced: 〓 in Shift_JIS), which the export page shows beside it.
    """
    ids = None if submission_ids is None else sorted({int(pk) for pk in submission_ids})
    detail = {"format": "csv", "encoding": encoding, "purpose": purpose}
    if ids is not None:
        detail["selected"] = len(ids)
    log = audit.record(
        organization=procedure.organization,
        actor=request.user,
        action="submission.export",
        obj=procedure,
        detail=detail,
    )
    header, rows = exports.export_rows(procedure, submission_ids=ids)
    counter = exporting.ReplacementCounter()
    stream = exporting.csv_stream(
        header, _counted(rows, detail), encoding=encoding, purpose=purpose, counter=counter
    )

    def finished() -> Iterator[bytes]:
        yield from stream
        # Known only at the end: kept with this export's own audit entry, shown on the export page.
        done = {**detail, "replaced": counter.count, "examples": sorted(counter.examples)}
        AuditLog.objects.filter(pk=log.pk).update(detail=done)

    charset = "shift_jis" if encoding == "cp932" else "utf-8"
    response = StreamingHttpResponse(finished(), content_type=f"text/csv; charset={charset}")
    response["Content-Disposition"] = _content_disposition(exports.export_filename(procedure, "csv"))
    return response


def _counted(rows: Iterable, detail: dict) -> Iterator:
    detail["rows"] = 0
    for row in rows:
        detail["rows"] += 1
        yield row


def xlsx_export_response(
    request: HttpRequest, procedure, *, submission_ids: Iterable[int] | None = None
) -> FileResponse:
    """The .xlsx of a procedure's submissions (all, or those of ``submission_ids`` among them), built in
    the request (write-only, on disk) and audited as "submission.export". The caller has checked the
    user's access (``access.PROCESS``) and that the rows are few enough
    (``exports.XLSX_MAX_ROWS_IN_REQUEST``)."""
    ids = None if submission_ids is None else sorted({int(pk) for pk in submission_ids})
    detail = {"format": "xlsx"}
    if ids is not None:
        detail["selected"] = len(ids)
    log = audit.record(
        organization=procedure.organization,
        actor=request.user,
        action="submission.export",
        obj=procedure,
        detail=detail,
    )
    header, rows = exports.export_rows(procedure, submission_ids=ids)
    spool = tempfile.TemporaryFile()  # openpyxl's write-only mode keeps memory flat; the file goes to disk
    try:
        exporting.xlsx_file(header, _counted(rows, detail), spool)
    except BaseException:
        spool.close()
        raise
    AuditLog.objects.filter(pk=log.pk).update(detail=detail)
    spool.seek(0)
    response = FileResponse(
        spool, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = _content_disposition(exports.export_filename(procedure, "xlsx"))
    return response


@login_required
def export_csv(request: HttpRequest, procedure_id: int) -> StreamingHttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.PROCESS)
    if (confirm := reauth.check(request, download=True)) is not None:  # 本人確認 before personal data leaves
        return confirm
    encoding, purpose = csv_options(request.GET)
    return csv_export_response(request, procedure, encoding=encoding, purpose=purpose)


@login_required
def export_xlsx(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.PROCESS)
    if (confirm := reauth.check(request, download=True)) is not None:  # 本人確認 before personal data leaves
        return confirm
    if sum(status_counts([procedure.pk])[procedure.pk].values()) > exports.XLSX_MAX_ROWS_IN_REQUEST:
        return _export_page(
            request, procedure, [], status=409
        )  # too large to wait for: the page offers a file
    return xlsx_export_response(request, procedure)


@login_required
@require_POST
def export_file_request(request: HttpRequest, procedure_id: int) -> HttpResponse:
    procedure = access.access_procedure_for_user(request.user, procedure_id, access.PROCESS)
    if (confirm := reauth.check(request)) is not None:  # 本人確認 before personal data leaves
        return confirm
    exports.request_export_file(procedure=procedure, user=request.user)
    messages.success(
        request,
        gettext(
            "Excelファイルの作成を受け付けました。できあがると「出力ファイル」の一覧からダウンロードできます"
            "（このページを再読み込みしてください）。"
        ),
    )
    return redirect("staff:export", procedure_id=procedure.pk)


@login_required
def export_file(request: HttpRequest, export_id: int) -> FileResponse:
    export = access.access_export_file_for_user(request.user, export_id, access.PROCESS)
    if (confirm := reauth.check(request, download=True)) is not None:  # 本人確認 before personal data leaves
        return confirm
    if (
        exports.shown_status(export) != ExportFile.Status.DONE
        or not export.file
        or exports.is_expired(export)
    ):
        raise Http404
    try:
        stored = envelope.open_file(export.organization_id, export.file.storage, export.file.name)
    except FileNotFoundError as exc:  # removed meanwhile (purge_export_files): as if never there
        raise Http404 from exc
    audit.record(
        organization=export.organization,
        actor=request.user,
        action="submission.export_download",
        obj=export.procedure,
        detail={"format": "xlsx", "export_file": export.pk},
    )
    response = FileResponse(
        stored, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    filename = exports.export_filename(export.procedure, "xlsx", at=export.finished_at)
    response["Content-Disposition"] = _content_disposition(filename)
    return response
