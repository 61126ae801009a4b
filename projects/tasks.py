"""The worker's driver of the pipeline: django-q2 tasks that call its steps."""

import time

from django.conf import settings
from django_q.tasks import async_task

from . import pipeline
from .models import Export, Project, Take


def start(project_id):
    """Submit what may start now, and watch each submitted take."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return
    for take in pipeline.start_ready(project):
        async_task(watch, take.pk, settings.SEEDANCE_POLL_INTERVAL)


def watch(take_id, wait=0.0):
    """Poll one take; again later while it runs, and start what it unblocks when it ends."""
    time.sleep(wait)
    take = Take.objects.select_related("shot__project").filter(pk=take_id).first()
    if take is None:
        return
    if pipeline.poll(take):
        async_task(watch, take_id, settings.SEEDANCE_POLL_INTERVAL)
    else:
        start(take.shot.project_id)


def export(export_id):
    pipeline.export(Export.objects.get(pk=export_id))
