"""A provider's concurrency and request-rate limits, shared by every worker and process.

Kept in the database, never in one process's memory: a claim locks the provider's
gate row (on SQLite, every write transaction is already exclusive), counts the tasks
in flight and the requests of the last minute, and records its own, in one step.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ProviderCall, ProviderGate, Take
from .providers import configured

WINDOW = timedelta(seconds=60)
# The quickest a task is read again once it is due to finish, unless the rate says less.
FINE_STEP = 1.0


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to claim a waiting take for submission."""

    claimed: bool = False
    wait: float = 0.0  # a limit said no: ask again in this many seconds
    refused: str = ""  # the check refused it, and the take failed with this reason


def _limits():
    provider = configured()
    concurrency = settings.SEEDANCE_CONCURRENCY or provider.concurrency
    rpm = settings.SEEDANCE_RPM or provider.rpm
    return provider.name, concurrency, rpm


def claim(take, refuse=None, **fields):
    """Move a waiting take to submitting if the provider's limits allow it now.

    `refuse(take)`, when given, says why the take must not be sent at all ('' when it
    may); it runs under the same lock as the claim, so what it counts (the budget's
    takes in flight) cannot change between the check and the claim.
    """
    name, concurrency, rpm = _limits()
    with transaction.atomic():
        now = _lock(name)
        if concurrency:
            busy = Take.objects.filter(provider=name, status__in=Take.IN_FLIGHT).count()
            if busy >= concurrency:
                return Claim(wait=settings.SEEDANCE_POLL_INTERVAL)
        wait = _rate_wait(name, rpm, now)
        if wait:
            return Claim(wait=wait)
        reason = refuse(take) if refuse is not None else ""
        if reason:
            take.fail(reason)
            return Claim(refused=reason)
        if not Take.objects.claim(
            take, Take.Status.WAITING, Take.Status.SUBMITTING, provider=name, **fields
        ):
            return Claim()
        if rpm:
            ProviderCall.objects.create(provider=name, at=now)
    return Claim(claimed=True)


def admit_call():
    """Count one more request to the provider; returns 0, or the seconds to wait first."""
    name, _, rpm = _limits()
    if not rpm:
        return 0
    with transaction.atomic():
        now = _lock(name)
        wait = _rate_wait(name, rpm, now)
        if not wait:
            ProviderCall.objects.create(provider=name, at=now)
        return wait


def read_step():
    """Seconds between two reads of a task that is due to finish: quick, unless the
    provider's request rate, shared by the tasks it runs at once, allows fewer reads."""
    _, concurrency, rpm = _limits()
    quick = min(settings.SEEDANCE_POLL_INTERVAL, FINE_STEP)
    if not rpm:
        return quick
    return max(quick, 60.0 * (concurrency or 1) / rpm)


def _lock(name):
    """Hold the provider's gate row until the transaction ends; returns the time now."""
    ProviderGate.objects.get_or_create(provider=name)
    ProviderGate.objects.select_for_update().get(provider=name)
    return timezone.now()


def _rate_wait(name, rpm, now):
    if not rpm:
        return 0
    ProviderCall.objects.filter(provider=name, at__lt=now - WINDOW).delete()
    recent = ProviderCall.objects.filter(provider=name).order_by("at")
    if recent.count() < rpm:
        return 0
    # The oldest request of the window leaves it first.
    return max(0.05, (recent.first().at + WINDOW - now).total_seconds())
