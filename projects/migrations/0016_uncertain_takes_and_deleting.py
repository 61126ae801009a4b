"""Uncertain creates and the request each create sent; deleting projects and shots with
work in flight; a provider found not to serve a list."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0015_spend_ledger"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="project",
            options={"default_manager_name": "objects", "ordering": ["-updated_at"]},
        ),
        migrations.AddField(
            model_name="project",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="providergate",
            name="lists",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="shot",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="take",
            name="request",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="take",
            name="status",
            field=models.CharField(
                choices=[
                    ("waiting", "waiting"),
                    ("submitting", "submitting"),
                    ("uncertain", "uncertain"),
                    ("queued", "queued"),
                    ("running", "running"),
                    ("collecting", "downloading"),
                    ("done", "done"),
                    ("failed", "failed"),
                    ("cancelled", "cancelled"),
                ],
                default="waiting",
                max_length=12,
            ),
        ),
    ]
