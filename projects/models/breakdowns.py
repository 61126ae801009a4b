"""A script sent to the gateway's chat model to be broken down into shots (Break down with
AI): a worker asks, and the import page waits on the row, never on the gateway."""

from django.conf import settings
from django.db import models


class Breakdown(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "breaking down"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="breakdowns")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    script = models.TextField()
    split = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The model's answer as `scripts.read(..., BREAKDOWN)` takes it, or why there is none.
    answer = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Breakdown {self.pk} of {self.project}"
