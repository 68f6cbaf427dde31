"""A resident's 一時保存 and an e-mail verification stay within their procedure's organization, in the database.

The organization guards of stats/0005, with these three references added (madoguchi/lib/integrity.py).
"""

from django.db import migrations

from madoguchi.lib import integrity


def forwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_INDICATORS, integrity.WITH_DRAFTS)


def backwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_DRAFTS, integrity.WITH_INDICATORS)


class Migration(migrations.Migration):
    atomic = False  # one short transaction per table on PostgreSQL (integrity.install)

    dependencies = [
        ("submissions", "0011_retention_disposal"),
        ("notifications", "0004_email_verification"),
        ("stats", "0005_indicator_guards"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
