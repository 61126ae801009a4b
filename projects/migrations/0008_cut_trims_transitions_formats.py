"""Shots trimmed and entering with a transition; exports in every format, seamless or not."""

import django.core.validators
from django.db import migrations, models

import projects.models.takes


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0007_teams"),
    ]

    operations = [
        migrations.AddField(
            model_name="export",
            name="format",
            field=models.CharField(
                choices=[
                    ("mp4", "MP4 video"),
                    ("zip", "editor's bundle (zip)"),
                    ("otio", "OpenTimelineIO"),
                    ("fcpxml", "Final Cut Pro / DaVinci Resolve (FCPXML)"),
                    ("edl", "CMX 3600 EDL"),
                    ("srt", "captions (SRT)"),
                    ("vtt", "captions (WebVTT)"),
                    ("png", "contact sheet (PNG)"),
                ],
                default="mp4",
                max_length=7,
            ),
        ),
        migrations.AddField(
            model_name="export",
            name="normalize",
            field=models.BooleanField(default=False, verbose_name="loudness to -16 LUFS"),
        ),
        migrations.AddField(
            model_name="export",
            name="plan",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="export",
            name="seamless",
            field=models.BooleanField(
                default=True, help_text="Drop the frame each continue repeats from the shot before."
            ),
        ),
        migrations.AddField(
            model_name="shot",
            name="transition",
            field=models.CharField(
                blank=True,
                choices=[("crossfade", "crossfade"), ("dip", "dip to black")],
                max_length=9,
            ),
        ),
        migrations.AddField(
            model_name="shot",
            name="transition_frames",
            field=models.PositiveSmallIntegerField(
                default=12,
                validators=[
                    django.core.validators.MinValueValidator(2),
                    django.core.validators.MaxValueValidator(72),
                ],
            ),
        ),
        migrations.AddField(
            model_name="shot",
            name="trim_in",
            field=models.PositiveIntegerField(default=0, verbose_name="in point (frame)"),
        ),
        migrations.AddField(
            model_name="shot",
            name="trim_out",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="out point (frame)"
            ),
        ),
        migrations.AddField(
            model_name="take",
            name="upstream_out",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="export",
            name="mode",
            field=models.CharField(blank=True, help_text="copy, smart or reencode", max_length=10),
        ),
        migrations.AddField(
            model_name="take",
            name="start_frame",
            field=models.ImageField(blank=True, upload_to=projects.models.takes.take_upload_to),
        ),
    ]
