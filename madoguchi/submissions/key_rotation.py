"""Key rotation without downtime (`manage.py rotate_keys`): the one write path for re-wrapping data keys,
adding new ones and re-encrypting what is stored (lib/envelope.py explains the keys).

The three steps, each safe to run while the site serves residents and staff, and each safe to repeat:
1. rewrap: every organization's data keysets (and the site's) are wrapped again under the master keyset's
   primary key. After it, the old master key may be taken out of MADOGUCHI_MASTER_KEYSET.
2. new_data_keys: each keyset gets a new primary key. Every process uses it for new writes within
   envelope.KEYSET_CACHE_SECONDS; what was written before stays readable with the old keys, which stay.
3. reencrypt: answers, 補正前の回答, 一時保存, staff notes, messages and attachments not under the primary keys (or stored before
   encryption existed) are written again under them, each row in its own short transaction with the row
   locked, so a resident's 補正 or a staff action at the same moment is neither lost nor blocked for long.
   Files get a new stored name; the old file is deleted once the row points at the new one. Staged uploads
   and export files are not rewritten: they are deleted within days anyway (purge_staged_uploads,
   purge_export_files) and stay readable meanwhile.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files import File
from django.db import transaction

from madoguchi.lib import envelope
from madoguchi.organizations.models import DataKey

BATCH = 500


@dataclass
class RotationResult:
    rewrapped: int = 0  # data keyset rows wrapped again
    new_keys: int = 0  # data keyset rows given a new primary key
    reencrypted: dict[str, int] = field(default_factory=dict)  # per kind of row: rows rewritten


def rewrap(*, only_stale: bool = True) -> int:
    """Wrap every data keyset row again under the master keyset's primary key (rows already under it are
    left alone when `only_stale`). Returns the number of rows rewritten."""
    primary = envelope.master_primary_id()
    done = 0
    for pk in DataKey.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            row = DataKey.objects.select_for_update().get(pk=pk)
            if only_stale and row.master_key_id == primary:
                continue
            envelope.rewrap(row)
            done += 1
    envelope.forget_cached_keys()
    return done


def new_data_keys(*, organization_ids: list[int] | None = None) -> int:
    """Give each data keyset row (or those of `organization_ids`) a new primary key; returns how many."""
    rows = DataKey.objects.order_by("pk")
    if organization_ids is not None:
        rows = rows.filter(organization_id__in=organization_ids)
    done = 0
    for pk in rows.values_list("pk", flat=True):
        with transaction.atomic():
            envelope.add_primary_keys(DataKey.objects.select_for_update().get(pk=pk))
            done += 1
    envelope.forget_cached_keys()
    return done


def reencrypt(*, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Rewrite every answer, revision, draft, note, message, queued e-mail and attachment not under its
    organization's primary key. Returns {kind: rows rewritten}."""
    from madoguchi.notifications.models import Message, OutgoingEmail
    from madoguchi.submissions.models import AnswerRevision, Note, Submission, SubmissionDraft

    say = progress or (lambda _message: None)
    envelope.forget_cached_keys()
    counts = {
        "submissions": _reencrypt_json(Submission, "answers"),
        "answer_revisions": _reencrypt_json(AnswerRevision, "answers"),
        "drafts": _reencrypt_draft(SubmissionDraft),
        "notes": reencrypt_texts(Note, "note"),
        "messages": reencrypt_texts(Message, "message"),
        "emails": reencrypt_texts(OutgoingEmail, "email"),
        "attachments": _reencrypt_files(),
    }
    for kind, count in counts.items():
        say(f"{kind}: {count:,}")
    return counts


def _stale_answers(data, organization_id: int) -> bool:
    key_id = envelope.answers_key_id(data)
    if data in (None, {}):  # disposed of (廃棄) or never written: nothing to encrypt
        return False
    return key_id is None or key_id != envelope.keys_for(organization_id).aead_primary


def reencrypt_texts(model, kind: str) -> int:
    """Rewrite every staff note, message or queued e-mail (`model`'s body_data, lib/envelope.encrypt_text;
    `kind` "note", "message" or "email") not under its organization's primary key, those stored in clear
    included, each row locked in its own transaction; an empty one stays empty. Also the data migrations'
    write path (it reads only body_data and organization_id, so their historical models do). Returns the
    number of rows rewritten."""

    def stale(stored: str, organization_id: int) -> bool:
        return (
            bool(stored) and envelope.text_key_id(stored) != envelope.keys_for(organization_id).aead_primary
        )

    done = 0
    for pk, organization_id, stored in (
        model.objects.order_by("pk")
        .values_list("pk", "organization_id", "body_data")
        .iterator(chunk_size=BATCH)
    ):
        if not stale(stored, organization_id):
            continue
        with transaction.atomic():
            row = model.objects.select_for_update().filter(pk=pk).first()
            if row is None or not stale(row.body_data, row.organization_id):
                continue
            text = envelope.decrypt_text(row.organization_id, row.body_data, kind=kind)
            row.body_data = envelope.encrypt_text(row.organization_id, text, kind=kind)
            row.save(update_fields=["body_data"])
            done += 1
    return done


def _reencrypt_json(model, kind: str) -> int:
    from madoguchi.submissions.answers import stored_answers

    done = 0
    last = 0
    while True:
        batch = list(
            model.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "organization_id", "answers_data")[:BATCH]
        )
        if not batch:
            return done
        last = batch[-1][0]
        stale = [pk for pk, org, data in batch if _stale_answers(data, org)]
        for pk in stale:
            with transaction.atomic():
                row = model.objects.select_for_update().filter(pk=pk).first()
                if row is None or not _stale_answers(row.answers_data, row.organization_id):
                    continue  # deleted, or rewritten by its own write path meanwhile
                row.answers_data = envelope.encrypt_json(
                    row.organization_id, stored_answers(row.organization_id, row.answers_data), kind=kind
                )
                row.save(update_fields=["answers_data"])
                done += 1


def _reencrypt_draft(model) -> int:
    from madoguchi.submissions.drafts import draft_content, stored_draft

    done = 0
    for pk in model.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=BATCH):
        with transaction.atomic():
            draft = model.objects.select_for_update().filter(pk=pk).first()
            if draft is None or not _stale_answers(draft.answers_data, draft.organization_id):
                continue
            content = draft_content(draft)
            draft.answers_data = stored_draft(draft.organization_id, content.raw, content.page, content.token)
            draft.save(update_fields=["answers_data"])
            done += 1
    return done


def _reencrypt_files() -> int:
    from madoguchi.submissions.models import Attachment

    storage = Attachment._meta.get_field("file").storage
    done = 0
    rows = Attachment.objects.order_by("pk").values_list("pk", "organization_id", "file")
    for pk, organization_id, name in rows.iterator(chunk_size=BATCH):
        try:
            key_id = envelope.file_key_id(storage, name)
        except (FileNotFoundError, OSError):
            continue  # gone from storage: nothing to rewrite (the ZIP lists it as unreadable)
        if key_id is not None and key_id == envelope.keys_for(organization_id).streaming_primary:
            continue
        with envelope.open_file(organization_id, storage, name) as plain:
            with envelope.encrypted_file(organization_id, plain) as encrypted:
                new_name = storage.save(f"uploads/{organization_id}/{secrets.token_hex(16)}", File(encrypted))
        with transaction.atomic():
            moved = Attachment.objects.filter(pk=pk, file=name).update(file=new_name)
        if moved:
            storage.delete(name)
            done += 1
        else:  # the row changed or went meanwhile (廃棄): the new copy is not needed
            storage.delete(new_name)
    return done
