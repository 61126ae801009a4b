"""Arranging the timeline: dragging, moving from the keyboard, duplicating, undoing a
delete, and a variant of the whole project."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from .. import arrange
from ..access import project_for
from .common import timeline_or_redirect


@login_required
@require_POST
def shot_order(request, pk):
    """The new order of every shot, as dragging left it: one request, one transaction."""
    viewer = project_for(request.user, pk, "edit")
    try:
        order = [int(pk) for pk in request.POST.getlist("shot")]
        arrange.reorder(viewer.project, order)
    except ValueError:
        messages.error(request, "Send every shot's id, in the new order.")
    except arrange.Refused as refusal:
        messages.error(request, str(refusal))
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_move(request, pk, shot_id):
    """One place up or down: what the keyboard and a page without scripts can do."""
    viewer = project_for(request.user, pk, "edit")
    shot = get_object_or_404(viewer.project.shots, pk=shot_id)
    steps = -1 if request.POST.get("direction") == "up" else 1
    if arrange.move(viewer.project, shot, steps):
        messages.success(request, f"Moved shot {shot.number} to {shot.number + steps}.")
    else:
        messages.info(request, f"Shot {shot.number} is already at that end.")
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_duplicate(request, pk, shot_id):
    viewer = project_for(request.user, pk, "edit")
    shot = get_object_or_404(viewer.project.shots.prefetch_related("references"), pk=shot_id)
    copy = arrange.duplicate(shot, by=request.user)
    messages.success(request, f"Shot {copy.number} is a copy of shot {shot.number}.")
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_undo(request, pk):
    """Put back the shot deleted last, while nothing else has changed since."""
    viewer = project_for(request.user, pk, "edit")
    shot = arrange.undo(viewer.project)
    if shot is None:
        messages.info(request, "Nothing to undo: the project changed since.")
    else:
        messages.success(request, f"Shot {shot.number} is back.")
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def project_variant(request, pk):
    """A copy of the project to try another cut on, its clips shared, not copied."""
    viewer = project_for(request.user, pk, "edit")
    copy = arrange.variant(viewer.project, by=request.user)
    messages.success(
        request, f"“{copy.title}” has the same shots and takes; what changes here stays here."
    )
    return redirect(copy)
