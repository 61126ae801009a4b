"""Taking over what dead workers left: creates in the air, half-done collections, waiting
chains; and deleting what was deleted while its takes were at the provider."""

import logging

from django.utils import timezone

from .. import gateways
from ..models import Project, Take
from . import uncertain
from .collecting import gave_up
from .leases import beat, orphaned
from .submitting import start_ready

log = logging.getLogger(__name__)
Status = Take.Status


def recover(project=None):
    """Resume the takes whose worker died; returns the takes submitted meanwhile.

    A take is orphaned when the process that last worked on it no longer exists on this
    host, or when nobody has touched it for PIPELINE_LEASE_SECONDS. Each orphan is
    claimed by a conditional update, so several sweepers never resume the same take.
    Submitting ones are uncertain unless their create was never sent (uncertain.take_over:
    never simply sent again); collecting ones go back to be read and collected again,
    unless they have waited for collect_deadline: then they fail (a clip that kills every
    worker collecting it is not tried for ever).
    Queued and running takes need nobody: their next read is due by its time, whoever
    reads it. Projects with waiting takes are started.
    """
    takes = Take.objects.select_related("shot__project")
    if project is not None:
        takes = takes.filter(shot__project=project)
    for take in takes.filter(status__in=[Status.SUBMITTING, Status.COLLECTING]):
        if not orphaned(take):
            continue
        fields = beat()
        claimed = Take.objects.filter(
            pk=take.pk, status=take.status, heartbeat_at=take.heartbeat_at, worker=take.worker
        ).update(**fields)
        if not claimed:
            continue
        take.heartbeat_at, take.worker = fields["heartbeat_at"], fields["worker"]
        log.info("take %s: resuming it, %s when its worker died", take.pk, take.status)
        if take.status == Status.SUBMITTING:
            with gateways.for_take(take):  # looked for where it was sent
                uncertain.take_over(take)
        elif not gave_up(take, "its worker stopped while collecting it."):
            take.move(Status.RUNNING, next_look_at=timezone.now())
    started = []
    waiting = takes.filter(status=Status.WAITING).values_list("shot__project", flat=True)
    for waiting_project in Project.objects.filter(pk__in=set(waiting)):
        started += start_ready(waiting_project)
    return started
