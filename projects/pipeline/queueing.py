"""Making waiting takes, and cancelling them: the database only, so views may call it."""

from django.db import transaction
from django.utils import timezone

from ..models import Kind, Project, Take


def queue_takes(project, shots=None, requested_by=None, kind=Kind.DRAFT):
    """Make a waiting take of `kind` for each shot lacking a current one, or for the given
    shots; `requested_by`, the person who asked, is who the team's spend is told by.

    Generate makes drafts. A final reuses its shot's current draft's seed (drawn or the
    shot's), so it is the same clip made better; a shot without one draws its own.

    Idempotent under concurrency: the project's row is locked while takes are numbered,
    so a double Generate queues once. Submission happens in submitting.start_ready.
    """
    wanted = {shot.pk for shot in shots} if shots is not None else None
    queued = []
    with transaction.atomic():
        Project.objects.select_for_update().only("pk").get(pk=project.pk)
        for shot in project.timeline():
            latest = shot.latest_of(kind)
            if latest is not None and latest.is_unfinished:
                continue
            if wanted is None and shot.current_of(kind) is not None:
                continue
            if wanted is not None and shot.pk not in wanted:
                continue
            draft = shot.current_take if kind == Kind.FINAL else None
            queued.append(
                Take.objects.create(
                    shot=shot,
                    kind=kind,
                    number=shot.next_number(),
                    inputs=shot.inputs(kind),
                    seed=draft.seed if draft is not None else None,
                    requested_by=requested_by,
                )
            )
    return queued


def queue_finals(project, requested_by=None):
    """Make final: a final of every shot lacking a current one, at the project's settings,
    with its draft's prompt and seed; finals chain from finals (submitting._gate)."""
    return queue_takes(project, requested_by=requested_by, kind=Kind.FINAL)


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
