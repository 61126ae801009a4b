"""Reads are scheduled on the take, changes are stamped for the live timeline, and the
worker's clock sweeps for dead workers instead of a django-q schedule."""

from django.db import migrations, models


def unschedule_recover(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func="projects.tasks.recover").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_shot_last_frame_target_and_references"),
        ("projects", "0003_recover_schedule"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="project",
            name="provider",
        ),
        migrations.AddField(
            model_name="export",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="export",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.AddField(
            model_name="export",
            name="worker",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="take",
            name="fingerprint",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="take",
            name="generated_at",
            field=models.DateTimeField(
                blank=True, help_text="When the provider was seen to have finished it.", null=True
            ),
        ),
        migrations.AddField(
            model_name="take",
            name="generation_seconds",
            field=models.FloatField(
                blank=True,
                help_text="How long the provider took: by its clock, else as closely as reads told.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="take",
            name="next_look_at",
            field=models.DateTimeField(
                blank=True, db_index=True, help_text="When its task is read next.", null=True
            ),
        ),
        migrations.AddField(
            model_name="take",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.AlterField(
            model_name="project",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.AlterField(
            model_name="shot",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.RunPython(unschedule_recover, migrations.RunPython.noop),
    ]
