"""The worker's clock: hands due reads, retries, webhooks and sweeps to the worker pool.

A take's next read and a create's retry are times in the database. The clock wakes
when the next one falls due (or every fraction of a second, to see new ones), claims
what is due and enqueues a task for it, so no task ever sleeps while a slot waits.
Several clocks (one per worker process) may run: claims keep them from doubling work.
"""

import logging
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_q.tasks import async_task

from . import pipeline, webhooks

log = logging.getLogger(__name__)
# The longest the clock sleeps, so a take submitted meanwhile is seen soon.
LONGEST_NAP = 0.5
SWEEP_EVERY = 60.0


class Clock:
    def __init__(self, enqueue=async_task):
        self.enqueue = enqueue
        self.sweep_at = 0.0  # sweep at once: a worker starting may follow a dead one

    def tick(self):
        """Hand out what is due now; returns the seconds until the next tick."""
        now = timezone.now()
        for take_ids in pipeline.claim_reads(now):
            self.enqueue("projects.tasks.look", take_ids)
        for project_id in pipeline.claim_retries(now):
            self.enqueue("projects.tasks.start", project_id)
        for delivery_id, claim in webhooks.claim_due(now):  # retries, hand-overs lost
            self.enqueue("projects.tasks.deliver", delivery_id, claim)
        if time.monotonic() >= self.sweep_at:
            self.enqueue("projects.tasks.recover")
            self.sweep_at = time.monotonic() + min(SWEEP_EVERY, settings.PIPELINE_LEASE_SECONDS / 3)
        longest = min(LONGEST_NAP, settings.SEEDANCE_POLL_INTERVAL)
        wake = min(filter(None, (pipeline.next_due(), webhooks.next_due())), default=None)
        if wake is None:
            return longest
        return max(0.01, min(longest, (wake - timezone.now()).total_seconds()))

    def run(self, running):
        """Tick while `running()` says so."""
        while running():
            try:
                nap = self.tick()
            except Exception:  # a database hiccup must not stop the clock for good
                log.exception("the worker's clock failed a tick")
                close_old_connections()
                nap = 1.0
            time.sleep(nap)
