"""Takes: every generation attempt of a shot, with its status, progress, timings, tokens,
error and files; a finished one picked for the cut."""

from datetime import datetime
from typing import Literal

from django.http import Http404
from django.urls import reverse
from ninja import Router, Schema

from .. import actions, pipeline
from ..files import serve
from ..models import Take
from .common import Body, Id, Queued, accepted, answers, paginated, viewer

router = Router(tags=["takes"])

# The files a take may have, by the name its address gives them (as the web's).
FILES = {"video": "video", "last-frame": "last_frame", "poster": "poster"}
FileKind = Literal["video", "last-frame", "poster"]


class TakeFiles(Schema):
    video: str | None = None
    last_frame: str | None = None
    poster: str | None = None


class TakeOut(Schema):
    id: int
    shot: int
    number: int
    kind: str
    status: str
    progress: float
    selected: bool
    tokens: int | None
    seed: int | None
    error: str
    note: str
    verdict: str
    verdict_by: str
    verdict_at: datetime | None
    created_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    generation_seconds: float | None
    duration: float | None
    frames: int | None
    frame_rate: float | None
    files: TakeFiles

    @staticmethod
    def resolve_shot(take):
        return take.shot_id

    @staticmethod
    def resolve_progress(take):
        return take.shown_progress()

    @staticmethod
    def resolve_selected(take):
        return take.pk in (take.shot.selected_take_id, take.shot.selected_final_id)

    @staticmethod
    def resolve_files(take, context):
        request = context["request"]
        project = take.shot.project_id
        return {
            field: request.build_absolute_uri(
                reverse("api-v1:take-file", args=[project, take.pk, kind])
            )
            if getattr(take, field)
            else None
            for kind, field in FILES.items()
        }


def _takes(project):
    # Of the shots the project has now (Take.objects knows nothing of a removed shot).
    return Take.objects.filter(shot__project=project, shot__removed_at=None).select_related("shot")


@router.get(
    "/{int:project_id}/shots/{int:shot_id}/takes",
    response=answers(list[TakeOut]),
    url_name="take-list",
)
@paginated
def take_list(request, project_id: Id, shot_id: Id):
    """A shot's takes, the latest first."""
    project = viewer(request, project_id).project
    if not project.shots.filter(pk=shot_id).exists():
        raise Http404
    return _takes(project).filter(shot=shot_id).order_by("-number", "-pk")


@router.get(
    "/{int:project_id}/takes/{int:take_id}", response=answers(TakeOut), url_name="take-detail"
)
def take_detail(request, project_id: Id, take_id: Id):
    project = viewer(request, project_id).project
    take = _takes(project).filter(pk=take_id).first()
    if take is None:
        raise Http404
    return take


@router.post(
    "/{int:project_id}/takes/{int:take_id}/select",
    response=answers(TakeOut),
    url_name="take-select",
)
def take_select(request, project_id: Id, take_id: Id):
    """Pick a finished take for the cut (a final for the cut of finals, a draft for the
    cut of drafts); staleness moves down its chain."""
    project = viewer(request, project_id, "edit").project
    take = actions.selectable(project, take_id)
    if take is None:
        raise Http404
    actions.select_take(take)  # sets the pick on take.shot too
    return take


@router.get(
    "/{int:project_id}/takes/{int:take_id}/files/{kind}",
    response=answers(None, 200),
    url_name="take-file",
    openapi_extra={"responses": {200: {"description": "The file, or a redirect to it"}}},
)
def take_file(request, project_id: Id, take_id: Id, kind: FileKind):
    """A take's file: `video`, `last-frame` or `poster` (the bytes, honouring Range, or
    a redirect to the storage's own signed link)."""
    project = viewer(request, project_id).project
    take = _takes(project).filter(pk=take_id).first()
    if take is None or kind not in FILES or not getattr(take, FILES[kind]):
        raise Http404
    return serve(request, getattr(take, FILES[kind]))


@router.post(
    "/{int:project_id}/takes/{int:take_id}/send-again",
    response=answers(Queued, 202),
    url_name="take-send-again",
)
def take_send_again(request, project_id: Id, take_id: Id):
    """Send again a take whose create got no sure answer: the gateway may have made it
    already, so only a person decides, knowing it may be billed twice. None is sent
    when it is not waiting to be (the message says so)."""
    project = viewer(request, project_id, "generate").project
    take = _takes(project).filter(pk=take_id).first()
    if take is None:
        raise Http404
    if not pipeline.send_again(take, by=request.user):
        return accepted([], f"Shot {take.shot.number} is not waiting to be sent again.")
    actions.start_pipeline(project)
    return accepted([take])


class VerdictIn(Body):
    """Approve a finished take, or ask for changes."""

    verdict: Literal["approved", "needs_changes"]


@router.post(
    "/{int:project_id}/takes/{int:take_id}/verdict",
    response=answers(TakeOut),
    url_name="take-verdict",
)
def take_verdict(request, project_id: Id, take_id: Id, payload: VerdictIn):
    """A verdict on a finished take, in your name (as a review link's holder gives one)."""
    project = viewer(request, project_id, "review").project
    take = _takes(project).filter(pk=take_id, status=Take.Status.DONE).first()
    if take is None:
        raise Http404
    actions.give_verdict(take, payload.verdict, request.user.get_username())
    return take
