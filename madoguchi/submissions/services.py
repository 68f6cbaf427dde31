"""Every write to a submission goes through a function here: views, API, commands and tasks call them."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from madoguchi.audit import services as audit
from madoguchi.lib import envelope
from madoguchi.lib import japanese as ja
from madoguchi.lib.integrity import OtherOrganizationError
from madoguchi.lib.receipt import format_receipt_number, inquiry_code_for, new_receipt_number, stored_token
from madoguchi.lib.timeutil import jst_date
from madoguchi.notifications import services as notify
from madoguchi.procedures import rules
from madoguchi.procedures.models import FormVersion, Procedure
from madoguchi.stats.services import count_submission, move_status_count
from madoguchi.submissions import duplicates, single_statement, upload_checks
from madoguchi.submissions.answers import keep_revision, write_answers
from madoguchi.submissions.models import Attachment, Note, StagedUpload, Status, StatusChange, Submission

# The status machine of each kind of procedure (Procedure.Kind), in one place: the staff detail page, the
# checks below, the resident's status page and the e-mails all read it. Statuses are stored alike for every
# kind (DOMAIN.md "The status machine"); what a kind may do and the words it uses differ.
#
# (from, to) → whether a reason is required. Leaving 返却中 for a decision needs the 補正期限 passed
# (transition() checks it) and a reason: the resident was asked to correct and is told why it ended.
APPLICATION_TRANSITIONS: dict[tuple[str, str], bool] = {
    (Status.RECEIVED, Status.IN_REVIEW): False,
    (Status.RECEIVED, Status.RETURNED): True,
    (Status.IN_REVIEW, Status.RETURNED): True,
    (Status.RECEIVED, Status.COMPLETED): False,
    (Status.IN_REVIEW, Status.COMPLETED): False,
    (Status.RECEIVED, Status.REJECTED): True,
    (Status.IN_REVIEW, Status.REJECTED): True,
    (Status.RETURNED, Status.COMPLETED): True,
    (Status.RETURNED, Status.REJECTED): True,
}
# A survey answer (回答) is aggregated, not decided on: staff only mark it seen. No 差戻し, 却下 or 取下げ.
SURVEY_TRANSITIONS: dict[tuple[str, str], bool] = {
    (Status.RECEIVED, Status.IN_REVIEW): False,
    (Status.RECEIVED, Status.COMPLETED): False,
    (Status.IN_REVIEW, Status.COMPLETED): False,
}
KIND_TRANSITIONS: dict[str, dict[tuple[str, str], bool]] = {
    Procedure.Kind.APPLICATION: APPLICATION_TRANSITIONS,
    Procedure.Kind.NOTIFICATION: APPLICATION_TRANSITIONS,
    Procedure.Kind.SIGNUP: APPLICATION_TRANSITIONS,
    Procedure.Kind.SURVEY: SURVEY_TRANSITIONS,
}
STAFF_TRANSITIONS = APPLICATION_TRANSITIONS  # an application's table (the name older callers use)
# A decision an admin may take back (reopen): back to 処理中, with a reason.
DECIDED = frozenset({Status.COMPLETED, Status.REJECTED})
# Decisions staff confirm on a second step before they take effect (needs_confirmation).
CONFIRMED_MOVES = DECIDED
# Statuses of a case that no longer counts as the resident's submission for the duplicate rule.
NOT_COUNTING = frozenset({Status.WITHDRAWN, Status.REJECTED})
# The resident withdraws (取下げ) before a decision; a sign-up may also be cancelled once accepted (its seat is
# given back); a survey answer is not withdrawn.
KIND_WITHDRAWABLE: dict[str, frozenset[str]] = {
    Procedure.Kind.APPLICATION: frozenset({Status.RECEIVED, Status.RETURNED}),
    Procedure.Kind.NOTIFICATION: frozenset({Status.RECEIVED, Status.RETURNED}),
    Procedure.Kind.SIGNUP: frozenset({Status.RECEIVED, Status.RETURNED, Status.COMPLETED}),
    Procedure.Kind.SURVEY: frozenset(),
}
RESIDENT_WITHDRAWABLE = KIND_WITHDRAWABLE[Procedure.Kind.APPLICATION]

# The words of each kind: the status as shown (staff, resident, e-mail), and staff's button for each move.
# A kind lists only what differs from an application's words (Status labels and TRANSITION_LABELS).
TRANSITION_LABELS = {
    Status.IN_REVIEW: gettext_lazy("処理を開始する（処理中にする）"),
    Status.RETURNED: gettext_lazy("差し戻す（返却中にする）"),
    Status.COMPLETED: gettext_lazy("完了にする"),
    Status.REJECTED: gettext_lazy("却下する"),
}
KIND_STATUS_LABELS: dict[str, dict[str, Any]] = {
    Procedure.Kind.APPLICATION: {},
    Procedure.Kind.NOTIFICATION: {
        Status.COMPLETED: gettext_lazy("受理"),
        Status.REJECTED: gettext_lazy("不受理"),
    },
    Procedure.Kind.SIGNUP: {
        Status.COMPLETED: gettext_lazy("受付済み"),
        Status.REJECTED: gettext_lazy("お断り"),
        Status.WITHDRAWN: gettext_lazy("キャンセル"),
    },
    Procedure.Kind.SURVEY: {
        Status.RECEIVED: gettext_lazy("未確認"),
        Status.IN_REVIEW: gettext_lazy("確認中"),
        Status.COMPLETED: gettext_lazy("確認済み"),
    },
}
KIND_ACTION_LABELS: dict[str, dict[str, Any]] = {
    Procedure.Kind.APPLICATION: {},
    Procedure.Kind.NOTIFICATION: {
        Status.COMPLETED: gettext_lazy("受理する"),
        Status.REJECTED: gettext_lazy("不受理にする"),
    },
    Procedure.Kind.SIGNUP: {
        Status.COMPLETED: gettext_lazy("受け付ける（受付済みにする）"),
        Status.REJECTED: gettext_lazy("お断りする"),
    },
    Procedure.Kind.SURVEY: {
        Status.IN_REVIEW: gettext_lazy("確認を始める（確認中にする）"),
        Status.COMPLETED: gettext_lazy("確認済みにする"),
    },
}
# What the resident's submission is called, by kind (申請 / 届出 / 回答 / 申込).
KIND_NOUNS: dict[str, Any] = {
    Procedure.Kind.APPLICATION: gettext_lazy("申請"),
    Procedure.Kind.NOTIFICATION: gettext_lazy("届出"),
    Procedure.Kind.SURVEY: gettext_lazy("回答"),
    Procedure.Kind.SIGNUP: gettext_lazy("申込"),
}


def transitions_for(kind: str) -> dict[tuple[str, str], bool]:
    """The staff moves of a kind of procedure: (from, to) → reason required. Unknown kinds: an application's."""
    return KIND_TRANSITIONS.get(kind, APPLICATION_TRANSITIONS)


def status_label(kind: str, status: str) -> str:
    """The word for `status` in a procedure of `kind`, in the active language (e.g. completed → 受理 for a 届出)."""
    word = KIND_STATUS_LABELS.get(kind, {}).get(status)
    return str(word) if word is not None else str(Status(status).label) if status in Status.values else status


def action_label(kind: str, to_status: str) -> str:
    """Staff's button for moving a procedure of `kind` to `to_status`, in the active language."""
    word = KIND_ACTION_LABELS.get(kind, {}).get(to_status)
    return str(word if word is not None else TRANSITION_LABELS[to_status])


def kind_noun(kind: str) -> str:
    return str(KIND_NOUNS.get(kind, KIND_NOUNS[Procedure.Kind.APPLICATION]))


def can_withdraw(submission: Submission) -> bool:
    """Whether the resident may withdraw (取下げ / キャンセル) it now: by the procedure's kind and its status."""
    kind = submission.procedure.kind
    return submission.status in KIND_WITHDRAWABLE.get(kind, RESIDENT_WITHDRAWABLE)


def needs_confirmation(kind: str, to_status: str) -> bool:
    """Whether staff confirm this move on a second page first: a decision (完了 / 却下 in the kind's words). A
    survey answer marked 確認済み decides nothing for the resident, so it takes effect at once."""
    return to_status in CONFIRMED_MOVES and kind != Procedure.Kind.SURVEY


def correction_deadline_passed(submission: Submission, *, now=None) -> bool:
    """Whether staff may decide on a 返却中 submission: the 補正期限 (a JST date, inclusive: the resident may
    correct through that whole day) is over. With no deadline set, staff decide when they see fit: the
    resident was given no date to wait for, and the reason they must give is shown to them."""
    deadline = submission.correction_deadline
    return deadline is None or deadline < jst_date(now or timezone.now())


@dataclass(frozen=True)
class Move:
    """One status change offered to staff on the detail page."""

    to: str
    label: str
    needs_reason: bool
    needs_confirmation: bool
    # Why it cannot be chosen yet (shown instead of the choice), or "" when it can.
    not_yet: str = ""


def moves_for(submission: Submission, *, now=None) -> list[Move]:
    """The moves staff may make now from the submission's status, by its procedure's kind, in table order."""
    kind = submission.procedure.kind
    moves = []
    for (frm, to), needs_reason in transitions_for(kind).items():
        if frm != submission.status:
            continue
        not_yet = ""
        if frm == Status.RETURNED and not correction_deadline_passed(submission, now=now):
            not_yet = _deadline_message(submission, to)
        moves.append(Move(to, action_label(kind, to), needs_reason, needs_confirmation(kind, to), not_yet))
    return moves


def _deadline_message(submission: Submission, to_status: str) -> str:
    day = submission.correction_deadline
    return gettext("補正期限（%(date)s）を過ぎるまでは「%(status)s」にできません。") % {
        "date": f"{day.year}年{day.month}月{day.day}日" if day else "",
        "status": status_label(submission.procedure.kind, to_status),
    }


class SubmissionError(Exception):
    """A rule stopped the action; str() is a message fit to show the user, in the active language."""


class ReceptionClosed(SubmissionError):
    pass


class CapacityFull(SubmissionError):
    pass


class VersionChanged(SubmissionError):
    pass


class DuplicateSubmission(SubmissionError):
    """The procedure takes one submission per e-mail address or per value of a field (duplicate_rule) and
    one with the same key was received before: str() names its 受付番号. Nothing was written."""

    def __init__(self, earlier: Submission, field_key: str = ""):
        super().__init__(duplicates.message_for(earlier.receipt_number))
        self.receipt_number = earlier.receipt_number
        self.field_key = field_key  # the form's field the key was read from; "" for the e-mail rule


class OtherOrganization(SubmissionError, OtherOrganizationError):
    """A form version or a file of another procedure was given: nothing is written."""


class TooManyFromClient(Exception):
    """The client's attempts in its window went over its limit (resident_views._submit): nothing written."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


RECEIPT_NUMBER_ATTEMPTS = 5
VERSION_CHANGED_MESSAGE = gettext_lazy(
    "この手続の入力フォームが更新されました。お手数ですが、内容を確認してもう一度お進みください。"
)


@dataclass
class SubmitResult:
    submission: Submission
    inquiry_code: str | None  # only known when this call created the submission
    created: bool


def resident_language(language: str) -> str:
    """The language a resident's e-mails are written in: the page's, if the site offers it."""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def hash_inquiry_code(code: str) -> str:
    return hmac.new(settings.INQUIRY_CODE_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()


def check_inquiry_code(submission: Submission, code: str) -> bool:
    return hmac.compare_digest(submission.inquiry_code_hash, hash_inquiry_code(code))


RECEPTION_MESSAGES = {
    "not_published": gettext_lazy("この手続は現在受け付けていません。"),
    "not_yet": gettext_lazy("この手続の受付はまだ始まっていません。"),
    "ended": gettext_lazy("この手続の受付は終了しました。"),
    "full": gettext_lazy("定員に達したため、受付を終了しました。"),
}


def submit(
    *,
    procedure: Procedure,
    version: FormVersion,
    answers: dict[str, Any],
    staged_files: dict[str, StagedUpload],
    token: str,
    applicant_email: str = "",
    language: str = "ja",
) -> SubmitResult:
    """Receive one submission: answers, files, receipt number, history, count, e-mail in one transaction.

    A second call with the same token returns the first submission, whatever happened in between.
    Answers to questions the form's rules do not show are dropped here too (procedures/rules.py), and so
    are their files, whoever calls.

    A procedure with a duplicate_rule gets the submission's duplicate_key (submissions/duplicates.py);
    DuplicateSubmission (naming the earlier 受付番号) when another submission of it holds the key. The
    unique constraint decides between concurrent ones: only one of them is received.
    """
    token = stored_token(token)  # the application's token is stored only hashed
    if version.spec.has_rules:
        flow = rules.evaluate(version.spec, answers)  # no condition names a file: files do not change it
        shown = set(flow.shown)
        answers = flow.values
        staged_files = {key: staged for key, staged in staged_files.items() if key in shown}
    # The common case costs one transaction and no look-ups: the unique token and the unique receipt
    # number are checked by the database. A clash rolls everything back and tells which one it was.
    key = duplicates.duplicate_key(procedure, version.spec, answers, applicant_email)
    try:
        return _with_receipt_number(
            token,
            lambda number: _submit_once(
                procedure=procedure,
                version=version,
                answers=answers,
                staged_files=staged_files,
                token=token,
                applicant_email=applicant_email,
                language=language,
                receipt_number=number,
                duplicate_key=key,
            ),
        )
    except IntegrityError:
        # Not the token, not the receipt number: a concurrent submission took the duplicate key first.
        earlier = _holder_of_key(procedure, key, token) if key else None
        if earlier is None:
            raise
        raise DuplicateSubmission(earlier, _key_field(procedure)) from None
    except SubmissionError:
        # A retry of a submission received before the procedure closed, filled up or changed: that one.
        existing = Submission.objects.filter(token=token).first()
        if existing is None:
            raise
        return SubmitResult(existing, None, created=False)


def submit_confirmed(
    *,
    organization_code: str,
    procedure_id: int,
    version_id: int,
    answers: dict[str, Any],
    token: str,
    client_key: str,
    client_window_seconds: int,
    client_limit: int,
    applicant_email: str = "",
    language: str = "ja",
    draft_id: int | None = None,
) -> SubmitResult | None:
    """The final submit of answers with no file to attach, in one statement (single_statement.py): the
    submission and its rows, the client's attempt counted (counters.hit under `client_key`, a window of
    `client_window_seconds`) and the application's 一時保存 (`draft_id`, or by the token) deleted.

    Call only where one_statement_available(). Returns None when the statement cannot decide (the procedure
    is closed, full, on a new version or not under that code; the attempt is counted all the same): the
    caller then reads the procedure and calls submit(), which says why. Raises TooManyFromClient, writing
    nothing, when the count exceeds `client_limit`. A token already used returns its submission
    (created=False), and then this attempt is not counted.
    """
    sent_token, token = token, stored_token(token)
    inquiry_code = inquiry_code_for(token)

    def attempt(number: str) -> SubmitResult | None:
        submission, count = single_statement.submit(
            organization_code=organization_code,
            procedure_id=procedure_id,
            version_id=version_id,
            answers=answers,
            token=token,
            applicant_email=applicant_email,
            language=language,
            receipt_number=number,
            now=timezone.now(),
            client_key=client_key,
            client_window_seconds=client_window_seconds,
            client_limit=client_limit,
            draft_id=draft_id,
            application_token=sent_token,
            inquiry_code=inquiry_code,
        )
        if count > client_limit:
            raise TooManyFromClient(count)
        return None if submission is None else SubmitResult(submission, inquiry_code, created=True)

    return _with_receipt_number(token, attempt)


def one_statement_available() -> bool:
    """Whether submit_confirmed() can be used here (PostgreSQL with the database task queue)."""
    return single_statement.available()


def _with_receipt_number(token: str, attempt):
    """Call attempt(receipt_number) until a number is free. A token already used returns its submission:
    a double click or a retried POST committed first. Any other failure is raised."""
    for _attempt in range(RECEIPT_NUMBER_ATTEMPTS):
        number = new_receipt_number()
        try:
            return attempt(number)
        except IntegrityError:
            existing = Submission.objects.filter(token=token).first()
            if existing is not None:
                return SubmitResult(existing, None, created=False)
            if not Submission.objects.filter(receipt_number=number).exists():
                raise
            # The receipt number was drawn twice: draw again.
    raise SubmissionError(gettext("受付番号を発行できませんでした。時間をおいてもう一度お試しください。"))


@transaction.atomic
def _submit_once(
    *,
    procedure,
    version,
    answers,
    staged_files,
    token,
    applicant_email,
    language,
    receipt_number,
    duplicate_key="",
) -> SubmitResult:
    now = timezone.now()
    single_statement.learn(procedure)
    state = procedure.reception_state(now)
    if state not in ("open", "full"):
        raise ReceptionClosed(str(RECEPTION_MESSAGES[state]))
    _check_own(procedure, version, staged_files)
    if procedure.current_version_id != version.pk:
        raise VersionChanged(str(VERSION_CHANGED_MESSAGE))
    if duplicate_key:
        earlier = _holder_of_key(procedure, duplicate_key, token)
        if earlier is not None:
            raise DuplicateSubmission(earlier, _key_field(procedure))
    inquiry_code = inquiry_code_for(token)
    submission = Submission(
        organization_id=procedure.organization_id,
        procedure=procedure,
        form_version=version,
        receipt_number=receipt_number,
        inquiry_code_hash=hash_inquiry_code(inquiry_code),
        token=token,
        status=Status.RECEIVED,
        submitted_at=now,
        applicant_email=applicant_email,
        language=resident_language(language),
        duplicate_key=duplicate_key,
    )
    write_answers(submission, answers)
    single_statement.set_search_columns(submission, version.spec.fields, answers)
    submission.save(force_insert=True)
    final_answers = dict(answers)
    for key, staged in staged_files.items():
        final_answers[key] = _attach(submission, key, staged)
    if staged_files:
        write_answers(submission, final_answers)
        submission.save(update_fields=["answers_data"])
    StatusChange.objects.create(
        organization_id=procedure.organization_id,
        submission=submission,
        from_status="",
        to_status=Status.RECEIVED,
        actor_kind="resident",
        created_at=now,
    )
    if applicant_email and procedure.send_receipt_email:
        notify.queue_receipt_email(submission=submission)
    # The rows every submission of a procedure shares (seats, the day's count) are updated last, so
    # their locks are held only until the commit that follows.
    if procedure.capacity is not None:
        # One conditional UPDATE: the database decides, so concurrent requests can never overbook.
        taken = Procedure.objects.filter(pk=procedure.pk, seats_taken__lt=F("capacity")).update(
            seats_taken=F("seats_taken") + 1
        )
        if not taken:
            raise CapacityFull(str(RECEPTION_MESSAGES["full"]))
    count_submission(procedure=procedure, at=now)
    return SubmitResult(submission, inquiry_code, created=True)


def _holder_of_key(procedure: Procedure, key: str, token: str) -> Submission | None:
    """Another submission of the procedure holding this duplicate key (not the one of `token`: a retry of
    the same application is answered by its token)."""
    return (
        Submission.objects.filter(procedure=procedure, duplicate_key=key)
        .exclude(token=token)
        .only("pk", "receipt_number")
        .first()
    )


def _key_field(procedure: Procedure) -> str:
    return procedure.duplicate_field if procedure.duplicate_rule == "field" else ""


def _stored_duplicate_key(submission: Submission, answers: dict | None = None) -> str:
    """The duplicate key a counting submission holds now, from its (stored or given) answers."""
    from madoguchi.submissions.answers import read_answers

    procedure = submission.procedure
    if not procedure.duplicate_rule:
        return ""
    return duplicates.duplicate_key(
        procedure,
        submission.form_version.spec,
        read_answers(submission) if answers is None else answers,
        submission.applicant_email,
    )


def _take_duplicate_key(submission: Submission, key: str) -> None:
    """Give the submission `key` (already locked by the caller), or raise DuplicateSubmission when another
    submission of the procedure holds it; the unique constraint settles a race the look-up misses."""
    if key:
        earlier = _holder_of_key(submission.procedure, key, submission.token)
        if earlier is not None:
            raise DuplicateSubmission(earlier, _key_field(submission.procedure))
    submission.duplicate_key = key
    try:
        with transaction.atomic():
            submission.save(update_fields=["duplicate_key"])
    except IntegrityError:
        earlier = _holder_of_key(submission.procedure, key, submission.token)
        if earlier is None:
            raise
        raise DuplicateSubmission(earlier, _key_field(submission.procedure)) from None


def _check_own(
    procedure: Procedure, version: FormVersion | None, staged_files: dict[str, StagedUpload]
) -> None:
    """The version and the files are the procedure's own (the database would refuse them otherwise)."""
    if version is not None and (
        version.procedure_id != procedure.pk or version.organization_id != procedure.organization_id
    ):
        raise OtherOrganization(gettext("この入力フォームは、この手続のものではありません。"))
    for staged in staged_files.values():
        if staged.procedure_id != procedure.pk or staged.organization_id != procedure.organization_id:
            raise OtherOrganization(
                gettext("添付ファイルの情報が正しくありません。もう一度ファイルを選んでください。")
            )


@transaction.atomic
def transition(
    *, submission: Submission, to_status: str, actor, reason: str = "", deadline=None
) -> Submission:
    """A staff member moves a submission along its kind's status machine (transitions_for).

    `deadline` is the 補正期限, a JST date, kept only with 返却中. Leaving 返却中 for a decision needs the
    deadline passed (correction_deadline_passed). Raises SubmissionError (a Japanese message fit to show)
    for a move the kind does not have, a missing reason, a deadline in the past or not yet reached, or a
    reason over 4,000 characters; then nothing changes. Staff's role is checked by the caller (access.PROCESS).
    """
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    reason = validate_transition(submission=submission, to_status=to_status, reason=reason, deadline=deadline)
    if to_status == Status.REJECTED:
        _give_seat_back(submission)  # a sign-up turned down (お断り) frees its place, as a cancellation does
    return _move(submission, to_status, actor=actor, actor_kind="staff", reason=reason, deadline=deadline)


def _give_seat_back(submission: Submission) -> None:
    """Free the seat a submission of a procedure with a 定員 took. Before the counts move: every path locks the
    procedure row before the count rows, as submit() does, so no two of them wait on each other."""
    if submission.procedure.capacity is not None:
        Procedure.objects.filter(pk=submission.procedure_id, seats_taken__gt=0).update(
            seats_taken=F("seats_taken") - 1
        )


def _take_seat_again(submission: Submission) -> None:
    """Take a seat again for a turned-down submission brought back; SubmissionError when the 定員 is full."""
    procedure = submission.procedure
    if procedure.capacity is None:
        return
    taken = Procedure.objects.filter(pk=procedure.pk, seats_taken__lt=F("capacity")).update(
        seats_taken=F("seats_taken") + 1
    )
    if not taken:
        raise SubmissionError(
            gettext("定員（%(capacity)s）に達しているため、お断りを取り消せません。先に席を空けてください。")
            % {"capacity": procedure.capacity}
        )


def checked_text(text: str) -> str:
    """A staff member's or a resident's free text (a reason, a note) stripped of surrounding space. Raises
    SubmissionError (Japanese) when it holds a control character (lib/japanese.CONTROL_CHARACTERS), which
    PostgreSQL would refuse (NUL) or which would reorder or hide what others read."""
    if ja.has_control_characters(text):
        raise SubmissionError(
            gettext("使えない制御文字（見えない文字）が含まれています。貼り付けた文字を確かめてください。")
        )
    return text.strip()


def validate_transition(*, submission: Submission, to_status: str, reason: str = "", deadline=None) -> str:
    """The checks of transition() without the move: returns the reason stripped, or raises SubmissionError.
    The confirmation step of a decision calls it first, so a move that would fail is told before it."""
    kind = submission.procedure.kind
    table = transitions_for(kind)
    key = (submission.status, to_status)
    if not to_status:
        raise SubmissionError(gettext("変更後の状態を選んでください。"))
    if to_status not in Status.values:
        raise SubmissionError(gettext("変更先の状態が正しくありません。"))
    if key not in table:
        raise SubmissionError(
            gettext("「%(from_status)s」から「%(to_status)s」には変更できません。")
            % {
                "from_status": status_label(kind, submission.status),
                "to_status": status_label(kind, to_status),
            }
        )
    reason = checked_text(reason)
    if table[key] and not reason:
        raise SubmissionError(
            gettext("「%(status)s」にするには理由を入力してください（申請者に表示されます）。")
            % {"status": status_label(kind, to_status)}
        )
    if len(reason) > 4000:
        raise SubmissionError(gettext("理由は4,000文字以内で入力してください。"))
    if submission.status == Status.RETURNED and not correction_deadline_passed(submission):
        raise SubmissionError(_deadline_message(submission, to_status))
    if deadline is not None and to_status == Status.RETURNED and deadline < jst_date(timezone.now()):
        raise SubmissionError(gettext("補正期限には今日以降の日付を入力してください。"))
    return reason


REOPEN_MAX_LENGTH = 4000


@transaction.atomic
def reopen(*, submission: Submission, actor, reason: str) -> Submission:
    """An admin of the submission's organization takes back a decision (完了 / 却下, in each kind's words):
    the submission goes back to 処理中, with the reason kept in its history and the audit log, and the
    resident is told by e-mail and on the status page.

    Raises SubmissionError (Japanese) when the actor is not an admin of the organization (Role.ADMIN), the
    reason is missing or over 4,000 characters, or the submission is not decided; then nothing changes.
    """
    from madoguchi.accounts.models import Membership, Role

    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    kind = submission.procedure.kind
    is_admin = (
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and Membership.objects.filter(
            user=actor, organization_id=submission.organization_id, role=Role.ADMIN
        ).exists()
    )
    if not is_admin:
        raise SubmissionError(gettext("決定を取り消して処理中に戻せるのは、管理者だけです。"))
    if submission.status not in DECIDED:
        raise SubmissionError(
            gettext("「%(status)s」の%(noun)sは、処理中に戻せません（戻せるのは決定したものだけです）。")
            % {"status": status_label(kind, submission.status), "noun": kind_noun(kind)}
        )
    reason = checked_text(reason)
    if not reason:
        raise SubmissionError(gettext("処理中に戻す理由を入力してください（申請者に表示されます）。"))
    if len(reason) > REOPEN_MAX_LENGTH:
        raise SubmissionError(gettext("理由は4,000文字以内で入力してください。"))
    if submission.status == Status.REJECTED:
        if submission.procedure.duplicate_rule:
            try:
                _take_duplicate_key(submission, _stored_duplicate_key(submission))
            except DuplicateSubmission as exc:
                raise SubmissionError(
                    gettext(
                        "同じ内容の別の%(noun)s（受付番号 %(receipt)s）を受け付けているため、処理中に戻せません。"
                        "先にそちらを確かめてください。"
                    )
                    % {"noun": kind_noun(kind), "receipt": format_receipt_number(exc.receipt_number)}
                ) from None
        _take_seat_again(submission)
    return _move(
        submission,
        Status.IN_REVIEW,
        actor=actor,
        actor_kind="staff",
        reason=reason,
        action="submission.reopen",
        email_kind="reopened",
    )


def check_withdrawal(*, submission: Submission, reason: str) -> str:
    """The reason of a 取下げ, trimmed (invisible characters too), or SubmissionError (Japanese) when the
    submission may not be withdrawn now (can_withdraw), or the reason holds a control character, is empty or
    is over 1,000 characters. Changes nothing: the resident's confirmation page asks it before withdraw."""
    if not can_withdraw(submission):
        raise SubmissionError(gettext("この申請は取り下げられない状態です。担当課にお問い合わせください。"))
    reason = ja.trim_invisible(checked_text(reason)).strip()
    if not reason:
        raise SubmissionError(gettext("取下げの理由を入力してください。"))
    if len(reason) > 1000:
        raise SubmissionError(gettext("取下げの理由は1,000文字以内で入力してください。"))
    return reason


@transaction.atomic
def withdraw(*, submission: Submission, reason: str) -> Submission:
    """The resident withdraws (取下げ; a sign-up's キャンセル) before a decision (can_withdraw). A sign-up's
    seat is given back; the resident gets a confirming e-mail (kind "withdrawn", through the outbox) when the
    submission has an address. Raises SubmissionError (Japanese) when its kind or status does not allow it,
    or the reason is missing or over 1,000 characters."""
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    reason = check_withdrawal(submission=submission, reason=reason)
    _give_seat_back(submission)
    submission = _move(submission, Status.WITHDRAWN, actor=None, actor_kind="resident", reason=reason)
    if submission.applicant_email:
        notify.queue_withdrawn_email(submission=submission, reason=reason)
    return submission


# Stored in Japanese as the history reason; shown in the page's language (StatusChange.display_reason).
RESUBMIT_REASON = gettext_noop("補正して再提出")


@transaction.atomic
def resubmit(
    *, submission: Submission, answers: dict[str, Any], staged_files: dict[str, StagedUpload]
) -> bool:
    """The resident corrects a returned submission (補正): same 受付番号, new answers, back to 処理待ち.

    The answers it replaces are kept. Returns False, changing nothing, if it is no longer 返却中
    (a double click, or staff took it back): the caller shows the status as it is now.
    """
    # Only the submission's own row is locked (no join: a joined organization row would be locked too).
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status != Status.RETURNED:
        return False
    now = timezone.now()
    if staged_files:
        _check_own(submission.procedure, None, staged_files)
    keep_revision(submission, at=now)
    own = set(submission.attachments.values_list("pk", flat=True))
    final_answers = {}
    for key, value in answers.items():
        if isinstance(value, dict) and "attachment" in value and value["attachment"] not in own:
            raise SubmissionError(
                gettext("添付ファイルの情報が正しくありません。もう一度ファイルを選んでください。")
            )
        final_answers[key] = value
    for key, staged in staged_files.items():
        final_answers[key] = _attach(submission, key, staged)
    write_answers(submission, final_answers)
    single_statement.set_search_columns(submission, submission.form_version.spec.fields, final_answers)
    email_field = submission.form_version.spec.email_field
    if email_field and not submission.procedure.requires_email_verification:
        # Status e-mails follow the corrected address, not the one staff returned it for. (A verified
        # address stays: it is the one the resident proved to be theirs.)
        submission.applicant_email = final_answers.get(email_field, "") or ""
    if submission.procedure.duplicate_rule:
        # The corrected answers may change the key: another submission holding the new one refuses it.
        _take_duplicate_key(submission, _stored_duplicate_key(submission, final_answers))
    submission.save(
        update_fields=[
            "answers_data",
            "applicant_email",
            "applicant_name",
            "applicant_kana",
            "search_text",
            "updated_at",
        ]
    )
    _move(submission, Status.RECEIVED, actor=None, actor_kind="resident", reason=RESUBMIT_REASON)
    if submission.applicant_email:
        notify.queue_resubmit_email(submission=submission)
    return True


def _attach(submission: Submission, key: str, staged: StagedUpload) -> dict:
    attachment = Attachment.objects.create(
        organization_id=submission.organization_id,
        submission=submission,
        field_key=key,
        storage_key=staged.storage_key,
        file=staged.file.name,
        original_name=staged.original_name,
        content_type=staged.content_type,
        size=staged.size,
        active_content=staged.active_content,
    )
    StagedUpload.objects.filter(pk=staged.pk).delete()
    return {"attachment": attachment.pk, "name": staged.original_name, "size": staged.size}


def _move(
    submission, to_status, *, actor, actor_kind, reason, deadline=None, action=None, email_kind=None
) -> Submission:
    old = submission.status
    now = timezone.now()
    submission.status = to_status
    submission.correction_deadline = deadline if to_status == Status.RETURNED else None
    fields = ["status", "correction_deadline", "updated_at"]
    if to_status in NOT_COUNTING and submission.duplicate_key:
        # 取下げ or 却下 (キャンセル, お断り, 不受理): no longer the resident's one submission; they may apply again.
        submission.duplicate_key = ""
        fields.append("duplicate_key")
    submission.save(update_fields=fields)
    move_status_count(submission=submission, from_status=old, to_status=to_status)
    StatusChange.objects.create(
        organization_id=submission.organization_id,
        submission=submission,
        from_status=old,
        to_status=to_status,
        actor=actor if actor_kind == "staff" else None,
        actor_kind=actor_kind,
        reason=reason,
        created_at=now,
    )
    detail = {"from": old, "to": to_status}
    if action == "submission.reopen":
        detail["reason"] = reason  # staff's own words on a decision taken back: the audit keeps why
    audit.record(
        organization=submission.organization,
        actor=actor if actor_kind == "staff" else "申請者",
        action=action
        or (
            "submission.transition"
            if actor_kind == "staff"
            else ("submission.withdraw" if to_status == Status.WITHDRAWN else "submission.resubmit")
        ),
        obj=submission,
        detail=detail,
    )
    if submission.applicant_email and actor_kind == "staff":
        notify.queue_status_email(submission=submission, reason=reason, email_kind=email_kind)
    return submission


@transaction.atomic
def add_note(*, submission: Submission, author, body: str) -> Note:
    body = checked_text(body)
    if not body:
        raise SubmissionError(gettext("メモの内容を入力してください。"))
    if len(body) > 4000:
        raise SubmissionError(gettext("メモは4,000文字以内で入力してください。"))
    note = Note.objects.create(
        organization_id=submission.organization_id, submission=submission, author=author, body=body
    )
    audit.record(organization=submission.organization, actor=author, action="submission.note", obj=submission)
    return note


@transaction.atomic
def assign(*, submission: Submission, assignee, actor) -> Submission:
    """Give the submission to `assignee` (None: to nobody). Raises SubmissionError (Japanese) when the assignee
    may not process its procedure (accounts.access.processors_of_procedure: a member limited to other 所属,
    a viewer, another organization's staff)."""
    from madoguchi.accounts.access import processors_of_procedure

    if (
        assignee is not None
        and not processors_of_procedure(submission.procedure).filter(pk=assignee.pk).exists()
    ):
        raise SubmissionError(gettext("担当者に選べるのは、この手続を扱える処理担当者だけです。"))
    submission.assignee = assignee
    submission.save(update_fields=["assignee", "updated_at"])
    audit.record(
        organization=submission.organization,
        actor=actor,
        action="submission.assign",
        obj=submission,
        detail={"assignee": assignee.get_username() if assignee else None},
    )
    return submission


def stage_upload(*, procedure: Procedure, session_key: str, upload, content_type: str) -> StagedUpload:
    """Keep a checked file (intake.check_upload) for the resident's session until the submit attaches it; a
    PDF is read for active content (upload_checks.pdf_active_content), kept on the row for staff."""
    staged = StagedUpload(
        organization_id=procedure.organization_id,
        procedure=procedure,
        session_key_hash=hashlib.sha256(session_key.encode()).hexdigest(),
        storage_key=secrets.token_hex(16),
        original_name=(upload.name or "file")[:255],
        content_type=content_type,
        size=upload.size,
    )
    if content_type == "application/pdf":
        upload.seek(0)
        staged.active_content = ",".join(upload_checks.pdf_active_content(upload.read()))
        upload.seek(0)
    # Stored encrypted with the organization's key (lib/envelope.py); the Attachment made on submit
    # points at the same stored file.
    with envelope.encrypted_file(procedure.organization_id, upload) as encrypted:
        staged.file.save(staged.storage_key, File(encrypted), save=False)
    staged.save()
    return staged


# Bulk actions on the inbox's selection ------------------------------------------------------------------

BULK_MAX = 1000  # submissions in one bulk action (the inbox's selection)
_BULK_CHUNK = 200


def count_of_procedure(procedure: Procedure, submission_ids: list[int]) -> int:
    """How many of these ids are submissions of `procedure` (in its organization); read in chunks."""
    ids = list(dict.fromkeys(submission_ids))
    return sum(
        Submission.objects.filter(
            organization_id=procedure.organization_id, procedure=procedure, pk__in=ids[i : i + _BULK_CHUNK]
        ).count()
        for i in range(0, len(ids), _BULK_CHUNK)
    )


@dataclass
class BulkResult:
    moved: int
    # (受付番号 as shown, e.g. 4821-0395-76; why it could not move, a message fit to show), in arrival order
    refused: list[tuple[str, str]]


def bulk_transition(
    *, procedure: Procedure, submission_ids: list[int], to_status: str, actor, reason: str = "", deadline=None
) -> BulkResult:
    """Move each of the selected submissions to `to_status` with one reason, each through transition()
    in its own transaction: its own StatusChange, audit entry and e-mail to the resident. A submission that
    cannot move (its status, a 補正期限 not reached…) is reported by 受付番号 and the others still move.

    submission_ids: at most BULK_MAX ids of `procedure`'s submissions. Raises OtherOrganization, changing
    nothing, when any id is not one of them (another procedure's or organization's: a forged selection),
    and SubmissionError, changing nothing, for an unknown status, a missing reason where the move needs
    one, or more than BULK_MAX ids. Staff's role is checked by the caller (access.PROCESS). Memory stays
    flat: ids are read in chunks of 200, one submission at a time is loaded.
    """
    ids = list(dict.fromkeys(int(pk) for pk in submission_ids))
    if len(ids) > BULK_MAX:
        raise SubmissionError(gettext("一度に操作できるのは%(max)s件までです。") % {"max": f"{BULK_MAX:,}"})
    needs_reason = [
        needs for (_from, to), needs in transitions_for(procedure.kind).items() if to == to_status
    ]
    if not needs_reason:
        raise SubmissionError(gettext("変更先の状態を選んでください。"))
    # A reason every move to this status needs is asked for once, before anything moves.
    reason = checked_text(reason)
    if len(reason) > 4000:
        raise SubmissionError(gettext("理由は4,000文字以内で入力してください。"))
    if all(needs_reason) and not reason:
        raise SubmissionError(
            gettext("「%(status)s」にするには理由を入力してください（申請者に表示されます）。")
            % {"status": status_label(procedure.kind, to_status)}
        )
    if count_of_procedure(procedure, ids) != len(ids):
        raise OtherOrganization(gettext("選ばれた申請に、この手続のものではない申請が含まれています。"))
    moved, refused = 0, []
    for start in range(0, len(ids), _BULK_CHUNK):
        chunk = (
            Submission.objects.filter(
                organization_id=procedure.organization_id,
                procedure=procedure,
                pk__in=ids[start : start + _BULK_CHUNK],
            )
            .order_by("submitted_at", "id")
            .values_list("pk", "receipt_number")
        )
        for pk, receipt_number in chunk:
            try:
                transition(
                    submission=Submission(pk=pk),
                    to_status=to_status,
                    actor=actor,
                    reason=reason,
                    deadline=deadline,
                )
            except SubmissionError as exc:
                refused.append((format_receipt_number(receipt_number), str(exc)))
            else:
                moved += 1
    return BulkResult(moved=moved, refused=refused)
