"""Invitations addressed to a user name, which its holder accepts or declines."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0012_cache_table_and_prompt_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="invitation",
            name="invitee_name",
            field=models.CharField(blank=True, max_length=150),
        ),
    ]
