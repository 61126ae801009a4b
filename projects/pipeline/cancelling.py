"""Stopping work without losing what was paid for: cancelling queued tasks, and deleting
shots and projects whose takes are still at the provider.

Cancel reads first. On the native API a DELETE cancels a queued task but deletes a
finished one, video and all; so a task is read before anything is cancelled: a queued one
is cancelled, a running one is left to finish and is collected (it is paid), a finished
one is collected and never deleted. (A task that ends in the instant between the read
and the DELETE is still lost there: the read narrows that to one request's time.)

Deleting a project, or a removed shot for good, cancels what waits here and what is
queued there, and keeps the rows (out of every page) while the rest runs: what it costs
is collected into the team's ledger (models.Spend); purge, in the worker's sweep, then
deletes them.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from .. import activity, gateways
from ..models import Project, Shot, Take
from ..providers import ProviderError, TaskState, get_client
from . import polling

log = logging.getLogger(__name__)
Status = Take.Status


def cancel_remote(take):
    """Cancel a take's task if it is still queued at the provider, reading it first; the
    take says how it ended, or why it goes on."""
    with gateways.for_take(take):  # the gateway its task is at
        _cancel_remote(take)


def _cancel_remote(take):
    try:
        client = get_client()
    except ProviderError as error:
        _note(take, f"Not cancelled: {error}")
        return
    if not client.can_cancel:
        _note(take, f"The {client.name} API cannot cancel a task: it will finish and be billed.")
        return
    try:
        task = client.get(take.remote_id)
    except ProviderError as error:
        _note(take, f"Not cancelled: its task could not be read first ({error}).")
        return
    if task.state == TaskState.QUEUED:
        try:
            client.cancel(take.remote_id)
        except ProviderError as error:  # it started meanwhile: it finishes, and is paid
            _note(take, f"Not cancelled ({error}): it is collected when done.")
            return
        Take.objects.claim(
            take,
            [Status.QUEUED, Status.RUNNING],
            Status.CANCELLED,
            error="Cancelled while queued.",
            finished_at=timezone.now(),
            next_look_at=None,
        )
        return
    if task.state == TaskState.RUNNING:
        _note(take, "Running at the provider, which cannot stop it: collected when done.")
    # Running, or over: followed and collected as any read would, never deleted.
    polling.apply(take, task, client)


def delete_project(project):
    """Delete a project (the database only: views call it): at once when none of its
    takes is at the provider; else it leaves every page now, its queued tasks are
    cancelled and the rest run to their end, and it goes then (purge)."""
    with transaction.atomic():
        takes = Take.objects.filter(shot__project=project)
        _stop(takes)
        # Logged now, as the deleter's, whenever the row goes (purge, in the worker).
        activity.deleted(project)
        with activity.quietly():
            if takes.working().exists():
                Project.objects.filter(pk=project.pk).update(deleted_at=timezone.now())
                log.info("project %s: deleted, kept until its takes end", project.pk)
            else:
                project.delete()


def forget(shots):
    """Delete removed `shots` for good (arrange.forget_removed): each at once when none of
    its takes is at the provider; else out of undo's reach, its queued tasks cancelled,
    until the rest end (purge). Their deletion was logged when they were removed
    (arrange.remove), as the remover's: it is not logged again here."""
    for shot in shots:
        takes = Take.objects.filter(shot=shot)
        _stop(takes)
        if takes.working().exists():
            Shot.everywhere.filter(pk=shot.pk).update(deleted_at=timezone.now())
        else:
            with activity.quietly():
                shot.delete()


def purge():
    """Delete the shots and projects deleted while takes of theirs were at the provider,
    now that none is; what those takes cost stays in the ledger. Their deletion was
    logged when asked for, as the asker's, not here (activity.deleted)."""
    working = Take.objects.working()
    shots = Shot.everywhere.deleted().exclude(pk__in=working.values("shot"))
    projects = Project.everywhere.deleted().exclude(pk__in=working.values("shot__project"))
    with activity.quietly():
        for row in [*shots, *projects]:
            row.delete()


def _stop(takes):
    """Cancel what waits of `takes`, and have a worker cancel what is queued."""
    takes.filter(status=Status.WAITING).update(
        status=Status.CANCELLED,
        error="Cancelled: its shot was deleted.",
        finished_at=timezone.now(),
    )
    queued = list(takes.filter(status=Status.QUEUED).values_list("pk", flat=True))
    if queued:
        transaction.on_commit(lambda: async_task("projects.tasks.cancel", queued))


def _note(take, note):
    Take.objects.filter(pk=take.pk).update(note=note)
    take.note = note
