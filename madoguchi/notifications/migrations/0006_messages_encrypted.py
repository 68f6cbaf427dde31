"""Messages between staff and residents are stored encrypted with the organization's key
(lib/envelope.encrypt_text): the column is renamed body_data and every message written before is encrypted
in place. Restartable: a message already encrypted is left as it is."""

from django.db import migrations


def encrypt_messages(apps, schema_editor):
    from madoguchi.lib import envelope

    Message = apps.get_model("notifications", "Message")
    for message in Message.objects.only("pk", "organization_id", "body_data").iterator(chunk_size=500):
        if envelope.text_key_id(message.body_data) is None:
            message.body_data = envelope.encrypt_text(message.organization_id, message.body_data, kind="message")
            message.save(update_fields=["body_data"])


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_sending_state"),
        ("organizations", "0006_data_keys"),
    ]

    operations = [
        migrations.RenameField("message", "body", "body_data"),
        migrations.RunPython(encrypt_messages, migrations.RunPython.noop),
    ]
