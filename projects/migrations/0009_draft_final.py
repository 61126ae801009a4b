"""Drafts and finals: a take's kind, the final a shot puts in the cut of finals, and
which kind an export joins. Takes and exports made before this were drafts: what
Generate made, and what the cut, its trims, comments and verdicts are about."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0008_cut_trims_transitions_formats"),
    ]

    operations = [
        migrations.AddField(
            model_name="take",
            name="kind",
            field=models.CharField(
                choices=[("draft", "draft"), ("final", "final")], default="draft", max_length=5
            ),
        ),
        migrations.AddField(
            model_name="export",
            name="kind",
            field=models.CharField(
                choices=[("draft", "draft"), ("final", "final")], default="draft", max_length=5
            ),
        ),
        migrations.AddField(
            model_name="shot",
            name="selected_final",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="projects.take",
            ),
        ),
    ]
