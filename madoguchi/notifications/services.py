"""E-mail to residents. Rows are written in the caller's transaction and the task is enqueued in it too:
the database is the outbox, so a rolled-back submission sends nothing and a committed one is never lost.

Each e-mail is in the language the resident used to submit (Submission.language), whatever language the
page that triggered it is shown in: a staff member reading English still sends a Japanese resident Japanese.
"""

import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext, pgettext

from madoguchi.lib import japanese as ja
from madoguchi.lib.integrity import check_same_organization
from madoguchi.lib.timeutil import JST
from madoguchi.notifications import texts
from madoguchi.notifications.models import EmailText, Message, OutgoingEmail


def queue_email(
    *, organization_id: int, submission=None, kind: str, to: str, subject: str, body: str
) -> OutgoingEmail:
    from madoguchi.notifications.tasks import send_email

    check_same_organization(organization_id, submission)
    email = OutgoingEmail.objects.create(
        organization_id=organization_id, submission=submission, kind=kind, to=to, subject=subject, body=body
    )
    send_email.enqueue(email.pk)
    return email


def _render_resident_email(
    *, submission, template: str, subject, text_kind: str | None = None, values=None, **context
) -> tuple[str, str]:
    """Subject and body of one e-mail to the applicant, in the language they applied in.

    `subject` is called inside that language with the title and 受付番号, so its gettext is translated there.
    With `text_kind`, the procedure's own text of that kind (EmailText, in Japanese) is used instead for a
    resident who applied in Japanese, filled with placeholder_values(submission, **values).
    """
    procedure = submission.procedure
    with translation.override(submission.language or "ja"):
        own = _own_text(submission, text_kind)
        if own is not None:
            allowed = texts.KINDS[text_kind][1]
            filled = placeholder_values(submission, **(values or {}))
            return (
                texts.fill(own.subject, allowed, filled, one_line=True),
                texts.fill(own.body, allowed, filled),
            )
        body = render_to_string(
            template,
            {
                "submission": submission,
                "procedure": procedure,
                "organization": procedure.organization,
                "site_url": settings.SITE_URL,
                **context,
            },
        )
        return subject(title=procedure.title, receipt=submission.display_receipt_number), body


def _own_text(submission, text_kind: str | None):
    """The procedure's own text of this kind, for a resident who applied in Japanese; None otherwise."""
    if text_kind is None or (submission.language or "ja") != "ja":
        return None
    return EmailText.objects.filter(
        organization_id=submission.organization_id, procedure_id=submission.procedure_id, kind=text_kind
    ).first()


def contact_line(procedure) -> str:
    """担当: the organization, the procedure's 所属 and its telephone, in the active language; "" without a 所属."""
    department = procedure.department
    if department is None:
        return ""
    line = (
        f"{gettext('担当')}{pgettext('label separator', '：')}{procedure.organization.name} {department.name}"
    )
    if department.phone:
        line += gettext("（電話 %(phone)s）") % {"phone": department.phone}
    return line


def _jst_date_text(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else gettext("なし")


def placeholder_values(
    submission, *, reason: str = "", inquiry_code: str = "", body: str = ""
) -> dict[str, str]:
    """The value of every placeholder (texts.KINDS) for one submission: dates in JST, as plain text."""
    from django.utils import timezone

    from madoguchi.submissions.services import status_label

    procedure = submission.procedure
    arrived = timezone.localtime(submission.submitted_at, timezone=JST) if submission.submitted_at else None
    return {
        "受付番号": submission.display_receipt_number,
        "手続名": procedure.title,
        "団体名": procedure.organization.name,
        "状態": status_label(procedure.kind, submission.status),
        "担当": contact_line(procedure),
        "状況確認URL": settings.SITE_URL + "/status/",
        "理由": reason,
        "補正期限": _jst_date_text(submission.correction_deadline),
        "問い合わせ番号": inquiry_code,
        "到達日時": arrived.strftime("%Y年%-m月%-d日 %H:%M:%S") if arrived else "",
        "本文": body,
    }


def _queue_resident_email(
    *, submission, kind: str, template: str, subject, text_kind=None, values=None, **context
) -> OutgoingEmail:
    subject_text, body = _render_resident_email(
        submission=submission,
        template=template,
        subject=subject,
        text_kind=text_kind,
        values=values,
        **context,
    )
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind=kind,
        to=submission.applicant_email,
        subject=subject_text,
        body=body,
    )


RECEIPT = "receipt"


def queue_receipt_email(*, submission) -> OutgoingEmail:
    """Queue the receipt. The worker writes it as it sends it (write_receipt), so the inquiry code in it
    is never stored, and the submission's transaction holds a row and a task, not a rendering."""
    return queue_email(
        organization_id=submission.organization_id,
        submission=submission,
        kind=RECEIPT,
        to=submission.applicant_email,
        subject="",
        body="",
    )


def write_receipt(submission) -> tuple[str, str]:
    """Subject and body of the receipt e-mail: title, 受付番号, the inquiry code and where to look it up."""
    from madoguchi.lib.receipt import format_inquiry_code, inquiry_code_for
    from madoguchi.submissions.services import check_inquiry_code

    code = inquiry_code_for(submission.token)
    if not check_inquiry_code(submission, code):
        # This process has another INQUIRY_CODE_KEY than the one that gave the code: never send a wrong one.
        raise ImproperlyConfigured(
            "INQUIRY_CODE_KEY differs from the one this submission's code was made with"
        )
    return _render_resident_email(
        submission=submission,
        template="notifications/receipt_email.txt",
        subject=lambda **v: gettext("【受付】%(title)s（受付番号 %(receipt)s）") % v,
        text_kind=RECEIPT,
        values={"inquiry_code": format_inquiry_code(code)},
        inquiry_code=format_inquiry_code(code),
    )


# The e-mail text kind (texts.KINDS) of each status a staff move leads to; 処理中 has no text of its own.
STATUS_TEXT_KINDS = {"returned": "returned", "completed": "completed", "rejected": "rejected"}


def queue_status_email(*, submission, reason: str, email_kind: str | None = None) -> OutgoingEmail:
    """Tell the resident their submission's status changed (in its kind's words), with staff's reason and
    the 補正期限 (JST date) of a 差戻し. `email_kind` "reopened": a decision taken back (services.reopen)."""
    from madoguchi.submissions.services import status_label

    text_kind = email_kind or STATUS_TEXT_KINDS.get(submission.status)
    with translation.override(submission.language or "ja"):
        status = status_label(submission.procedure.kind, submission.status)
    return _queue_resident_email(
        submission=submission,
        kind="reopened" if email_kind == "reopened" else f"status_{submission.status}",
        template="notifications/status_email.txt",
        subject=lambda **v: (
            gettext("【処理を再開しました】%(title)s（受付番号 %(receipt)s）") % v
            if email_kind == "reopened"
            else gettext("【%(status)s】%(title)s（受付番号 %(receipt)s）") % {**v, "status": status}
        ),
        text_kind=text_kind,
        values={"reason": reason},
        reason=reason,
        status=status,
        reopened=email_kind == "reopened",
    )


MESSAGE = "message"
MESSAGE_MAX_LENGTH = 2000
# The project's control characters (lib/japanese), and in a message also CR (line ends are made LF first),
# the Unicode line separators and the BOM.
_MESSAGE_CONTROL = re.compile(f"[{ja.CONTROL_CHARACTER_CLASS}\r\u2028\u2029\ufeff]")


class MessageError(ValueError):
    """The message was not sent; str() is a Japanese message fit to show. Nothing was written."""


def _checked_message_body(body: str, *, from_resident: bool = False) -> str:
    """The body with line ends as LF and trimmed, or MessageError (Japanese): a control character other than
    a line break or tab, nothing written, over MESSAGE_MAX_LENGTH characters, or (from a resident) a
    マイナンバー (lib/japanese.contains_individual_number)."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    # Before stripping: a vertical tab or a NEL alone would otherwise pass for an empty message.
    if _MESSAGE_CONTROL.search(body):
        raise MessageError(
            gettext("メッセージに使えない制御文字が含まれています。貼り付けた文字を確かめてください。")
        )
    # Spaces, line breaks and invisible characters (U+3000, U+200B, …) at either end are not a message.
    body = ja.trim_invisible(body.strip()).strip()
    if not body:
        raise MessageError(gettext("メッセージを入力してください。"))
    if len(body) > MESSAGE_MAX_LENGTH:
        raise MessageError(
            gettext("メッセージは2,000文字以内で入力してください（いま%(count)s文字）。")
            % {"count": len(body)}
        )
    if from_resident and ja.contains_individual_number(body):
        raise MessageError(str(ja.INDIVIDUAL_NUMBER_MESSAGE))
    return body


@transaction.atomic
def send_message(*, submission, author, body: str) -> Message:
    """Staff write to the resident on a submission: the message shows on the resident's status page and is
    e-mailed (through the outbox) when the submission has an address. Audited (submission.message, without
    the text). Raises MessageError (Japanese) for an empty body, one over 2,000 characters, or a control
    character other than a line break or tab. Staff's role is checked by the caller (access.PROCESS)."""
    from django.utils import timezone

    from madoguchi.audit import services as audit

    body = _checked_message_body(body)
    message = Message.objects.create(
        organization_id=submission.organization_id,
        submission=submission,
        author=author,
        direction=Message.Direction.TO_RESIDENT,
        body=body,
        created_at=timezone.now(),
    )
    audit.record(
        organization=submission.organization,
        actor=author,
        action="submission.message",
        obj=submission,
        detail={"message": message.pk},
    )
    if submission.applicant_email:
        queue_message_email(message=message)
    return message


def queue_message_email(*, message: Message) -> OutgoingEmail:
    submission = message.submission
    return _queue_resident_email(
        submission=submission,
        kind=MESSAGE,
        template="notifications/message_email.txt",
        subject=lambda **v: gettext("【お知らせ】%(title)s（受付番号 %(receipt)s）") % v,
        text_kind=MESSAGE,
        values={"body": message.body},
        body=message.body,
    )


# Statuses in which the case is over for the resident: they may no longer write (完了/受理/受付済み, 却下,
# 取下げ/キャンセル in the kind's words). Staff may still write to them.
REPLY_CLOSED = frozenset({"completed", "rejected", "withdrawn"})
STAFF_REPLY = "staff_reply"


def can_reply(submission) -> bool:
    """Whether the resident may write to staff on this submission now: not once the case is closed."""
    return submission.status not in REPLY_CLOSED and submission.status != "draft"


@transaction.atomic
def receive_reply(*, submission, body: str) -> Message:
    """The resident writes to staff from the status page (Message.Direction.FROM_RESIDENT).

    The text is checked like staff's (_checked_message_body) and also refused when it holds a マイナンバー.
    Raises MessageError (Japanese) and writes nothing for a bad text or a closed case (REPLY_CLOSED, read
    under a row lock so a decision taken meanwhile wins). Audited (submission.resident_message, without the
    text). Staff addresses of the procedure (Procedure.notify_emails) get a notice through the outbox with
    the 受付番号 and a link to the case, never the text itself; the case page marks the reply 未返信 until
    staff answer.
    """
    from django.utils import timezone

    from madoguchi.audit import services as audit
    from madoguchi.submissions.models import Submission

    locked = Submission.objects.select_for_update().get(pk=submission.pk)
    if not can_reply(locked):
        raise MessageError(
            gettext(
                "この%(noun)sは処理が終わっているため、メッセージを送れません。お問い合わせは担当課へお電話ください。"
            )
            % {"noun": _kind_noun(submission.procedure.kind)}
        )
    body = _checked_message_body(body, from_resident=True)
    message = Message.objects.create(
        organization_id=submission.organization_id,
        submission=locked,
        author=None,
        direction=Message.Direction.FROM_RESIDENT,
        body=body,
        created_at=timezone.now(),
    )
    audit.record(
        organization=submission.organization,
        actor="申請者",
        action="submission.resident_message",
        obj=locked,
        detail={"message": message.pk},
    )
    _queue_staff_reply_notice(submission=submission)
    return message


def _kind_noun(kind: str) -> str:
    from madoguchi.submissions.services import kind_noun

    return kind_noun(kind)


def _queue_staff_reply_notice(*, submission) -> int:
    """One e-mail per staff address of the procedure: a reply arrived on 受付番号 …, see the case page."""
    from django.urls import reverse

    procedure = submission.procedure
    addresses = procedure.notify_emails.split()
    if not addresses:
        return 0
    with translation.override("ja"):
        link = settings.SITE_URL + reverse("staff:submission", kwargs={"submission_id": submission.pk})
        subject = gettext("【返信】%(title)s（受付番号 %(receipt)s）") % {
            "title": procedure.title,
            "receipt": submission.display_receipt_number,
        }
        body = render_to_string(
            "notifications/staff_reply_email.txt",
            {"procedure": procedure, "submission": submission, "link": link},
        )
    for address in addresses:
        queue_email(
            organization_id=submission.organization_id,
            submission=submission,
            kind=STAFF_REPLY,
            to=address,
            subject=subject,
            body=body,
        )
    return len(addresses)


WITHDRAWN = "withdrawn"


def queue_withdrawn_email(*, submission, reason: str) -> OutgoingEmail:
    """Confirm to the resident that their 取下げ (a sign-up's キャンセル) was taken, with the reason they gave;
    the procedure's own text of kind "withdrawn" when it has one. Called by submissions.services.withdraw."""
    from madoguchi.submissions.services import status_label

    with translation.override(submission.language or "ja"):
        status = status_label(submission.procedure.kind, submission.status)
    return _queue_resident_email(
        submission=submission,
        kind=WITHDRAWN,
        template="notifications/withdrawn_email.txt",
        subject=lambda **v: (
            gettext("【%(status)s】%(title)s（受付番号 %(receipt)s）") % {**v, "status": status}
        ),
        text_kind=WITHDRAWN,
        values={"reason": reason},
        reason=reason,
        status=status,
    )


# Failed e-mails, seen and sent again by staff ----------------------------------------------------------

# Kinds written again by the worker when their body is empty (tasks.send_email): they can be retried after
# a failure although their body (with the inquiry code) was not kept.
REWRITTEN_KINDS = frozenset({RECEIPT, "inquiry_code"})
# Kinds whose body holds a secret link or code: not kept once the e-mail failed for good (a resident's
# receipt, lost inquiry code, draft resume link, address verification; a staff invitation or password reset).
SECRET_KINDS = frozenset(
    {RECEIPT, "inquiry_code", "draft", "verification", "staff_invitation", "password_reset"}
)


def can_retry(email: OutgoingEmail) -> bool:
    """Whether staff can send a failed e-mail again: its body was kept, or the worker writes it again."""
    if email.status != OutgoingEmail.Status.FAILED:
        return False
    return bool(email.body) or (email.kind in REWRITTEN_KINDS and email.submission_id is not None)


class RetryError(ValueError):
    """The e-mail cannot be sent again; str() is a Japanese message fit to show."""


@transaction.atomic
def retry_email(*, email: OutgoingEmail, actor) -> OutgoingEmail:
    """Staff send a failed e-mail again: back to 送信待ち with a fresh count of attempts, the task enqueued in
    this transaction. Audited (email.retry). Raises RetryError (Japanese) when it is not failed or cannot be
    written again (can_retry). The caller checks staff's role (accounts.access, PROCESS)."""
    from madoguchi.audit import services as audit
    from madoguchi.notifications.tasks import send_email

    email = OutgoingEmail.objects.select_for_update().get(pk=email.pk)
    if email.status != OutgoingEmail.Status.FAILED:
        raise RetryError(gettext("このメールは送信失敗の状態ではありません（再送済みか、送信済みです）。"))
    if not can_retry(email):
        raise RetryError(
            gettext(
                "このメールは本文を保存していないため、再送できません。申請者に電話などで連絡してください。"
            )
        )
    email.status = OutgoingEmail.Status.PENDING
    email.attempts = 0
    email.save(update_fields=["status", "attempts"])
    send_email.enqueue(email.pk)
    audit.record(
        organization=email.organization,
        actor=actor,
        action="email.retry",
        obj=email.submission,
        detail={"email": email.pk, "kind": email.kind},
    )
    return email


# A procedure's own e-mail texts ----------------------------------------------------------------------


def email_text(procedure, kind: str) -> tuple[str, str, bool]:
    """(subject, body, own): the procedure's own text of `kind`, or the default one (own=False)."""
    row = EmailText.objects.filter(
        organization_id=procedure.organization_id, procedure=procedure, kind=kind
    ).first()
    if row is None:
        return (*texts.DEFAULTS[kind], False)
    return row.subject, row.body, True


@transaction.atomic
def save_email_text(*, procedure, kind: str, subject: str, body: str, actor) -> EmailText:
    """Store the procedure's own text of one e-mail kind (texts.KINDS), audited (procedure.email_text).
    Raises texts.TextError (Japanese, naming the problem) and stores nothing when texts.check refuses it.
    The actor's role is checked by the caller (access.BUILD, the procedure's editors)."""
    from madoguchi.audit import services as audit

    subject, body = texts.check(kind, subject, body)
    row, created = EmailText.objects.update_or_create(
        organization_id=procedure.organization_id,
        procedure=procedure,
        kind=kind,
        defaults={"subject": subject, "body": body, "updated_by": actor},
    )
    audit.record(
        organization=procedure.organization,
        actor=actor,
        action="procedure.email_text",
        obj=procedure,
        detail={"kind": kind, "created": created},
    )
    return row


@transaction.atomic
def reset_email_text(*, procedure, kind: str, actor) -> bool:
    """Go back to the default text of `kind`; audited. Returns False when the procedure had none of its own."""
    from madoguchi.audit import services as audit

    deleted, _ = EmailText.objects.filter(
        organization_id=procedure.organization_id, procedure=procedure, kind=kind
    ).delete()
    if deleted:
        audit.record(
            organization=procedure.organization,
            actor=actor,
            action="procedure.email_text_reset",
            obj=procedure,
            detail={"kind": kind},
        )
    return bool(deleted)


def preview_email_text(*, procedure, kind: str, subject: str, body: str) -> tuple[str, str]:
    """The text filled with sample values (a made-up 受付番号 and reason; the procedure's own title, organization
    and 担当), for the editor's preview. Raises texts.TextError like save_email_text."""
    from datetime import date, timedelta

    from django.utils import timezone

    from madoguchi.submissions.services import status_label

    subject, body = texts.check(kind, subject, body)
    status = {
        "returned": "returned",
        "completed": "completed",
        "rejected": "rejected",
        "withdrawn": "withdrawn",
    }.get(kind, "in_review")
    if kind in ("receipt", "message"):
        status = "received"
    today = timezone.localtime(timezone=JST)
    deadline = date.fromordinal(today.date().toordinal()) + timedelta(days=14)
    values = {
        "受付番号": "4821-0395-76",
        "手続名": procedure.title,
        "団体名": procedure.organization.name,
        "状態": status_label(procedure.kind, status),
        "担当": contact_line(procedure),
        "状況確認URL": settings.SITE_URL + "/status/",
        "理由": gettext("（例）添付された書類の写しが読み取れませんでした。撮り直して添付してください。"),
        "補正期限": _jst_date_text(deadline),
        "問い合わせ番号": "K7QM-3XRB-9TZD",
        "到達日時": today.strftime("%Y年%-m月%-d日 %H:%M:%S"),
        "本文": gettext("（例）窓口での受取日時が決まりましたのでお知らせします。"),
    }
    allowed = texts.KINDS[kind][1]
    return texts.fill(subject, allowed, values, one_line=True), texts.fill(body, allowed, values)


def queue_resubmit_email(*, submission) -> OutgoingEmail:
    """Tells the resident their corrected application (補正) arrived; the 受付番号 stays the same."""
    from django.utils import timezone

    return _queue_resident_email(
        submission=submission,
        kind="resubmit",
        template="notifications/resubmit_email.txt",
        subject=lambda **v: gettext("【再提出】%(title)s（受付番号 %(receipt)s）") % v,
        now=timezone.now(),
    )


STAFF_NEW = "staff_new"
# Submissions are told to staff once they are this old, so one still committing is not passed over.
STAFF_NOTICE_DELAY_SECONDS = 60


def queue_staff_notices(*, now=None) -> int:
    """For every procedure with staff addresses (Procedure.notify_emails), queue one e-mail per address
    telling them how many submissions arrived since the last notice, with their 受付番号 and the inbox link.
    No answer and no name is in it: the inbox shows those to whoever may see them.

    Run by `manage.py notify_staff` every few minutes. Idempotent: each submission is told once (the
    procedure keeps the arrival time, UTC, of the last one told). Returns the number of e-mails queued.
    """
    from datetime import timedelta

    from django.db import transaction
    from django.urls import reverse
    from django.utils import timezone

    from madoguchi.lib.receipt import format_receipt_number
    from madoguchi.procedures.models import Procedure
    from madoguchi.submissions.models import Submission

    now = now or timezone.now()
    until = now - timedelta(seconds=STAFF_NOTICE_DELAY_SECONDS)
    queued = 0
    for procedure_id in Procedure.objects.exclude(notify_emails="").values_list("pk", flat=True):
        with transaction.atomic():
            procedure = (
                Procedure.objects.select_for_update(of=("self",))
                .select_related("organization", "department")
                .get(pk=procedure_id)
            )
            arrived = Submission.objects.filter(
                organization_id=procedure.organization_id, procedure=procedure, submitted_at__lte=until
            )
            if procedure.staff_notified_through is not None:
                arrived = arrived.filter(submitted_at__gt=procedure.staff_notified_through)
            rows = list(arrived.order_by("submitted_at").values_list("receipt_number", "submitted_at")[:1001])
            if not rows:
                continue
            with translation.override("ja"):
                body = render_to_string(
                    "notifications/staff_new_email.txt",
                    {
                        "procedure": procedure,
                        "count": len(rows) if len(rows) <= 1000 else "1000以上",
                        "receipts": [format_receipt_number(r) for r, _ in rows[:50]],
                        "more": max(len(rows) - 50, 0),
                        "inbox_url": settings.SITE_URL
                        + reverse("staff:inbox", kwargs={"procedure_id": procedure.pk}),
                    },
                )
            subject = f"【新着】{procedure.title}（{len(rows)}件）"
            for address in procedure.notify_emails.split():
                queue_email(
                    organization_id=procedure.organization_id,
                    kind=STAFF_NEW,
                    to=address,
                    subject=subject,
                    body=body,
                )
                queued += 1
            last = rows[-1][1] if len(rows) <= 1000 else rows[999][1]
            Procedure.objects.filter(pk=procedure.pk).update(staff_notified_through=last)
    return queued
