"""The inbox finds a case by name, kana, phone, e-mail or words in the answers.

Three columns written with the answers (the name and kana as typed, and the folded search column of
lib/search.py), filled here for every existing submission in batches; on PostgreSQL a trigram index
(pg_trgm) on the search column, so a substring search stays an index search at a million rows. The
trigram index reads Japanese only where the database's LC_CTYPE is a UTF-8 locale (C.UTF-8, ja_JP.UTF-8
…), not "C": check `SELECT datctype FROM pg_database` before relying on it. SQLite searches with LIKE.
"""

from types import SimpleNamespace

from django.conf import settings
from django.db import migrations, models

BATCH = 2000
TRIGRAM_INDEX = "sub_search_trgm"


def _fields(items) -> list:
    """A stored form's fields as the few attributes lib/search.py reads (key, type, and a group's
    fields), from the JSON as stored: no dependency on today's form model."""
    out = []
    for item in items or []:
        if isinstance(item, dict) and "key" in item and "type" in item:
            out.append(
                SimpleNamespace(key=item["key"], type=item["type"], fields=_fields(item.get("fields")))
            )
    return out


def fill_search_columns(apps, schema_editor):
    from madoguchi.lib.search import applicant_columns, search_text
    from madoguchi.submissions.answers import stored_answers

    Submission = apps.get_model("submissions", "Submission")
    FormVersion = apps.get_model("procedures", "FormVersion")
    db = schema_editor.connection.alias
    forms: dict[int, list] = {}
    last = 0
    while True:
        batch = list(
            Submission.objects.using(db)
            .filter(pk__gt=last)
            .order_by("pk")
            .only("pk", "organization_id", "form_version_id", "answers_data")[:BATCH]
        )
        if not batch:
            return
        for submission in batch:
            if submission.form_version_id not in forms:
                schema = FormVersion.objects.using(db).get(pk=submission.form_version_id).schema
                forms[submission.form_version_id] = _fields((schema or {}).get("fields"))
            fields = forms[submission.form_version_id]
            # Rows of this era hold their answers in clear; answers.stored_answers reads those and, for a
            # database filled later and migrated again, encrypted ones too.
            answers = stored_answers(submission.organization_id, submission.answers_data)
            submission.applicant_name, submission.applicant_kana = applicant_columns(fields, answers)
            submission.search_text = search_text(fields, answers)
        Submission.objects.using(db).bulk_update(
            batch, ["applicant_name", "applicant_kana", "search_text"], batch_size=500
        )
        last = batch[-1].pk


def add_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: LIKE over the column
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON submissions_submission "
        "USING gin (search_text gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0002_membership_department_guard"),
        ("procedures", "0005_standard_processing_days"),
        ("submissions", "0007_export_file_started_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="applicant_kana",
            field=models.CharField(blank=True, default="", max_length=200, verbose_name="ふりがな"),
        ),
        migrations.AddField(
            model_name="submission",
            name="applicant_name",
            field=models.CharField(blank=True, default="", max_length=200, verbose_name="氏名"),
        ),
        migrations.AddField(
            model_name="submission",
            name="search_text",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(
                condition=models.Q(("assignee__isnull", False)),
                fields=["procedure", "assignee", "-submitted_at", "-id"],
                name="sub_inbox_assignee",
            ),
        ),
        migrations.RunPython(fill_search_columns, migrations.RunPython.noop),
        migrations.RunPython(add_trigram_index, drop_trigram_index),
    ]
