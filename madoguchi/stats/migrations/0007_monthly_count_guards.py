"""The monthly counts stay within their procedure's organization, in the database.

The organization guards of submissions/0012, with this reference added (madoguchi/lib/integrity.py).
"""

from django.db import migrations

from madoguchi.lib import integrity


def forwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_DRAFTS, integrity.WITH_MONTHLY_COUNTS)


def backwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_MONTHLY_COUNTS, integrity.WITH_DRAFTS)


class Migration(migrations.Migration):
    atomic = False  # one short transaction per table on PostgreSQL (integrity.install)

    dependencies = [
        ("stats", "0006_monthly_count"),
        ("submissions", "0016_row_level_security"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
