"""The cache table that rate limits count in where there is no Redis, and prompts no
longer than a model reads (models.MAX_PROMPT)."""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations, models

# settings.CACHE_TABLE when this was written.
CACHE_TABLE = "storyboard_cache"


def create_cache_table(apps, schema_editor):
    # Made whatever the cache is now, so a deployment that drops Redis later finds it.
    command = CreateCacheTable(stdout=None)
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, CACHE_TABLE, dry_run=False)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(CACHE_TABLE)}")


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0011_merge_seam_guard"),
    ]

    operations = [
        migrations.AlterField(
            model_name="shot",
            name="prompt",
            field=models.TextField(max_length=6000),
        ),
        migrations.RunPython(create_cache_table, drop_cache_table, elidable=False),
    ]
