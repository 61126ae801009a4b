"""Takes keep their clip's frame rate and frames as probed; those already collected are
probed here when their clip is on this machine's disk (headers only: cheap), and by a
worker when it next reads their clip otherwise (pipeline.collecting.learn_frames)."""

from django.db import migrations, models


def probe_stored_clips(apps, schema_editor):
    from projects.media import MediaError, probe

    Take = apps.get_model("projects", "Take")
    storage = Take._meta.get_field("video").storage
    for take in Take.objects.exclude(video="").filter(frames=None).only("pk", "video"):
        try:
            info = probe(storage.path(take.video.name))
        except (NotImplementedError, MediaError, OSError):
            continue  # not on this disk, or unreadable: a worker probes it when it reads it
        Take.objects.filter(pk=take.pk).update(frame_rate=info.fps, frames=info.frames)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0016_uncertain_takes_and_deleting"),
    ]

    operations = [
        migrations.AddField(
            model_name="take",
            name="frame_rate",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="take",
            name="frames",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(probe_stored_clips, migrations.RunPython.noop, elidable=True),
    ]
