"""Procedure.search_text also holds the names of the procedure's 分類 and ライフイベント: written again for
every procedure (procedures/finding.search_text_of)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from madoguchi.procedures.finding import search_text_of

    Procedure = apps.get_model("procedures", "Procedure")
    for procedure in Procedure.objects.only(
        "title", "title_en", "title_reading", "summary", "summary_en", "category", "life_events"
    ).iterator(chunk_size=500):
        Procedure.objects.filter(pk=procedure.pk).update(search_text=search_text_of(procedure))


class Migration(migrations.Migration):
    dependencies = [("procedures", "0007_procedure_search_text")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
