"""How long a take should take, learned from recent submit-to-done times.

Clips of one provider, model, duration and resolution take much the same time, so the
median of the recent ones is the expectation; with none measured yet, the same
provider's and model's pace per second of video, then the provider's typical time.
The pipeline reads a task when it is expected to finish; cards show progress by it.
"""

from collections import defaultdict
from statistics import median

from . import providers
from .models import Kind, Take

# Recent finished takes learned from, newest first: enough for every combination in use.
SAMPLE = 200


class Expectations:
    """Expected seconds from submit to done, read from the database once, asked many times."""

    def __init__(self, measured):
        """`measured`: (provider, model, duration, resolution, seconds) of finished takes."""
        self.provider = _provider_name()  # what takes made now are recorded under
        self._exact = defaultdict(list)
        self._per_second = defaultdict(list)
        for provider, model, duration, resolution, seconds in measured:
            self._exact[provider, model, duration, resolution].append(seconds)
            per_second = seconds / max(1, duration)
            self._per_second[provider, model, resolution].append(per_second)
            self._per_second[provider, model].append(per_second)

    @classmethod
    def recent(cls):
        rows = (
            Take.objects.filter(
                status=Take.Status.DONE, submitted_at__isnull=False, generated_at__isnull=False
            )
            .order_by("-generated_at")
            .values_list(
                "provider", "inputs", "submitted_at", "generated_at", "generation_seconds"
            )[:SAMPLE]
        )
        return cls(
            (
                provider,
                inputs.get("model"),
                inputs.get("duration") or 5,
                inputs.get("resolution"),
                # The provider's own measure where it gave one; else when it was seen done.
                provider_seconds if provider_seconds is not None else (done - sent).total_seconds(),
            )
            for provider, inputs, sent, done, provider_seconds in rows
            if provider_seconds is not None or done > sent
        )

    def seconds(self, provider, model, duration, resolution):
        exact = self._exact.get((provider, model, duration, resolution))
        if exact:
            return median(exact)
        for key in ((provider, model, resolution), (provider, model)):
            if self._per_second.get(key):
                return median(self._per_second[key]) * duration
        return providers.typical_seconds(duration)

    def measured_like(self, take):
        """Whether takes of this provider and model have been timed, so their end can be
        expected; else only the provider's typical time is known."""
        return bool(
            self._per_second.get((take.provider or self.provider, take.inputs.get("model")))
        )

    def for_take(self, take):
        inputs = take.inputs
        return self.seconds(
            take.provider or self.provider,
            inputs.get("model"),
            inputs.get("duration") or 5,
            inputs.get("resolution"),
        )

    def for_shot(self, shot, kind=Kind.DRAFT):
        """How long a take of `kind` of `shot` should take, at that kind's settings."""
        asked = shot.project.settings_for(kind)
        gateway = shot.project.gateway()  # its team's connection's own times, where it has one
        provider = gateway.name if gateway is not None else self.provider
        return self.seconds(provider, asked["model"], shot.duration, asked["resolution"])


def _provider_name():
    """The name takes made now are recorded under ('' while the provider is misconfigured)."""
    try:
        return providers.configured().name
    except providers.ProviderError:
        return ""
