"""The provider's limits, shared by every worker through the database."""

from django.db import models


class ProviderGate(models.Model):
    """One row per provider: claims lock it, so its limits hold across every worker."""

    provider = models.CharField(max_length=50, unique=True)
    # False once its list route answered 404, 405 or 501: its tasks are read one by one.
    lists = models.BooleanField(default=True)

    def __str__(self):
        return self.provider


class ProviderCall(models.Model):
    """A request made to a provider, kept for a minute to count against its rate (a day,
    where it has a daily quota)."""

    provider = models.CharField(max_length=50)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "at"])]

    def __str__(self):
        return f"{self.provider} at {self.at:%H:%M:%S}"
