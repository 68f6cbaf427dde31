"""Submissions of a council's current members per closed JST month (stats.CouncilClosedMonthCount), kept as the
council's pages first need them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0006_data_keys'),
        ('stats', '0008_closed_months'),
    ]

    operations = [
        migrations.CreateModel(
            name='CouncilClosedMonthCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='月（日本時間、月の初日）')),
                ('fiscal_year', models.PositiveSmallIntegerField(verbose_name='年度')),
                ('count', models.PositiveIntegerField(default=0, verbose_name='件数')),
                ('council', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.council')),
            ],
            options={
                'verbose_name': '協議会の締めた月の件数',
                'verbose_name_plural': '協議会の締めた月の件数',
                'constraints': [models.UniqueConstraint(fields=('council', 'month'), name='council_closed_month_count_unique')],
            },
        ),
    ]
