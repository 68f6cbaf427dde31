"""Messages and e-mail texts refer only to their own organization's submission and procedure, in the database.

The organization guards of organizations/0002, with these two references added (madoguchi/lib/integrity.py).
"""

from django.db import migrations

from madoguchi.lib import integrity


def forwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_MEMBERSHIP_DEPARTMENTS, integrity.WITH_MESSAGES)


def backwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_MESSAGES, integrity.WITH_MEMBERSHIP_DEPARTMENTS)


class Migration(migrations.Migration):
    atomic = False  # one short transaction per table on PostgreSQL (integrity.install)

    dependencies = [
        ('notifications', '0002_message_email_text'),
        ('organizations', '0002_membership_department_guard'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
