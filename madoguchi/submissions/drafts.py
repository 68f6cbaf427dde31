"""一時保存: a resident keeps a half-filled form and finishes it later, on this device or another.

A draft holds what was typed (files are not kept), the page the resident was on, and the application's
token (so the same application submitted from two devices is received once). Its resume token is random,
sent in a link by e-mail through the outbox, and stored only as its SHA-256: the link opens the draft in any
browser, as often as wanted, until `expires_at` (Procedure.draft_days after the last save) or until the
application is submitted. `manage.py purge_drafts` deletes expired drafts.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from madoguchi.lib import envelope, prepared
from madoguchi.lib.receipt import stored_token
from madoguchi.lib.timeutil import JST
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import FormVersion, Procedure
from madoguchi.submissions.models import SubmissionDraft

EMAIL_KIND = "draft"
# An address is sent at most this many resume links an hour: the form must not become a way to flood a
# stranger's mailbox.
EMAILS_PER_ADDRESS_PER_HOUR = 10
TOKEN_BYTES = 32
RESUME_PARAMETER = "key"

EMAIL_INVALID_MESSAGE = gettext_lazy(
    "メールアドレスの形式が正しくありません。「name@example.jp」のように入力してください。"
)
EMAIL_REQUIRED_MESSAGE = gettext_lazy("一時保存のお知らせを送るメールアドレスを入力してください。")
TOO_MANY_EMAILS_MESSAGE = gettext_lazy(
    "このメールアドレスには、短い時間に何度もお知らせを送っています。しばらく時間をおいてから、もう一度お試しください。"
)


class DraftError(ValueError):
    """The draft was not saved or not sent; str() is a Japanese message fit to show next to the field."""


@dataclass(frozen=True)
class SavedDraft:
    draft: SubmissionDraft
    # The raw resume token: only for the e-mail and the page of the resident who saved it; never stored.
    token: str

    @property
    def resume_url(self) -> str:
        return resume_url(self.token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def resume_url(token: str) -> str:
    """The absolute link that opens a draft: the opaque token in the query string (kept out of access logs,
    which record paths only); the page it opens redirects at once, so the token leaves the address bar."""
    return f"{settings.SITE_URL}{reverse('public:draft_resume')}?{urlencode({RESUME_PARAMETER: token})}"


def clean_email(text: str) -> str:
    """The address as typed, trimmed; raises DraftError (Japanese) when it is empty or not an address."""
    email = (text or "").strip()
    if not email:
        raise DraftError(str(EMAIL_REQUIRED_MESSAGE))
    try:
        validate_email(email)
    except ValidationError:
        raise DraftError(str(EMAIL_INVALID_MESSAGE)) from None
    if len(email) > 254:
        raise DraftError(str(EMAIL_INVALID_MESSAGE))
    return email


@transaction.atomic
def save_draft(
    *,
    procedure: Procedure,
    version: FormVersion,
    raw: dict,
    page: str,
    application_token: str,
    email: str = "",
    draft_id: int | None = None,
    token: str | None = None,
    send: bool = True,
    now=None,
) -> SavedDraft:
    """Keep what the resident typed (`raw`: intake.read_raw's shape; file inputs are dropped) for
    Procedure.draft_days days from now, and e-mail the resume link to `email` when it is given and `send`.

    `draft_id`: the draft this browser saved or resumed before (of the same procedure): it is updated, not
    duplicated. `token`: that draft's raw token, when the resident still has it on the page (the busy page):
    it is kept, so the link already shown still works; otherwise a new token replaces the old one (links
    sent before stop working). Raises DraftError (Japanese) for a bad address or too many e-mails to it.
    """
    email = clean_email(email) if email else ""
    now = now or timezone.now()
    if email and send:
        since = now - timedelta(hours=1)
        sent = OutgoingEmail.objects.filter(kind=EMAIL_KIND, to__iexact=email, created_at__gte=since).count()
        if sent >= EMAILS_PER_ADDRESS_PER_HOUR:
            raise DraftError(str(TOO_MANY_EMAILS_MESSAGE))
    kept_raw = {name: value for name, value in raw.items() if not name.endswith("__remove")}
    draft = (
        SubmissionDraft.objects.select_for_update().filter(pk=draft_id, procedure=procedure).first()
        if draft_id
        else None
    )
    if draft is None or token is None or draft.token_hash != hash_token(token):
        token = secrets.token_urlsafe(TOKEN_BYTES)
    fields = {
        "organization_id": procedure.organization_id,
        "procedure": procedure,
        "form_version": version,
        "answers_data": stored_draft(procedure.organization_id, kept_raw, page or "", application_token),
        "application_token": stored_token(application_token) if application_token else "",
        "token_hash": hash_token(token),
        "email": email or (draft.email if draft is not None else ""),
        "expires_at": now + timedelta(days=procedure.draft_days),
    }
    if draft is None:
        draft = SubmissionDraft.objects.create(**fields)
    else:
        for name, value in fields.items():
            setattr(draft, name, value)
        draft.save()
    saved = SavedDraft(draft=draft, token=token)
    if email and send:
        queue_draft_email(saved)
    return saved


@dataclass(frozen=True)
class DraftContent:
    raw: dict  # intake.read_raw's shape
    page: str  # the page key the resident was on ("" for the first)
    token: str  # the application's idempotency token ("" if none was kept)


def stored_draft(organization_id: int, raw: dict, page: str, application_token: str) -> dict:
    """What SubmissionDraft.answers_data holds: the application's token hashed as Submission.token is
    (stored_token; discard_draft finds a draft by it), and, encrypted with the organization's key
    (lib/envelope.py), what was typed, the page and the application's token itself (a draft resumed on
    another device submits as the same application)."""
    return {
        "token": stored_token(application_token) if application_token else "",
        **envelope.encrypt_json(
            organization_id, {"raw": raw, "page": page, "token": application_token}, kind="draft"
        ),
    }


def draft_content(draft: SubmissionDraft) -> DraftContent:
    """What a draft keeps, decrypted. Drafts saved before encryption existed are read as they are.
    Raises envelope.KeyUnavailable when the organization's keys do not open it."""
    data = draft.answers_data or {}
    content = (
        envelope.decrypt_json(draft.organization_id, data, kind="draft")
        if envelope.is_encrypted(data)
        else data
    )
    # Drafts saved before the token was hashed keep it in clear, outside the encrypted part.
    token = content.get("token", "") if "token" in content else data.get("token", "")
    return DraftContent(raw=dict(content.get("raw", {})), page=content.get("page", ""), token=token)


def queue_draft_email(saved: SavedDraft) -> OutgoingEmail:
    """Queue the e-mail with the resume link, in the page's language: the procedure, its organization and
    the expiry (JST, to the minute). The body, with the link, is cleared from the outbox once sent."""
    from madoguchi.notifications.services import queue_email

    draft = saved.draft
    procedure = draft.procedure
    expires = timezone.localtime(draft.expires_at, timezone=JST)
    body = render_to_string(
        "notifications/draft_email.txt",
        {
            "procedure": procedure,
            "organization": procedure.organization,
            "resume_url": saved.resume_url,
            "expires": expires,
            "english": translation.get_language() == "en",
        },
    )
    subject = gettext("【一時保存】%(title)s") % {"title": procedure.title}
    return queue_email(
        organization_id=procedure.organization_id,
        kind=EMAIL_KIND,
        to=draft.email,
        subject=subject,
        body=body,
    )


def find_draft(token: str, *, now=None) -> SubmissionDraft | None:
    """The draft a resume link opens, or None when the token is unknown (forged, replaced by a later save,
    or the draft was submitted or purged) or the draft has expired."""
    if not token or len(token) > 200:
        return None
    now = now or timezone.now()
    return (
        SubmissionDraft.objects.select_related("procedure__organization", "form_version")
        .filter(token_hash=hash_token(token), expires_at__gt=now)
        .first()
    )


def discard_draft(*, procedure_id: int, draft_id: int | None = None, application_token: str = "") -> int:
    """Delete the draft of an application once it is submitted: by its id (from the signed 確認画面) and
    by the application's token (a draft resumed on another device). Returns the number deleted."""
    # By the token's hash; drafts saved before tokens were hashed hold the token itself.
    tokens = [stored_token(application_token), application_token] if application_token else [None, None]
    # Most applications had no draft: one look-up then (every submit pays it), not a delete's transaction.
    if connection.vendor == "postgresql":
        # The ORM took longer to build this look-up than PostgreSQL to run it: SQL made once, prepared.
        with prepared.cursor(connection) as cursor:
            cursor.execute(_DRAFTS_OF_APPLICATION, [procedure_id, draft_id or None, *tokens])
            ids = [row[0] for row in cursor.fetchall()]
    else:
        found = Q(pk=draft_id) if draft_id else Q(pk__in=[])
        if application_token:
            found |= Q(application_token__in=tokens)
        ids = list(
            SubmissionDraft.objects.filter(found, procedure_id=procedure_id).values_list("pk", flat=True)
        )
    if not ids:
        return 0
    return SubmissionDraft.objects.filter(pk__in=ids, procedure_id=procedure_id).delete()[0]


_DRAFTS_OF_APPLICATION = (
    f"SELECT id FROM {SubmissionDraft._meta.db_table} WHERE procedure_id = %s "  # noqa: S608 (our own SQL)
    "AND (id = %s OR application_token = %s OR application_token = %s)"
)


def purge_expired_drafts(*, now=None) -> int:
    """Delete every draft whose expiry has passed; returns how many. Idempotent (manage.py purge_drafts)."""
    now = now or timezone.now()
    return SubmissionDraft.objects.filter(expires_at__lte=now).delete()[0]
