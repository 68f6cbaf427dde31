"""Submissions keep no index another covers (4 of 12 fewer written per submission).

On PostgreSQL this runs without blocking submissions, the inbox or status look-ups on a large table:
the new unique indexes are built CONCURRENTLY and then become the constraints (a brief lock, no scan),
the old ones are dropped CONCURRENTLY, and the foreign keys are left as they are (Django would drop
and re-add them, checking every row under lock, only to drop their indexes). Other databases take
Django's own operations.
"""

import time

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models, transaction

TABLE = "submissions_submission"
UNIQUE = {"submission_receipt_number_unique": "receipt_number", "submission_token_unique": "token"}
# Single-column indexes that others now cover: the LIKE-pattern twins of the old unique columns, and the
# foreign keys that lead the inbox (procedure) and count (organization) indexes.
COVERED = (["receipt_number"], ["token"], ["procedure_id"], ["organization_id"])


class OnPostgreSQLWithoutLocking(migrations.operations.base.Operation):
    """The given operations' state; on PostgreSQL, a concurrent equivalent of their schema changes.

    Safe to run again after an interruption: an index left invalid by a cancelled CONCURRENTLY build
    is dropped and built again, and the old constraints go only once the new ones exist. Each
    ALTER TABLE waits at most a few seconds for its lock (then tries again), so a long transaction
    such as a backup never makes every query on submissions queue behind the migration.
    """

    reduces_to_sql = False
    reversible = True

    def __init__(self, operations):
        self.operations = operations

    def state_forwards(self, app_label, state):
        for operation in self.operations:
            operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self.postgresql_forwards(schema_editor)
            return
        with transaction.atomic(using=schema_editor.connection.alias):
            state = from_state.clone()
            for operation in self.operations:
                after = state.clone()
                operation.state_forwards(app_label, after)
                operation.database_forwards(app_label, schema_editor, state, after)
                state = after

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        # Back to 0004 with Django's own operations (locking, but a way back is what matters here).
        states = [to_state.clone()]
        for operation in self.operations:
            after = states[-1].clone()
            operation.state_forwards(app_label, after)
            states.append(after)
        with transaction.atomic(using=schema_editor.connection.alias):
            for operation, before, after in reversed(list(zip(self.operations, states, states[1:]))):
                operation.database_backwards(app_label, schema_editor, after, before)

    @staticmethod
    def postgresql_forwards(schema_editor):
        quote, run = schema_editor.quote_name, schema_editor.execute
        for name, column in UNIQUE.items():
            index = _index(schema_editor, name)
            if index is not None and not index["valid"]:
                run(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}")  # left by an interrupted build
                index = None
            if index is None:
                run(f"CREATE UNIQUE INDEX CONCURRENTLY {quote(name)} ON {quote(TABLE)} ({quote(column)})")
            if not _has_constraint(schema_editor, name):
                _alter(schema_editor, f"ADD CONSTRAINT {quote(name)} UNIQUE USING INDEX {quote(name)}")
        for name in UNIQUE:
            if not _has_constraint(schema_editor, name):
                raise RuntimeError(f"{name} is missing: the old unique constraints are kept")
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            existing = connection.introspection.get_constraints(cursor, TABLE)
        for name, info in existing.items():
            if name in UNIQUE or info["primary_key"] or info["columns"] not in COVERED:
                continue
            if info["unique"]:
                _alter(schema_editor, f"DROP CONSTRAINT IF EXISTS {quote(name)}")
            elif info["index"]:
                run(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}")

    def describe(self):
        return "Fewer indexes on submissions (concurrently on PostgreSQL)"


def _index(schema_editor, name):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s", [name])
        row = cursor.fetchone()
    return None if row is None else {"valid": row[0]}


def _has_constraint(schema_editor, name):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s AND contype = 'u'", [name])
        return cursor.fetchone() is not None


def _alter(schema_editor, change, attempts=20):
    """ALTER TABLE waiting at most 3 s for its lock at a time, so that queries do not queue behind it."""
    from django.db import OperationalError

    quote = schema_editor.quote_name
    schema_editor.execute("SET lock_timeout = '3s'")
    try:
        for attempt in range(attempts):
            try:
                schema_editor.execute(f"ALTER TABLE {quote(TABLE)} {change}")
                return
            except OperationalError:
                if attempt == attempts - 1:
                    raise
                time.sleep(1)
    finally:
        schema_editor.execute("RESET lock_timeout")


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('organizations', '0001_initial'),
        ('procedures', '0001_initial'),
        ('submissions', '0004_submission_language'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        OnPostgreSQLWithoutLocking([
            migrations.AlterField(
                model_name='submission',
                name='organization',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='submissions', to='organizations.organization'),
            ),
            migrations.AlterField(
                model_name='submission',
                name='procedure',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='submissions', to='procedures.procedure'),
            ),
            migrations.AlterField(
                model_name='submission',
                name='receipt_number',
                field=models.CharField(max_length=10, verbose_name='受付番号'),
            ),
            migrations.AlterField(
                model_name='submission',
                name='token',
                field=models.CharField(max_length=64),
            ),
            migrations.AddConstraint(
                model_name='submission',
                constraint=models.UniqueConstraint(fields=('receipt_number',), name='submission_receipt_number_unique'),
            ),
            migrations.AddConstraint(
                model_name='submission',
                constraint=models.UniqueConstraint(fields=('token',), name='submission_token_unique'),
            ),
        ]),
    ]
