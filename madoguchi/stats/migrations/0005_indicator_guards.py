"""An indicator's chosen procedures and its 年度 rows stay within its organization, in the database.

The organization guards of notifications/0003, with these two references added (madoguchi/lib/integrity.py).
"""

from django.db import migrations

from madoguchi.lib import integrity


def forwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_MESSAGES, integrity.WITH_INDICATORS)


def backwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_INDICATORS, integrity.WITH_MESSAGES)


class Migration(migrations.Migration):
    atomic = False  # one short transaction per table on PostgreSQL (integrity.install)

    dependencies = [
        ("stats", "0004_indicators"),
        ("notifications", "0003_message_guards"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
