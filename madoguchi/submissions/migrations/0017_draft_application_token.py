"""A draft's application token in a column of its own (SubmissionDraft.application_token), copied from
answers_data["token"] for the drafts kept so far, with an index the final submit deletes the draft by."""

from django.db import migrations, models
from django.db.models import Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce


def copy_tokens(apps, schema_editor):
    draft = apps.get_model("submissions", "SubmissionDraft")
    draft.objects.update(application_token=Coalesce(KT("answers_data__token"), Value("")))


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0006_data_keys'),
        ('procedures', '0009_labels'),
        ('submissions', '0016_row_level_security'),
    ]

    operations = [
        migrations.AddField(
            model_name='submissiondraft',
            name='application_token',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.RunPython(copy_tokens, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name='submissiondraft',
            index=models.Index(fields=['procedure', 'application_token'], name='draft_application_token'),
        ),
    ]
