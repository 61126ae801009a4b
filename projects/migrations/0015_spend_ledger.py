"""The ledger of spending, filled from the takes billed so far."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def ledger_from_takes(apps, schema_editor):
    """One entry per take billed before the ledger existed, when it was generated."""
    Take = apps.get_model("projects", "Take")
    Spend = apps.get_model("projects", "Spend")
    billed = Take.objects.filter(tokens__isnull=False).select_related("shot__project")
    Spend.objects.bulk_create(
        Spend(
            team_id=take.shot.project.team_id,
            project_id=take.shot.project_id,
            project_title=take.shot.project.title,
            take_id=take.pk,
            requested_by_id=take.requested_by_id,
            model=take.inputs.get("model") or take.shot.project.model,
            tokens=take.tokens,
            billed_at=take.generated_at or take.created_at,
        )
        for take in billed.iterator()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0014_project_draft_model_and_2_3"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Spend",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("project_title", models.CharField(max_length=200)),
                ("model", models.CharField(blank=True, max_length=100)),
                ("tokens", models.PositiveBigIntegerField()),
                (
                    "billed_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                ),
                (
                    "project",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="spend",
                        to="projects.project",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "take",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="spend",
                        to="projects.take",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="spend",
                        to="projects.team",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "spend",
            },
        ),
        migrations.RunPython(ledger_from_takes, migrations.RunPython.noop),
    ]
