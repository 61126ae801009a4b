"""A provider's limits (the deployment's gateway's, or each team connection's, apart),
shared by every worker and process: concurrency, requests a minute
and a day, and what it was found not to serve.

Kept in the database, never in one process's memory: a claim locks the provider's
gate row (on SQLite, every write transaction is already exclusive), counts the tasks
in flight and the requests of the last minute (and day), and records its own, in one step.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Connection, ProviderCall, ProviderGate, Take
from .providers import ProviderError, configured

WINDOW = timedelta(seconds=60)
DAY = timedelta(days=1)
# The quickest a task is read again once it is due to finish, unless the rate says less.
FINE_STEP = 1.0
# With less than this share of a daily quota left, reads slow to the pace it allows.
LOW = 0.25
# How a provider answers a route it does not serve (a list a gateway never had).
NOT_SERVED = frozenset({404, 405, 501})


@dataclass(frozen=True)
class Wait:
    """A limit says not yet: ask again in `seconds`; `note` says why when a person
    should know (a daily quota used up, and until when)."""

    seconds: float = 0.0
    note: str = ""

    def __bool__(self):
        return self.seconds > 0


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to claim a waiting take for submission."""

    claimed: bool = False
    wait: float = 0.0  # a limit said no: ask again in this many seconds
    refused: str = ""  # the check refused it, and the take failed with this reason
    note: str = ""  # why it waits, when a person should know


@dataclass(frozen=True)
class _Limits:
    name: str
    concurrency: int | None
    rpm: int | None
    daily: int | None
    paused: str = ""  # why nothing new goes through it now


def _limits():
    """The limits of the provider at hand (providers.configured): a team's connection
    keeps its own; the deployment's are SEEDANCE_*'s, else its preset's."""
    provider = configured()
    if provider.connection:
        return _Limits(
            provider.name, provider.concurrency, provider.rpm, provider.daily, provider.paused
        )
    return _Limits(
        provider.name,
        settings.SEEDANCE_CONCURRENCY or provider.concurrency,
        settings.SEEDANCE_RPM or provider.rpm,
        settings.SEEDANCE_DAILY or provider.daily,
    )


def claim(take, refuse=None, fail=None, **fields):
    """Move a waiting take to submitting if the provider's limits allow it now.

    `refuse(take)`, when given, says why the take must not be sent at all ('' when it
    may); it runs under the same lock as the claim, so what it counts (the budget's
    takes in flight) cannot change between the check and the claim. A refused take is
    failed with `fail(take, reason)` (the pipeline's, which also tells webhooks), or the
    model's own fail when none is given.
    """
    limits = _limits()
    if limits.paused:  # its key was refused: the take waits for its owner, unsent
        return Claim(wait=settings.SEEDANCE_POLL_INTERVAL, note=limits.paused)
    with transaction.atomic():
        now = _lock(limits.name)
        connection_id = Connection.id_of(limits.name)
        if connection_id is not None and not Connection.objects.filter(pk=connection_id).exists():
            # Deleted since it was looked up (the delete holds this row too): nothing
            # goes there; the take is asked again, through whatever the team uses now.
            return Claim(wait=settings.SEEDANCE_POLL_INTERVAL)
        if limits.concurrency:
            busy = Take.objects.filter(provider=limits.name, status__in=Take.IN_FLIGHT).count()
            if busy >= limits.concurrency:
                return Claim(wait=settings.SEEDANCE_POLL_INTERVAL)
        wait = _rate_wait(limits, now)
        if wait:
            return Claim(wait=wait.seconds, note=wait.note)
        reason = refuse(take) if refuse is not None else ""
        if reason:
            if fail is not None:
                fail(take, reason)
            else:
                take.fail(reason)
            return Claim(refused=reason)
        if not Take.objects.claim(
            take, Take.Status.WAITING, Take.Status.SUBMITTING, provider=limits.name, **fields
        ):
            return Claim()
        _count(limits, now)
    return Claim(claimed=True)


def paused():
    """Why nothing goes through the provider at hand now (a connection whose key was
    refused), or ''."""
    return _limits().paused


def admit_call():
    """Count one more request to the provider: a Wait, false when it may go now."""
    limits = _limits()
    if not (limits.rpm or limits.daily):
        return Wait()
    with transaction.atomic():
        now = _lock(limits.name)
        wait = _rate_wait(limits, now)
        if not wait:
            _count(limits, now)
        return wait


def read_step():
    """Seconds between two reads of a task that is due to finish: quick, unless the
    provider's request rate, shared by the tasks it runs at once, allows fewer reads, or
    its daily quota is running low (then reads slow to the pace a day of it allows)."""
    limits = _limits()
    quick = min(settings.SEEDANCE_POLL_INTERVAL, FINE_STEP)
    share = limits.concurrency or 1
    step = quick
    if limits.rpm:
        step = max(step, WINDOW.total_seconds() * share / limits.rpm)
    if limits.daily:
        since = timezone.now() - DAY
        used = ProviderCall.objects.filter(provider=limits.name, at__gte=since).count()
        if limits.daily - used < LOW * limits.daily:
            step = max(step, DAY.total_seconds() * share / limits.daily)
    return step


def lists():
    """Whether the provider's tasks can be listed (read many at once, and looked up by
    what was sent): its API has a list, and no worker found it missing."""
    try:
        provider = configured()
    except ProviderError:  # misconfigured: reads fail and say so, one by one
        return False
    if not provider.lists:
        return False
    return not ProviderGate.objects.filter(provider=provider.name, lists=False).exists()


def stop_listing():
    """The provider's list route is missing: every worker reads its tasks one by one."""
    ProviderGate.objects.update_or_create(provider=configured().name, defaults={"lists": False})


def hold(name):
    """Hold the gate row of the provider called `name` until the transaction ends: no take
    is claimed for it meanwhile (a connection's delete checks and deletes under it)."""
    return _lock(name)


def _lock(name):
    """Hold the provider's gate row until the transaction ends; returns the time now."""
    ProviderGate.objects.get_or_create(provider=name)
    ProviderGate.objects.select_for_update().get(provider=name)
    return timezone.now()


def _count(limits, now):
    if limits.rpm or limits.daily:
        ProviderCall.objects.create(provider=limits.name, at=now)


def _rate_wait(limits, now):
    if not (limits.rpm or limits.daily):
        return Wait()
    kept = DAY if limits.daily else WINDOW
    ProviderCall.objects.filter(provider=limits.name, at__lt=now - kept).delete()
    return _full(limits.name, limits.daily, DAY, now) or _full(limits.name, limits.rpm, WINDOW, now)


def quota():
    """A Wait while the provider's daily quota is used up, until it frees; else a false one."""
    limits = _limits()
    return _full(limits.name, limits.daily, DAY, timezone.now())


def _full(name, allowed, window, now):
    """A Wait when `allowed` requests were made in the last `window`, else a false one."""
    if not allowed:
        return Wait()
    inside = ProviderCall.objects.filter(provider=name, at__gte=now - window).order_by("at")
    count = inside.count()
    if count < allowed:
        return Wait()
    # Room comes back when the request `allowed` places from the end leaves the window.
    frees = inside[count - allowed].at + window
    seconds = max(0.05, (frees - now).total_seconds())
    if window == WINDOW:
        return Wait(seconds)
    until = timezone.localtime(frees)
    return Wait(
        seconds,
        f"The provider's daily quota of {allowed} requests is used up until "
        f"{until:%H:%M %Z} on {until:%d %b}.",
    )
