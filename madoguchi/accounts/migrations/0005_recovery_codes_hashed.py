"""Recovery codes stored before they were hashed are replaced by their keyed hash (two_factor.
recovery_code_digest): every code given out keeps working, and none is readable in the database."""

from django.db import migrations


def hash_codes(apps, schema_editor):
    from madoguchi.accounts.two_factor import recovery_code_digest

    StaticToken = apps.get_model("otp_static", "StaticToken")
    for token in StaticToken.objects.iterator():
        if len(token.token) != 16:  # a digest is 16 hex characters; a code django-otp made is 8
            token.token = recovery_code_digest(token.token)
            token.save(update_fields=["token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_staff_session"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(hash_codes, migrations.RunPython.noop)]
