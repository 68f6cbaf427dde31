"""Messages between staff and residents are stored encrypted with the organization's key
(lib/envelope.encrypt_text): the column is renamed body_data and every message written before is encrypted
in place. Restartable: a message already encrypted is left as it is."""

from django.db import migrations


def encrypt_messages(apps, schema_editor):
    from madoguchi.submissions.key_rotation import reencrypt_texts

    reencrypt_texts(apps.get_model("notifications", "Message"), "message")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_sending_state"),
        ("organizations", "0006_data_keys"),
    ]

    operations = [
        migrations.RenameField("message", "body", "body_data"),
        migrations.RunPython(encrypt_messages, migrations.RunPython.noop),
    ]
