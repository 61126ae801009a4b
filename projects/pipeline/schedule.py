"""What is due now: task reads, uncertain creates to look for again, retries of creates.

Drivers (the worker's clock, the command line) ask here instead of sleeping inside a
task. Each due row is claimed with a conditional update, so two clocks never hand the
same work out twice; a claim left unworked (its worker died) falls due again after
PIPELINE_LEASE_SECONDS.
"""

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Min, Q
from django.utils import timezone

from .. import gateways, limits
from ..models import Take
from . import uncertain
from .polling import BATCH, poll_many

Status = Take.Status
READABLE = Q(status__in=[Status.QUEUED, Status.RUNNING]) & ~Q(remote_id="")
# An uncertain create still looked for; a submitting take is its worker's alone.
LOST = Q(status=Status.UNCERTAIN)


def due_reads(now=None, takes=None):
    """Takes whose task is due for a read, or whose uncertain create for another look.

    Where one request reads many tasks, a read that is due brings the others due within
    a poll interval along: they cost nothing more, now or later.
    """
    now = now or timezone.now()
    takes = Take.objects.all() if takes is None else takes
    due = takes.filter(
        (READABLE & (Q(next_look_at__lte=now) | Q(next_look_at=None)))
        | (LOST & Q(next_look_at__lte=now))
    )
    # Each gateway's own answer: a team's connection may list where the server's cannot.
    names = due.filter(READABLE).values_list("provider", flat=True).order_by().distinct()
    listing = [name for name in set(names) if _lists(name)]
    if listing:
        soon = now + timedelta(seconds=settings.SEEDANCE_POLL_INTERVAL)
        due = due | takes.filter(READABLE & Q(next_look_at__lte=soon, provider__in=listing))
    return due


def _lists(provider_name):
    """Whether the gateway a take went through (recorded under `provider_name`) lists."""
    with gateways.named(provider_name, keyed=False):
        return limits.lists()  # False for one that cannot be used: read one by one


def claim_reads(now=None):
    """Claim the due reads; returns them as batches of take ids, each read in one request
    where the provider's API can list tasks."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)
    claimed = defaultdict(list)
    for pk, provider, look in due_reads(now).values_list("pk", "provider", "next_look_at")[:500]:
        if Take.objects.filter(pk=pk, next_look_at=look).update(next_look_at=lease):
            claimed[provider].append(pk)
    batches = []
    for provider, ids in claimed.items():  # each gateway's takes apart, listed where it can
        size = BATCH if _lists(provider) else 1
        batches += [ids[i : i + size] for i in range(0, len(ids), size)]
    return batches


def claim_retries(now=None):
    """Claim the waiting takes whose retry time has come; returns their projects' ids."""
    now = now or timezone.now()
    projects = set()
    due = Take.objects.filter(status=Status.WAITING, not_before__lte=now)
    for pk, project, when in due.values_list("pk", "shot__project", "not_before")[:500]:
        # Cleared, so it may start; start_ready sets it again if a limit still says no.
        if Take.objects.filter(pk=pk, not_before=when).update(not_before=None):
            projects.add(project)
    return sorted(projects)


def look(takes):
    """Do what due takes are due for: look for uncertain creates again, read the others.
    A submitting take is left to the worker sending its create. Returns the takes that
    ended, whose chains may go on."""
    for take in takes:
        if take.status == Status.UNCERTAIN:
            with gateways.for_take(take):  # where its create went
                uncertain.look_for(take)
    return poll_many([take for take in takes if take.status in (Status.QUEUED, Status.RUNNING)])


def worth_a_look(take):
    """Whether a callback about `take` is worth a look: its task is at the provider, or
    its create is uncertain (the callback says a task exists). Never a submitting take:
    the worker sending its create decides what became of it."""
    return take.is_uncertain or (
        take.status in (Status.QUEUED, Status.RUNNING) and bool(take.remote_id)
    )


def next_due(takes=None):
    """When the next read or retry of `takes` (all takes) falls due; None: nothing is."""
    times = (takes if takes is not None else Take.objects).aggregate(
        read=Min("next_look_at", filter=READABLE | LOST),
        retry=Min("not_before", filter=Q(status=Status.WAITING)),
    )
    return min(filter(None, times.values()), default=None)
