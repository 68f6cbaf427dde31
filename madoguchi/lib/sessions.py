"""Django's database sessions (the same table, rows, encoding and errors), each read or write one statement.

Every step of a resident's form reads or writes the session. Django's own store reads a row through the
ORM (which costs the app server more CPU than PostgreSQL spends on the statement), asks whether a new
random key is already taken before inserting it (the primary key says so anyway), and wraps each single
write in a transaction of its own: six statements where two do. This store says the same in plain SQL
built from the model, prepared on PostgreSQL where that pays (lib/prepared.py); deleting, clearing expired
sessions and the async methods stay Django's.

settings.SESSION_ENGINE = "madoguchi.lib.sessions"
"""

import functools
from contextlib import nullcontext

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from madoguchi.lib import envelope, prepared


class SessionStore(db.SessionStore):
    # A resident's session holds what they are typing into a form: stored encrypted with the site's key
    # (lib/envelope.py), like the answers once submitted. A row that does not decrypt is no session.
    def encode(self, session_dict) -> str:
        return envelope.encrypt_session(super().encode(session_dict))

    def decode(self, session_data: str) -> dict:
        text = envelope.decrypt_session(session_data)
        return {} if text is None else super().decode(text)

    def load(self) -> dict:
        connection = connections[router.db_for_read(self.model)]
        sql = _statements(self.model, connection.alias)["load"]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with prepared.cursor(connection) as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:  # unknown or expired: a new session, as Django's store does
            self._session_key = None
            return {}
        return self.decode(row[0])

    def exists(self, session_key: str) -> bool:
        connection = connections[router.db_for_read(self.model)]
        with prepared.cursor(connection) as cursor:
            cursor.execute(_statements(self.model, connection.alias)["exists"], [session_key])
            return cursor.fetchone() is not None

    def _get_new_session_key(self) -> str:
        # No look-up first: a key already taken is refused by the primary key, save() raises CreateError
        # and create() draws another.
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        connection = connections[router.db_for_write(self.model)]
        statements = _statements(self.model, connection.alias)
        values = [self.encode(data), connection.ops.adapt_datetimefield_value(self.get_expiry_date())]
        with prepared.cursor(connection) as cursor:
            if must_create:
                try:
                    # Inside a caller's transaction, a savepoint: a key already taken must not spoil it.
                    # Outside one, the single statement commits by itself.
                    with (
                        transaction.atomic(using=connection.alias)
                        if connection.in_atomic_block
                        else nullcontext()
                    ):
                        cursor.execute(statements["insert"], [self.session_key, *values])
                except IntegrityError:
                    raise CreateError from None
            else:
                cursor.execute(statements["update"], [*values, self.session_key])
                if cursor.rowcount == 0:  # deleted meanwhile (e.g. logged out in another tab)
                    raise UpdateError


@functools.cache
def _statements(model, alias: str) -> dict[str, str]:
    meta = model._meta
    quote = connections[alias].ops.quote_name
    table = quote(meta.db_table)
    key, data, expire = (
        quote(meta.get_field(name).column) for name in ("session_key", "session_data", "expire_date")
    )
    return {
        "load": f"SELECT {data} FROM {table} WHERE {key} = %s AND {expire} > %s",  # noqa: S608
        "exists": f"SELECT 1 FROM {table} WHERE {key} = %s",  # noqa: S608
        "insert": f"INSERT INTO {table} ({key}, {data}, {expire}) VALUES (%s, %s, %s)",  # noqa: S608
        "update": f"UPDATE {table} SET {data} = %s, {expire} = %s WHERE {key} = %s",  # noqa: S608
    }
