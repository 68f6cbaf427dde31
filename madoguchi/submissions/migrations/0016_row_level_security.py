"""PostgreSQL row-level security on the tables that hold residents' data (lib/tenancy.py). Nothing on SQLite."""

from django.db import migrations

from madoguchi.lib import tenancy


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0015_notes_encrypted"),
        ("notifications", "0006_messages_encrypted"),
        ("audit", "0002_readable_log"),
    ]

    operations = [migrations.RunPython(tenancy.install, tenancy.uninstall, elidable=False)]
