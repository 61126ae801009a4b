"""A provider's concurrency and request-rate limits, shared by every worker and process.

Kept in the database, never in one process's memory: a claim locks the provider's
gate row (on SQLite, every write transaction is already exclusive), counts the tasks
in flight and the requests of the last minute, and records its own, in one step.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ProviderCall, ProviderGate, Take
from .providers import configured

WINDOW = timedelta(seconds=60)
IN_FLIGHT = [Take.Status.SUBMITTING, Take.Status.QUEUED, Take.Status.RUNNING]


def _limits():
    provider = configured()
    concurrency = settings.SEEDANCE_CONCURRENCY or provider.concurrency
    rpm = settings.SEEDANCE_RPM or provider.rpm
    return provider.name, concurrency, rpm


def claim(take, **fields):
    """Move a waiting take to submitting if the provider's limits allow it now.

    Returns (claimed, wait): wait is how many seconds to wait before asking again when
    a limit said no (0 when the take was simply claimed by someone else first).
    """
    name, concurrency, rpm = _limits()
    with transaction.atomic():
        now = _lock(name)
        if concurrency:
            busy = Take.objects.filter(provider=name, status__in=IN_FLIGHT).count()
            if busy >= concurrency:
                return False, settings.SEEDANCE_POLL_INTERVAL
        wait = _rate_wait(name, rpm, now)
        if wait:
            return False, wait
        fields = {"status": Take.Status.SUBMITTING, "provider": name, **fields}
        if not Take.objects.filter(pk=take.pk, status=Take.Status.WAITING).update(**fields):
            return False, 0
        if rpm:
            ProviderCall.objects.create(provider=name, at=now)
    for field, value in fields.items():
        setattr(take, field, value)
    return True, 0


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
