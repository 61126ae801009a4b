"""The projects app: on a worker's start, resume what a dead worker left."""

from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django_q.signals import post_spawn

        post_spawn.connect(_recover_on_spawn, dispatch_uid="projects.recover")


def _recover_on_spawn(sender, proc_name, **kwargs):
    # Every worker process enqueues one sweep; claims keep them from resuming a take twice.
    from django_q.tasks import async_task

    async_task("projects.tasks.recover")
