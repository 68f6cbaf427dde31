"""The bodies of queued e-mails are stored encrypted with the organization's key (lib/envelope.encrypt_text)
until they are sent: the column is renamed body_data and every body kept so far is encrypted in place.
Restartable: a body already encrypted, or empty, is left as it is."""

from django.db import migrations


def encrypt_bodies(apps, schema_editor):
    from madoguchi.submissions.key_rotation import reencrypt_texts

    reencrypt_texts(apps.get_model("notifications", "OutgoingEmail"), "email")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0006_messages_encrypted"),
    ]

    operations = [
        migrations.RenameField("outgoingemail", "body", "body_data"),
        migrations.RunPython(encrypt_bodies, migrations.RunPython.noop),
    ]
