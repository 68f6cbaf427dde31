"""Fill Procedure.search_text of the procedures that exist (procedures/finding.py writes it from now on)."""

from django.db import migrations


def fill_search_text(apps, schema_editor):
    from madoguchi.procedures.finding import search_text_of

    Procedure = apps.get_model("procedures", "Procedure")
    for procedure in Procedure.objects.only(
        "pk", "title", "title_en", "summary", "summary_en", "title_reading"
    ).iterator(chunk_size=500):
        Procedure.objects.filter(pk=procedure.pk).update(search_text=search_text_of(procedure))


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0006_resident_finding_drafts_duplicates"),
    ]

    operations = [migrations.RunPython(fill_search_text, migrations.RunPython.noop)]
