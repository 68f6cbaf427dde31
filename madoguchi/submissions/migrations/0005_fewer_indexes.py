"""Submissions keep no index another covers (4 of 12 fewer written per submission).

On PostgreSQL this runs without blocking submissions, the inbox or status look-ups on a large table:
the new unique indexes are built CONCURRENTLY and then become the constraints (a brief lock, no scan),
the old ones are dropped CONCURRENTLY, and the foreign keys are left as they are (Django would drop
and re-add them, checking every row under lock, only to drop their indexes). Other databases take
Django's own operations.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "submissions_submission"
UNIQUE = {"submission_receipt_number_unique": "receipt_number", "submission_token_unique": "token"}
# Single-column indexes that others now cover: the LIKE-pattern twins of the old unique columns, and the
# foreign keys that lead the inbox (procedure) and count (organization) indexes.
COVERED = (["receipt_number"], ["token"], ["procedure_id"], ["organization_id"])


class OnPostgreSQLWithoutLocking(migrations.operations.base.Operation):
    """The given operations' state; on PostgreSQL, a concurrent equivalent of their schema changes."""

    reduces_to_sql = False
    reversible = False

    def __init__(self, operations):
        self.operations = operations

    def state_forwards(self, app_label, state):
        for operation in self.operations:
            operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self.postgresql_forwards(schema_editor)
            return
        state = from_state.clone()
        for operation in self.operations:
            after = state.clone()
            operation.state_forwards(app_label, after)
            operation.database_forwards(app_label, schema_editor, state, after)
            state = after

    @staticmethod
    def postgresql_forwards(schema_editor):
        connection, quote, run = schema_editor.connection, schema_editor.quote_name, schema_editor.execute
        with connection.cursor() as cursor:
            existing = connection.introspection.get_constraints(cursor, TABLE)
        for name, column in UNIQUE.items():
            if name not in existing:
                run(f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {quote(name)} ON {quote(TABLE)} ({quote(column)})")
                run(f"ALTER TABLE {quote(TABLE)} ADD CONSTRAINT {quote(name)} UNIQUE USING INDEX {quote(name)}")
        for name, info in existing.items():
            if name in UNIQUE or info["primary_key"] or info["columns"] not in COVERED:
                continue
            if info["unique"]:
                run(f"ALTER TABLE {quote(TABLE)} DROP CONSTRAINT {quote(name)}")
            elif info["index"]:
                run(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}")

    def describe(self):
        return "Fewer indexes on submissions (concurrently on PostgreSQL)"


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
