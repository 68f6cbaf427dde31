"""Every reference between organization-owned rows stays inside its organization, in the database.

Triggers on SQLite and PostgreSQL refuse a row that refers to a row of another organization (the list and
the SQL are in madoguchi/lib/integrity.py). On PostgreSQL each table's triggers are created in a short
transaction of their own, never waiting long for a lock. Rows already stored that cross organizations
make this migration fail and name them; nothing is left installed then.
"""

from django.db import migrations

from madoguchi.lib import integrity


def forwards(apps, schema_editor):
    integrity.install(schema_editor, apps, integrity.FIRST)


def backwards(apps, schema_editor):
    integrity.uninstall(schema_editor, apps, integrity.FIRST)


class Migration(migrations.Migration):
    atomic = False  # one short transaction per table on PostgreSQL (integrity.install)

    dependencies = [
        ('audit', '0001_initial'),
        ('notifications', '0001_initial'),
        ('organizations', '0001_initial'),
        ('procedures', '0002_builder_drafts_and_templates'),
        ('stats', '0002_status_count'),
        ('submissions', '0007_export_file_started_at'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
