"""Sweep for takes whose worker died, every minute, in every deployment."""

from django.db import migrations


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="Recover takes whose worker died",
        defaults={"func": "projects.tasks.recover", "schedule_type": "I", "minutes": 1},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func="projects.tasks.recover").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0002_take_durability"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
