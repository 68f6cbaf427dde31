"""The one write path of the audit log: record().

Every state change is recorded with its actor, and so is every view of a resident's answers. A view
repeated by the same person on the same object within VIEW_REPEAT_WINDOW of their previous view, with
nothing else of theirs on that object in between, is kept on the previous entry (repeat_count + 1,
last_seen_at = now) instead of a new row: the page stays readable and still says who looked, first when,
last when and how often. Only actions in sentences.VIEW_ACTIONS collapse; a change never does.

Collapsing is safe when the same person opens the case in two tabs at once: the read-then-update runs in
a transaction holding a lock for (person, object) — pg_advisory_xact_lock on PostgreSQL; on SQLite every
transaction starts with BEGIN IMMEDIATE (settings.py), which serialises writers — so exactly one of them
inserts and the other counts.
"""

import hashlib
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from madoguchi.audit.models import AuditLog
from madoguchi.audit.sentences import VIEW_ACTIONS
from madoguchi.lib import integrity

# Names of actions recorded elsewhere that audit/sentences.py does not know yet, for the page's filter
# (action → pgettext_lazy("audit action", "…")). Better: add the action's line to sentences.ACTIONS.
ACTION_LABELS: dict[str, Any] = {}

# The same person viewing the same object again within this time of their last view is one entry.
VIEW_REPEAT_WINDOW = timedelta(minutes=30)


def record(*, organization, actor, action: str, obj, detail: dict[str, Any] | None = None) -> AuditLog:
    """Record one audit row and return it (for a collapsed view: the earlier row, counted once more).

    `actor` is a user, or the text "申請者" for a resident's own action, or None for the system.
    `obj` is any model instance (None for an event about no stored object: a login under an unknown
    name); an organization's entry never names another organization's object
    (integrity.check_same_organization raises). Callers run inside the transaction of the change they
    record. `detail` is JSON; never put personal data of a resident in it (the page shows it).
    """
    if organization is not None and obj is not None and integrity.is_audited(obj):
        # An organization's audit page shows its entries' objects: never one of another organization.
        integrity.check_same_organization(organization, obj)
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_label = actor.get_username()
        actor_obj = actor
    else:
        # A resident's own action passes "申請者"; anything else without a user is the system (commands, demo).
        actor_label = actor if isinstance(actor, str) else "システム"
        actor_obj = None
    fields = {
        "organization": organization,
        "actor": actor_obj,
        "actor_label": actor_label,
        "action": action,
        "object_type": obj._meta.label_lower if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
        "detail": detail or {},
    }
    if action in VIEW_ACTIONS and actor_obj is not None:
        return _record_view(fields)
    return AuditLog.objects.create(**fields)


def _lock_views_of(actor_id: int, object_type: str, object_id: str) -> None:
    """Hold, until the transaction ends, the lock of this person's views of this object (PostgreSQL).
    SQLite needs none: its transactions start with BEGIN IMMEDIATE and so run one at a time."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"audit-view:{actor_id}:{object_type}:{object_id}".encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def _record_view(fields: dict) -> AuditLog:
    _lock_views_of(fields["actor"].pk, fields["object_type"], fields["object_id"])
    now = timezone.now()
    last = (
        AuditLog.objects.filter(
            organization=fields["organization"],
            object_type=fields["object_type"],
            object_id=fields["object_id"],
            actor=fields["actor"],
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if (
        last is not None
        and last.action == fields["action"]
        and (last.last_seen_at or last.created_at) >= now - VIEW_REPEAT_WINDOW
    ):
        AuditLog.objects.filter(pk=last.pk).update(repeat_count=F("repeat_count") + 1, last_seen_at=now)
        last.refresh_from_db(fields=["repeat_count", "last_seen_at"])
        return last
    return AuditLog.objects.create(**fields, last_seen_at=now)
