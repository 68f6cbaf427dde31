"""Submissions per organization per closed JST month (stats.ClosedMonthCount), kept as pages first need them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0006_data_keys'),
        ('procedures', '0009_labels'),
        ('stats', '0007_monthly_count_guards'),
    ]

    operations = [
        migrations.CreateModel(
            name='ClosedMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(unique=True, verbose_name='月（日本時間、月の初日）')),
            ],
            options={
                'verbose_name': '件数を締めた月',
                'verbose_name_plural': '件数を締めた月',
            },
        ),
        migrations.CreateModel(
            name='ClosedMonthCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='月（日本時間、月の初日）')),
                ('fiscal_year', models.PositiveSmallIntegerField(verbose_name='年度')),
                ('count', models.PositiveIntegerField(default=0, verbose_name='件数')),
            ],
            options={
                'verbose_name': '締めた月の件数',
                'verbose_name_plural': '締めた月の件数',
            },
        ),
        migrations.AddIndex(
            model_name='monthlycount',
            index=models.Index(fields=['month'], name='monthly_count_month'),
        ),
        migrations.AddField(
            model_name='closedmonthcount',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization'),
        ),
        migrations.AddIndex(
            model_name='closedmonthcount',
            index=models.Index(fields=['fiscal_year', 'organization'], name='closed_month_count_fy_org'),
        ),
        migrations.AddConstraint(
            model_name='closedmonthcount',
            constraint=models.UniqueConstraint(fields=('organization', 'month'), name='closed_month_count_unique'),
        ),
    ]
