"""Comments on shots: read a page at a time, and written as on the page, by the same form
and at the same rate (projects.throttle), naming members into their inbox."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from .. import actions, throttle
from ..forms import CommentForm
from ..models import Comment
from .common import Body, Id, answers, form_invalid, paginated, viewer

router = Router(tags=["comments"])


class CommentIn(Body):
    body: str
    # The take it is about (one of the shot's), if any.
    take: Id | None = None


class CommentOut(Schema):
    id: int
    shot: int
    take: int | None
    # A member's username, or a review link's holder's name with "(guest)".
    who: str
    body: str
    created_at: datetime

    @staticmethod
    def resolve_shot(comment):
        return comment.shot_id

    @staticmethod
    def resolve_take(comment):
        return comment.take_id


def _comments(project):
    return (
        Comment.objects.filter(shot__project=project, shot__removed_at=None)
        .select_related("author")
        .order_by("created_at", "pk")
    )


@router.get(
    "/{int:project_id}/comments", response=answers(list[CommentOut]), url_name="comment-list"
)
@paginated
def comment_list(request, project_id: Id, shot: Id | None = None):
    """The project's comments, oldest first; `shot` (an id): that shot's alone."""
    comments = _comments(viewer(request, project_id).project)
    return comments if shot is None else comments.filter(shot=shot)


@router.get(
    "/{int:project_id}/shots/{int:shot_id}/comments",
    response=answers(list[CommentOut]),
    url_name="shot-comments",
)
@paginated
def shot_comments(request, project_id: Id, shot_id: Id):
    """A shot's comments, oldest first."""
    found = viewer(request, project_id)
    shot = get_object_or_404(found.project.shots, pk=shot_id)
    return _comments(found.project).filter(shot=shot)


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/comments",
    response=answers(CommentOut, 201),
    url_name="shot-comments",
)
def comment_create(request, project_id: Id, shot_id: Id, payload: CommentIn):
    """Comment on a shot (at most a prompt's length; `@name` puts it in that member's
    inbox), at most as often as the site allows (429 past it, with Retry-After)."""
    found = viewer(request, project_id, "comment")
    throttle.count(request, found, "comment")
    shot = get_object_or_404(found.project.shots, pk=shot_id)
    form = CommentForm({"body": payload.body, "take": payload.take})
    if not form.is_valid():
        raise form_invalid(form)
    return Status(201, actions.post_comment(found, shot, form))
