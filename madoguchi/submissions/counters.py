"""Attempt counters that hold under concurrency: one statement increments and returns the count (an upsert,
the same SQL on SQLite ≥ 3.35 and PostgreSQL), so a burst of simultaneous requests cannot all read the same
old count and pass a limit together, as a read-then-write through the cache could.

A counter lives for a fixed window from its first hit; a hit after the window starts it again at 1. Expired
rows are deleted by `purge_drafts`' daily run (purge_expired).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from madoguchi.lib import prepared
from madoguchi.submissions.models import RateCounter


def key_of(*parts: str) -> str:
    """A counter key from its parts (a kind, an address, a 受付番号…): SHA-256, so nothing is kept in clear."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def hit_sql(connection) -> str:
    """The upsert that counts one attempt, returning the count. Parameters: key, the window's end if it
    starts now, now, now. The resident's final submit on PostgreSQL runs it inside its own statement
    (single_statement.py)."""
    q = connection.ops.quote_name
    table, key_, count_, ends_ = q(RateCounter._meta.db_table), q("key"), q("count"), q("expires_at")
    return (
        f"INSERT INTO {table} ({key_}, {count_}, {ends_}) VALUES (%s, 1, %s) "  # noqa: S608 (quoted names of the model, values as parameters)
        f"ON CONFLICT ({key_}) DO UPDATE SET "
        f"{count_} = CASE WHEN {table}.{ends_} <= %s THEN 1 ELSE {table}.{count_} + 1 END, "
        f"{ends_} = CASE WHEN {table}.{ends_} <= %s THEN excluded.{ends_} ELSE {table}.{ends_} END "
        f"RETURNING {count_}"
    )


def hit(key: str, window_seconds: int) -> int:
    """Count one attempt under `key` and return the count in the current window (1 for the first)."""
    now = timezone.now()
    ends = now + timedelta(seconds=window_seconds)
    adapt = connection.ops.adapt_datetimefield_value
    with prepared.cursor(connection) as cursor:  # one text for every hit: prepared on a kept connection
        cursor.execute(hit_sql(connection), [key, adapt(ends), adapt(now), adapt(now)])
        return cursor.fetchone()[0]


def count(key: str) -> int:
    """The count in the current window, without counting (0 when none or expired)."""
    row = RateCounter.objects.filter(key=key, expires_at__gt=timezone.now()).values_list("count", flat=True)
    return next(iter(row), 0)


def clear(key: str) -> None:
    RateCounter.objects.filter(key=key).delete()


def purge_expired() -> int:
    """Delete counters whose window has ended; returns how many."""
    return RateCounter.objects.filter(expires_at__lte=timezone.now()).delete()[0]
