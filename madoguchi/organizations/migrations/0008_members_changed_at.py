"""When a council's members last changed: the open data's files change with them."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0007_membership_labels'),
    ]

    operations = [
        migrations.AddField(
            model_name='council',
            name='members_changed_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='加入団体の最終変更'),
        ),
    ]
