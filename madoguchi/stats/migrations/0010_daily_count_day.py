"""An index on the daily counts' day: the first and last counted day of a 年度 for the open data, read from its ends."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0006_data_keys'),
        ('procedures', '0009_labels'),
        ('stats', '0009_council_closed_months'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='dailycount',
            index=models.Index(fields=['day'], name='daily_count_day'),
        ),
    ]
