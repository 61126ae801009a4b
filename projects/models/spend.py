"""Spending as a ledger: what each take was billed, kept whatever is deleted afterwards."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SpendQuerySet(models.QuerySet):
    def record(self, take):
        """Put a billed take's tokens in its team's ledger, once (a take collected again
        after its worker died is not billed twice); returns the entry."""
        project = take.shot.project
        entry, _ = self.get_or_create(
            take=take,
            defaults={
                "team_id": project.team_id,
                "project": project,
                "project_title": project.title,
                "requested_by_id": take.requested_by_id,
                "model": take.inputs.get("model") or project.model_name,
                "tokens": take.tokens,
                "provider": take.provider,
            },
        )
        return entry


class Spend(models.Model):
    """Tokens the provider billed for one take. Deleting the take, its shot or its project
    leaves the entry (its links set to none), so a team's spend and its budgets never go
    down; an entry stays with the team it was billed to."""

    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="spend")
    project = models.ForeignKey(
        "Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="spend"
    )
    project_title = models.CharField(max_length=200)  # for when the project is gone
    take = models.OneToOneField(
        "Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="spend"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=100, blank=True)
    # Which gateway billed it (Take.provider): a team's connection, or the deployment's.
    provider = models.CharField(max_length=50, blank=True)
    tokens = models.PositiveBigIntegerField()
    billed_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = SpendQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "spend"

    def __str__(self):
        return f"{self.tokens} tokens for {self.project_title}"
