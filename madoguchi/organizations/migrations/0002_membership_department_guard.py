"""A staff member's 所属 (Membership.departments) are of the membership's own organization, in the database.

The organization guards of procedures/0003, with this reference added (madoguchi/lib/integrity.py).
"""

from django.db import migrations

from madoguchi.lib import integrity


def forwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.FIRST, integrity.WITH_MEMBERSHIP_DEPARTMENTS)


def backwards(apps, schema_editor):
    integrity.replace(schema_editor, apps, integrity.WITH_MEMBERSHIP_DEPARTMENTS, integrity.FIRST)


class Migration(migrations.Migration):
    atomic = False  # one short transaction per table on PostgreSQL (integrity.install)

    dependencies = [
        ('accounts', '0002_membership_departments'),
        ('organizations', '0001_initial'),
        ('procedures', '0003_organization_guards'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
