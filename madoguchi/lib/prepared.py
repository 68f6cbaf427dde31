"""A cursor for the few statements a resident's every request runs, prepared on PostgreSQL where that pays.

Django binds values on the client, so PostgreSQL parses and plans every statement afresh: for the
procedure's four-table read (lib/reads.py) that costs the database 0.5 ms of CPU each time, against
0.06 ms once prepared, and the app server 0.25 ms against 0.1 (bench machine). A statement whose text is
made once per process therefore runs on psycopg's own server-binding cursor and is prepared, on a
connection kept across requests (DB_CONN_MAX_AGE, as production runs; on a new connection each time
preparing would cost a round trip and never be used again), unless DB_PREPARED_STATEMENTS is off (a
pooler in transaction mode: settings.py turns preparing off on the connection itself). Elsewhere
(SQLite, connections not kept) Django's own cursor runs it like any other query.
"""

import contextlib


@contextlib.contextmanager
def cursor(connection):
    """A cursor whose execute(sql, params) prepares; errors are Django's (IntegrityError…), as usual."""
    if connection.vendor != "postgresql" or not connection.settings_dict["CONN_MAX_AGE"]:
        with connection.cursor() as django_cursor:
            yield django_cursor
        return
    import psycopg  # only on PostgreSQL

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as raw:
        yield _Preparing(raw, connection.wrap_database_errors)


class _Preparing:
    def __init__(self, raw, wrap_database_errors):
        self._raw = raw
        self._wrap = wrap_database_errors

    def execute(self, sql: str, params) -> None:
        with self._wrap:  # psycopg's errors as Django's, raised here as Django's cursor raises them
            self._raw.execute(sql, params, prepare=True)

    def __getattr__(self, name: str):  # fetchone, fetchall, rowcount
        return getattr(self._raw, name)
