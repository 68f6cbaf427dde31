"""Staff notes are stored encrypted with the organization's key (lib/envelope.encrypt_text): the column is
renamed body_data and every note written before is encrypted in place. Restartable: a note already
encrypted is left as it is."""

from django.db import migrations


def encrypt_notes(apps, schema_editor):
    from madoguchi.lib import envelope

    Note = apps.get_model("submissions", "Note")
    for note in Note.objects.only("pk", "organization_id", "body_data").iterator(chunk_size=500):
        if envelope.text_key_id(note.body_data) is None:
            note.body_data = envelope.encrypt_text(note.organization_id, note.body_data, kind="note")
            note.save(update_fields=["body_data"])


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0014_rate_counter"),
        ("organizations", "0006_data_keys"),
    ]

    operations = [
        migrations.RenameField("note", "body", "body_data"),
        migrations.RunPython(encrypt_notes, migrations.RunPython.noop),
    ]
