"""Staff notes are stored encrypted with the organization's key (lib/envelope.encrypt_text): the column is
renamed body_data and every note written before is encrypted in place. Restartable: a note already
encrypted is left as it is."""

from django.db import migrations


def encrypt_notes(apps, schema_editor):
    from madoguchi.submissions.key_rotation import reencrypt_texts

    reencrypt_texts(apps.get_model("submissions", "Note"), "note")


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0014_rate_counter"),
        ("organizations", "0006_data_keys"),
    ]

    operations = [
        migrations.RenameField("note", "body", "body_data"),
        migrations.RunPython(encrypt_notes, migrations.RunPython.noop),
    ]
