"""Comments on shots and verdicts on takes, by members and by review links' holders."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_POST

from .. import throttle, webhooks
from ..models import MAX_PROMPT, Comment, Mention, Take, Verdict
from .common import timeline_or_redirect, viewer_of


class CommentForm(forms.Form):
    # A comment may carry a whole prompt for the shot, a reviewer's rewrite: as long as
    # a prompt may be (models.MAX_PROMPT, where the gateways' documents justify it).
    body = forms.CharField(
        max_length=MAX_PROMPT,
        strip=True,
        error_messages={
            "required": "Write something to comment.",
            "max_length": "A comment of at most %(limit_value)d characters, please.",
        },
    )
    take = forms.IntegerField(required=False)


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
        post(viewer, shot, form)
    return timeline_or_redirect(request, viewer)


def post(viewer, shot, form):
    """The comment a valid CommentForm says, on `shot`, by whoever `viewer` is; the members
    it names find it in their inbox, and the live timeline shows it."""
    take = shot.takes.filter(pk=form.cleaned_data["take"]).first()
    with transaction.atomic():
        comment = Comment.objects.create(
            shot=shot,
            take=take,
            author=viewer.user,
            guest_name=viewer.guest_name if viewer.link else "",
            link=viewer.link,
            body=form.cleaned_data["body"],
        )
        mention(comment, viewer.project)
        shot.save(update_fields=[])  # its card changed: the live timeline says so
        webhooks.comment_created(comment)
    return comment


def mention(comment, project):
    """Put the comment in the inbox of every member of the project's team it names."""
    names = comment.mentioned_names()
    if not names:
        return
    members = get_user_model().objects.filter(username__in=names, memberships__team=project.team_id)
    Mention.objects.bulk_create(
        [Mention(comment=comment, user=user) for user in members if user != comment.author]
    )


@require_POST
def take_verdict(request, take_id, pk=None, token=None):
    viewer = viewer_of(request, pk, token, action="review")
    take = get_object_or_404(
        Take, pk=take_id, shot__project=viewer.project, status=Take.Status.DONE
    )
    verdict = request.POST.get("verdict", "")
    who = viewer.user.get_username() if viewer.user else viewer.guest_name
    if verdict not in Verdict.values or not who:
        messages.error(request, "Say your name, then approve or ask for changes.")
    else:
        take.verdict, take.verdict_by, take.verdict_at = verdict, who, timezone.now()
        take.save(update_fields=["verdict", "verdict_by", "verdict_at"])
    return timeline_or_redirect(request, viewer)
