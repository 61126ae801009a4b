"""The command line's driver: `storyboard render --wait` runs a project's takes here and now.

It calls the same steps as the worker, in one process: start what may start, do what
is due, and sleep only until the next thing falls due. When a take ends, what it
unblocks is sent at once.
"""

import time

from django.conf import settings
from django.utils import timezone

from ..models import Take
from .bridging import prepare
from .guarding import blocked
from .recovery import recover
from .schedule import due_reads, look, next_due
from .submitting import start_ready

# The longest nap between two rounds, so takes changed by another process are seen.
LONGEST_NAP = 1.0


def run_here(project, report=None, deadline=None):
    """Drive a project's takes until none is unfinished, or none that can move without a
    person (a take the seam guard holds, an uncertain one no longer looked for, and what
    waits behind them); True then, False when `deadline` (a time.monotonic() value) came
    first.

    `report` is called with the project's takes after every round. What dead workers
    left is swept at the start and every third of a lease. Each take that ends done has
    its bridges prepared here, as the worker would, once what it unblocks was sent: the
    first export after the render copies them rather than encodes them.
    """
    # A removed shot's waiting take waits for an undo, not for this run.
    takes = Take.objects.filter(shot__project=project, shot__removed_at__isnull=True)
    sweep_at, done = 0.0, []
    while True:
        if time.monotonic() >= sweep_at:
            recover(project)
            sweep_at = time.monotonic() + settings.PIPELINE_LEASE_SECONDS / 3
        start_ready(project)
        for take in done:  # after the chain went on, as the worker's collect does
            prepare(take)
        ended = look(list(due_reads(takes=takes).select_related("shot__project")))
        done = [take for take in ended if take.status == Take.Status.DONE]
        if report is not None:
            report(takes.select_related("shot").order_by("shot__position", "number"))
        unfinished = takes.unfinished()
        if not unfinished.exists():
            return _prepared(done)
        if ended:
            continue  # what they unblock goes out now
        person = [Take.Status.WAITING, Take.Status.UNCERTAIN]  # what may wait for one
        if not unfinished.exclude(status__in=person).exists() and not (
            unfinished.exclude(pk__in=blocked(project)).exists()
        ):
            return _prepared(done)  # what is left waits for a person
        if deadline is not None and time.monotonic() >= deadline:
            return False
        wake = next_due(takes)
        nap = LONGEST_NAP if wake is None else (wake - timezone.now()).total_seconds()
        time.sleep(max(0.02, min(LONGEST_NAP, nap, sweep_at - time.monotonic())))


def _prepared(takes):
    for take in takes:
        prepare(take)
    return True
