"""The seam guard: per-project checks, a held continue's reason, a frame a person picked."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0008_cut_trims_transitions_formats"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="guard_blank",
            field=models.BooleanField(
                default=True, verbose_name="hold on a near-black or near-uniform start frame"
            ),
        ),
        migrations.AddField(
            model_name="project",
            name="guard_blur",
            field=models.BooleanField(default=True, verbose_name="hold on a blurred start frame"),
        ),
        migrations.AddField(
            model_name="project",
            name="guard_cut",
            field=models.BooleanField(
                default=True, verbose_name="hold on a start frame just after a scene cut"
            ),
        ),
        migrations.AddField(
            model_name="take",
            name="approved_out",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="take",
            name="held",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="take",
            name="held_check",
            field=models.CharField(blank=True, max_length=8),
        ),
    ]
