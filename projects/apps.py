"""The projects app; what its activity log records (django-auditlog)."""

from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from auditlog.registry import auditlog

        from . import checks, logs, models  # noqa: F401 (checks registers the system checks)

        logs.redact_servers()

        # What people do, not what the pipeline does: the fields a person changes.
        auditlog.register(
            models.Project,
            include_fields=[
                "title",
                "team",
                "model",
                "resolution",
                "ratio",
                "generate_audio",
                "watermark",
                "budget_tokens",
                "version",
            ],
        )
        auditlog.register(
            models.Shot,
            include_fields=[
                "position",
                "prompt",
                "duration",
                "opening",
                "first_frame",
                "last_frame_target",
                "seed",
                "selected_take",
                "selected_final",
                "trim_in",
                "trim_out",
                "transition",
                "transition_frames",
                "version",
            ],
        )
        auditlog.register(
            models.CastMember, include_fields=["name", "kind", "description", "voice"]
        )
        auditlog.register(models.Take, include_fields=["verdict"])
        auditlog.register(models.Export, include_fields=[])
        auditlog.register(models.Comment, include_fields=["body"])
        auditlog.register(models.Link, include_fields=["kind", "expires_at", "revoked_at"])
        auditlog.register(models.Membership, include_fields=["role"])
        auditlog.register(models.Invitation, include_fields=["role", "revoked_at", "used_at"])
        auditlog.register(models.Team, include_fields=["name", "monthly_budget_tokens", "gateway"])
        # Never its sealed key: its last characters say it was replaced.
        auditlog.register(
            models.Connection,
            include_fields=[
                "name",
                "preset",
                "style",
                "base_url",
                "key_end",
                "concurrency",
                "rpm",
                "daily",
            ],
        )
        # Never its secret.
        auditlog.register(models.Endpoint, include_fields=["url", "events", "enabled"])
