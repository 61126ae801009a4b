"""Making waiting takes, and cancelling them: the database only, so views may call it."""

from django.db import transaction
from django.utils import timezone

from ..models import Project, Take


def queue_takes(project, shots=None, requested_by=None):
    """Make a waiting take for each shot lacking a current take, or for the given shots;
    `requested_by`, the person who asked, is who the team's spend is told by.

    Idempotent under concurrency: the project's row is locked while takes are numbered,
    so a double Generate queues once. Submission happens in submitting.start_ready.
    """
    wanted = {shot.pk for shot in shots} if shots is not None else None
    queued = []
    with transaction.atomic():
        Project.objects.select_for_update().only("pk").get(pk=project.pk)
        for shot in project.timeline():
            latest = shot.latest_take
            if latest is not None and latest.is_unfinished:
                continue
            if wanted is None and shot.current_take is not None:
                continue
            if wanted is not None and shot.pk not in wanted:
                continue
            number = latest.number + 1 if latest else 1
            queued.append(
                Take.objects.create(
                    shot=shot, number=number, inputs=shot.inputs(), requested_by=requested_by
                )
            )
    return queued


def queue_from(shot, requested_by=None):
    """Regenerate a shot and the rest of its chain, which its new take will make stale."""
    timeline = shot.project.timeline()
    chain = next(s.chain for s in timeline if s.pk == shot.pk)
    rest = [s for s in timeline if s.chain == chain and s.position >= shot.position]
    return queue_takes(shot.project, shots=rest, requested_by=requested_by)


def cancel(project):
    """Stop what has not started: waiting takes at once. Returns the queued takes, whose
    remote tasks only the provider can cancel (a worker's job: a view must not wait on
    it). Running tasks cannot be stopped and finish."""
    Take.objects.filter(shot__project=project, status=Take.Status.WAITING).update(
        status=Take.Status.CANCELLED,
        error="Cancelled before it was sent.",
        finished_at=timezone.now(),
    )
    return list(
        Take.objects.filter(shot__project=project, status=Take.Status.QUEUED).select_related(
            "shot__project"
        )
    )
