"""The worker's driver of the pipeline: django-q2 tasks that call its steps."""

import time

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from . import pipeline
from .models import Export, Project, Take

# A task sleeps at most this long before handing its wait back to the queue, so a
# worker is never held for minutes by a backoff.
LONGEST_NAP = 10.0


def start(project_id, wait=0.0):
    """Submit what may start now, watch each submitted take, and come back for retries."""
    time.sleep(min(wait, LONGEST_NAP))
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return
    for take in pipeline.start_ready(project):
        async_task(watch, take.pk, settings.SEEDANCE_POLL_INTERVAL)
    retry_at = pipeline.next_retry(project)
    if retry_at is not None:
        async_task(start, project_id, max(0.0, (retry_at - timezone.now()).total_seconds()))


def watch(take_id, wait=0.0, follow=True):
    """Poll one take; again later while it runs, and start what it unblocks when it ends.

    A provider's callback asks for one extra look (follow=False) beside the polling.
    """
    time.sleep(min(wait, LONGEST_NAP))
    take = Take.objects.select_related("shot__project").filter(pk=take_id).first()
    if take is None:
        return
    if take.status not in (Take.Status.QUEUED, Take.Status.RUNNING):
        start(take.shot.project_id)  # finished meanwhile, by another look
        return
    if follow and not pipeline.due(take):
        # Another take's look just read this one too: nothing to ask the provider yet.
        async_task(watch, take_id, pipeline.next_look(take))
        return
    # Takes of other chains due for a look are read in the same request.
    batch = [take, *pipeline.due_with(take)] if follow else [take]
    answers = pipeline.poll_many(batch)
    for other in batch[1:]:
        if other.pk in answers and answers[other.pk] is None:
            start(other.shot.project_id)
    wait = answers.get(take.pk)
    if wait is None:
        start(take.shot.project_id)
    elif follow:
        async_task(watch, take_id, wait)


def recover():
    """Resume the takes of dead workers (run when a worker starts, and every minute)."""
    for take in pipeline.recover():
        async_task(watch, take.pk)


def cancel(take_ids):
    for take in Take.objects.filter(pk__in=take_ids).select_related("shot__project"):
        pipeline.cancel_remote(take)


def export(export_id):
    pipeline.export(Export.objects.get(pk=export_id))
