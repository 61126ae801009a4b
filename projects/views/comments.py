"""Comments on shots and verdicts on takes, by members and by review links' holders."""

from django.contrib import messages
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from .. import actions, throttle
from ..forms import CommentForm
from ..models import Take
from .common import timeline_or_redirect, viewer_of


@require_POST
def comment_create(request, shot_id, pk=None, token=None):
    viewer = viewer_of(request, pk, token, action="comment")
    throttle.count(request, viewer, "comment")
    shot = get_object_or_404(viewer.project.shots, pk=shot_id)
    form = CommentForm(request.POST)
    if viewer.link is not None and not viewer.guest_name:
        messages.error(request, "Say your name first, so the team knows who wrote.")
    elif not form.is_valid():
        messages.error(request, form.errors.get("body", ["Write something to comment."])[0])
    else:
        actions.post_comment(viewer, shot, form)
    return timeline_or_redirect(request, viewer)


@require_POST
def take_verdict(request, take_id, pk=None, token=None):
    viewer = viewer_of(request, pk, token, action="review")
    take = get_object_or_404(
        Take, pk=take_id, shot__project=viewer.project, status=Take.Status.DONE
    )
    verdict = request.POST.get("verdict", "")
    who = viewer.user.get_username() if viewer.user else viewer.guest_name
    try:
        actions.give_verdict(take, verdict, who)
    except actions.Refused as refusal:
        messages.error(request, str(refusal))
    return timeline_or_redirect(request, viewer)
