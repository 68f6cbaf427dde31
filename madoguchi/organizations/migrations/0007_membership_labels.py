"""Japanese labels for a council membership's council and organization (the operator's admin showed them in English)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0006_data_keys'),
    ]

    operations = [
        migrations.AlterField(
            model_name='councilmembership',
            name='council',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='organizations.council', verbose_name='協議会'),
        ),
        migrations.AlterField(
            model_name='councilmembership',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='organizations.organization', verbose_name='団体'),
        ),
    ]
