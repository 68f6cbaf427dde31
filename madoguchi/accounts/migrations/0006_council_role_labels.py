"""Japanese labels for a council role's staff member and council (the operator's admin showed them in English)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_recovery_codes_hashed'),
        ('organizations', '0008_members_changed_at'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='councilrole',
            name='council',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='staff_roles', to='organizations.council', verbose_name='協議会'),
        ),
        migrations.AlterField(
            model_name='councilrole',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='council_roles', to=settings.AUTH_USER_MODEL, verbose_name='職員'),
        ),
    ]
