"""Submissions per procedure per JST month (stats.MonthlyCount), filled from the daily counts kept so far."""

import django.db.models.deletion
from django.db import migrations, models


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        month = "date_trunc('month', day)::date"
    else:
        month = "date(day, 'start of month')"
    schema_editor.execute(
        "INSERT INTO stats_monthlycount (organization_id, procedure_id, month, fiscal_year, count) "  # noqa: S608
        f"SELECT organization_id, procedure_id, {month}, fiscal_year, sum(count) FROM stats_dailycount "
        f"GROUP BY organization_id, procedure_id, {month}, fiscal_year"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0006_data_keys'),
        ('procedures', '0009_labels'),
        ('stats', '0005_indicator_guards'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthlyCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='月（日本時間、月の初日）')),
                ('fiscal_year', models.PositiveSmallIntegerField(verbose_name='年度')),
                ('count', models.PositiveIntegerField(default=0, verbose_name='件数')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='organizations.organization')),
                ('procedure', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='procedures.procedure')),
            ],
            options={
                'verbose_name': '月別件数',
                'verbose_name_plural': '月別件数',
                'indexes': [models.Index(fields=['organization', 'fiscal_year'], name='monthly_count_org_fy'), models.Index(fields=['fiscal_year', 'organization'], name='monthly_count_fy_org')],
                'constraints': [models.UniqueConstraint(fields=('procedure', 'month'), name='monthly_count_unique')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
