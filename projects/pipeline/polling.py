"""Reading remote tasks, and when to read each next: when it is expected to finish.

A take's next read is a time in the database (`next_look_at`), not a sleep: the
worker's clock and the command line's driver both read what is due, so no worker is
held while a task runs. The expectation comes from projects.pace; near it, reads come
every few tenths of a second to a second, as the provider's request rate allows.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .. import gateways, limits
from ..models import Connection, Spend, Take
from ..models.connections import PAUSED
from ..pace import Expectations
from ..providers import ProviderError, TaskState, get_client
from . import collecting
from .failing import fail_take, give_up_connection
from .leases import beat

log = logging.getLogger(__name__)
Status = Take.Status
# Read takes in one request where the style can list, this many at most.
BATCH = 50
# The first read near a take's end comes at this share of its expected time, at latest.
EARLY = 0.9
# How the card's note begins while the provider answers with a status word nobody knew.
UNKNOWN_STATUS = "The provider says the task is "


def follow(take, remote_id, old, note=""):
    """From status `old`, a take follows remote task `remote_id`: queued, and read when
    it is due. False when another process moved the take first."""
    fields = {"remote_id": remote_id, "error": "", **beat()}
    if note:
        fields["note"] = note
    fields["next_look_at"] = timezone.now() + timedelta(seconds=first_read(take))
    if not Take.objects.claim(take, old, Status.QUEUED, **fields):
        return False
    log.info("take %s: follows task %s", take.pk, remote_id)
    return True


def poll_many(takes, expectations=None):
    """Read the remote tasks of several takes, in one request where the provider lists
    them, and bring each take up to date. Returns the takes that ended (done or failed).

    A list route the provider turns out not to serve (404, 405, 501) is remembered for
    every worker (limits.stop_listing), and the tasks are read one by one.
    """
    takes = [take for take in takes if take.status in (Status.QUEUED, Status.RUNNING)]
    if not takes:
        return []
    # Each take is read through the gateway it was sent through, with that one's limits.
    by_gateway = defaultdict(list)
    for take in takes:
        by_gateway[take.provider].append(take)
    if len(by_gateway) > 1:
        return [t for group in by_gateway.values() for t in poll_many(group, expectations)]
    with gateways.for_take(takes[0]):
        return _poll(takes, expectations)


def _paused_too_long(provider_name):
    """Whether the connection has been paused longer than GATEWAYS_MAX_PAUSE_DAYS; if so,
    its takes at the gateway are failed (they are read no more while it is paused, so
    no deadline of theirs would ever end them)."""
    days = settings.GATEWAYS_MAX_PAUSE_DAYS
    since = timezone.now() - timedelta(days=days)
    connection = Connection.objects.filter(
        pk=Connection.id_of(provider_name) or 0, paused_at__lt=since
    ).first()
    if connection is None:
        return False
    give_up_connection(
        connection,
        f"the team's gateway connection “{connection.name}” stayed paused over {days:g} days.",
    )
    return True


def _poll(takes, expectations):
    try:
        paused = limits.paused()
    except ProviderError as error:
        paused, unusable = "", error
    else:
        unusable = None
    if paused and _paused_too_long(takes[0].provider):
        return takes
    if paused:  # its key was refused: read again once it has a new one, failing none
        _read_again(takes, settings.SEEDANCE_POLL_INTERVAL, paused)
        # Time paused is not time the gateway failed to answer (read_deadline).
        Take.objects.filter(pk__in=[take.pk for take in takes]).update(**beat())
        return []
    if unusable is not None:
        if Connection.id_of(takes[0].provider) is None:
            raise unusable  # the deployment is misconfigured: as before, nothing fails
        for take in takes:  # its connection is gone, or its address is refused
            fail_take(take, unusable)
        return takes
    wait = limits.admit_call()
    if wait:
        _read_again(takes, wait.seconds, wait.note)
        return []
    client = get_client()
    try:
        found = None
        if len(takes) > 1 and limits.lists():
            try:
                found = {t.id: t for t in client.list([take.remote_id for take in takes])}
            except ProviderError as error:
                if error.status not in limits.NOT_SERVED:
                    raise
                log.warning("the provider serves no list (%s): reading tasks one by one", error)
                limits.stop_listing()
        if found is None:
            found = {take.remote_id: client.get(take.remote_id) for take in takes}
    except ProviderError as error:
        if note := gateways.refused(error):  # its key was refused: paused, none fails
            _read_again(takes, settings.SEEDANCE_POLL_INTERVAL, note)
            return []
        if error.permanent and len(takes) == 1:
            fail_take(takes[0], error)
            return takes
        return _unread(takes, error)
    expectations = expectations or Expectations.recent()
    ended = []
    for take in takes:
        remote = found.get(take.remote_id)
        if remote is None:
            if len(takes) > 1:  # not in the list: ask for it alone, which says why
                ended += poll_many([take], expectations)
            else:
                fail_take(take, "The provider no longer knows this task.")
                ended.append(take)
        elif apply(take, remote, client, expectations):
            ended.append(take)
    return ended


def apply(take, remote, client, expectations=None):
    """Bring a take up to date with its remote task; True once it is over."""
    now = timezone.now()
    if not remote.state.finished:
        fields = {"progress": remote.progress, **beat()}
        if (note := _status_note(take, remote)) != take.note:
            fields["note"] = note
        if remote.state == TaskState.RUNNING and take.status == Status.QUEUED:
            fields.update(status=Status.RUNNING, started_at=now)
        out = limits.quota()
        if out:  # the day's requests are spent: the card says until when
            fields["note"] = out.note
        for name, value in fields.items():
            setattr(take, name, value)
        delay = read_delay(take, expectations or Expectations.recent())
        fields["next_look_at"] = now + timedelta(seconds=max(delay, out.seconds))
        Take.objects.filter(pk=take.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(**fields)
        return False
    if remote.state == TaskState.SUCCEEDED:
        claimed = Take.objects.claim(
            take,
            [Status.QUEUED, Status.RUNNING],
            Status.COLLECTING,
            tokens=remote.tokens,
            generated_at=take.generated_at or now,  # the first time it was seen done
            generation_seconds=_generation_seconds(take, remote, now),
            next_look_at=None,
            note=_status_note(take, remote),
            **beat(),
        )
        if claimed:
            if take.tokens:  # billed: in the team's ledger, whatever becomes of the take
                Spend.objects.record(take)
            collecting.collect(take, remote, client)
        return True
    fail_take(take, remote.error or f"The provider reports the task {remote.state}.")
    return True


def _status_note(take, remote):
    """The card's note: the provider's own word while it is one this app does not know
    (the task is read on: it may yet finish), and whatever it said before otherwise."""
    if remote.state == TaskState.UNKNOWN:
        return f"{UNKNOWN_STATUS}“{remote.status}”, a word this app does not know; reading on."
    return "" if take.note.startswith((UNKNOWN_STATUS, PAUSED)) else take.note


def _generation_seconds(take, remote, now):
    """How long the task took: by the provider's own clock where its answers say; else
    the middle between the last read that saw it unfinished and this one, which saw it
    done (truer than this read's time, which would teach that takes last till read)."""
    if remote.created_at is not None and remote.finished_at is not None:
        seconds = remote.finished_at - remote.created_at
        return seconds if seconds >= 0 else None
    if take.submitted_at is None:
        return None
    unfinished = max(take.heartbeat_at or take.submitted_at, take.submitted_at)
    return ((unfinished - take.submitted_at) + (now - take.submitted_at)).total_seconds() / 2


def first_read(take):
    """Seconds from a take's submission to its first read."""
    return read_delay(take, Expectations.recent())


def read_delay(take, expectations):
    """Seconds until a take's task should be read again.

    Every poll interval while its end is far; then a little before it is expected to
    finish (early enough that a kind of take that got quicker is seen to); then every
    read_step. With no take of the kind timed yet, reads start quick and slow down, each
    after half the time gone since the create, up to the interval: the first of a kind
    is seen done soon after it is, without many reads of a long one.
    """
    interval = settings.SEEDANCE_POLL_INTERVAL
    step = limits.read_step()
    sent = take.submitted_at or timezone.now()
    if not expectations.measured_like(take):
        elapsed = (timezone.now() - sent).total_seconds()
        return max(step, min(interval, elapsed / 2))
    expected = expectations.for_take(take)
    ends = sent + timedelta(seconds=min(expected - step / 2, EARLY * expected))
    until = (ends - timezone.now()).total_seconds()
    if until <= 0:
        return step
    return max(step, min(interval, until))


def _read_again(takes, seconds, note=""):
    later = timezone.now() + timedelta(seconds=seconds)
    fields = {"next_look_at": later, **({"note": note} if note else {})}
    Take.objects.filter(pk__in=[take.pk for take in takes]).update(**fields)


def read_deadline():
    """How long a task may go unread, its provider failing every read, before its take
    stops waiting for it."""
    return timedelta(seconds=10 * settings.PIPELINE_LEASE_SECONDS)


def _unread(takes, error):
    """Reads failed for a passing reason: read again later; give up on a take whose task
    has not been read for read_deadline."""
    log.warning("reading %d tasks failed, will retry: %s", len(takes), error)
    cutoff = timezone.now() - read_deadline()
    ended = []
    for take in takes:
        last = take.heartbeat_at or take.submitted_at
        if last is not None and last < cutoff:
            minutes = (timezone.now() - last).total_seconds() / 60
            fail_take(
                take,
                f"The provider could not be read for {minutes:.0f} min ({error}); its task "
                "may still finish there, but this take stops waiting for it.",
            )
            ended.append(take)
    waiting = [take for take in takes if take not in ended]
    _read_again(waiting, error.retry_after or settings.SEEDANCE_POLL_INTERVAL)
    return ended
