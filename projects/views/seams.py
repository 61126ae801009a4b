"""The seam inspector: the frames that meet where a shot continues, a pick of the pair of
takes that joins best, and the shot's cast as every shot they are in shows them."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from .. import actions, seams
from ..access import project_for
from ..models import Take
from ..timeline import TIMELINE
from .cast import with_posters
from .common import timeline_or_redirect


def _seam(viewer, shot_id):
    """The continuing shot and the shot before it, from the timeline."""
    shots = viewer.project.timeline()
    for before, shot in zip(shots, shots[1:], strict=False):
        if shot.pk == shot_id and shot.continues:
            return before, shot
    raise Http404("That shot does not continue another.")


@login_required
@require_GET
def shot_seam(request, pk, shot_id):
    viewer = project_for(request.user, pk)
    before, shot = _seam(viewer, shot_id)
    pairs = seams.pairs(before, shot)
    # Where the shot before is trimmed, the frame it ends on is the out point's, kept as
    # the start frame of a take made from it; its last frame otherwise.
    out_frames = {
        pair.before.pk: viewer.url("take-file", pair.after.pk, "start-frame")
        for pair in pairs
        if before.trim_out is not None
        and pair.chained
        and pair.after.upstream_out == before.trim_out
        and pair.after.start_frame
    }
    for pair in pairs:
        last = viewer.url("take-file", pair.before.pk, "last-frame")
        pair.end_url = out_frames.get(pair.before.pk, last)
        # None until the worker keeps it: the inspector says so instead.
        pair.start_url = pair.after.first_frame and viewer.url(
            "take-file", pair.after.pk, "first-frame"
        )
    context = {"viewer": viewer, "project": viewer.project, "before": before, "shot": shot}
    # Its cast, each in every shot they are in: a face that drifted across the cuts shows.
    context["cast"] = with_posters(viewer, shot.cast.all())
    return render(request, f"{TIMELINE}#seam-pairs", {**context, "pairs": pairs})


@login_required
@require_POST
def seam_pick(request, pk, shot_id):
    """Put a pair of takes in the cut at once: one of the shot before, one of this shot."""
    viewer = project_for(request.user, pk, "edit")
    before, shot = _seam(viewer, shot_id)
    done = Take.objects.filter(status=Take.Status.DONE, kind=Take.Kind.DRAFT)  # the draft cut
    first = get_object_or_404(done, pk=request.POST.get("before"), shot_id=before.pk)
    second = get_object_or_404(done, pk=request.POST.get("after"), shot_id=shot.pk)
    actions.pick_pair(before, shot, first, second)
    return timeline_or_redirect(request, viewer)
