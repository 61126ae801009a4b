"""A project's shots: listed in order, added, read, edited (with the version read, so
no one's change is overwritten), deleted, put in a new order, made again."""

from django.http import Http404
from ninja import File, Form, Router, Schema, Status, UploadedFile

from .. import actions, arrange, throttle
from ..forms import NewShotForm, ShotForm
from .common import (
    ApiError,
    Body,
    Id,
    Number,
    Queued,
    accepted,
    answers,
    form_data,
    form_invalid,
    paginated,
    viewer,
)

router = Router(tags=["shots"])


class ShotOut(Schema):
    id: int
    number: int
    position: int
    prompt: str
    notes: str
    duration: int
    opening: str
    transition: str
    transition_frames: int
    seed: int | None
    cast: list[int]
    has_first_frame: bool
    has_last_frame_target: bool
    chain: int
    stale: bool
    stale_reason: str
    final_stale: bool
    selected_take: int | None
    selected_final: int | None
    trim_in: int
    trim_out: int | None
    version: int

    @staticmethod
    def resolve_cast(shot):
        if getattr(shot, "without_cast", False):  # the timeline knows: no query
            return []
        return sorted(member.pk for member in shot.cast.all())

    @staticmethod
    def resolve_has_first_frame(shot):
        return bool(shot.first_frame)

    @staticmethod
    def resolve_has_last_frame_target(shot):
        return bool(shot.last_frame_target)

    @staticmethod
    def resolve_stale_reason(shot):
        return shot.stale_reason or ""

    @staticmethod
    def resolve_selected_take(shot):
        return shot.selected_take_id

    @staticmethod
    def resolve_selected_final(shot):
        return shot.selected_final_id


class ShotFields(Body):
    """What a shot's form takes, new or changed (those left out: see each)."""

    prompt: str | None = None
    notes: str | None = None
    duration: Number | None = None
    opening: str | None = None
    transition: str | None = None
    transition_frames: Number | None = None
    seed: Number | None = None
    cast: list[Id] | None = None


class ShotIn(ShotFields):
    """A new shot; `at`, the 0-based place it goes before (the end when left out).
    Fields left out take the web form's first values (the first shot a cut, later ones
    continuing)."""

    at: Number | None = None


class ShotChange(ShotFields):
    """What to change (the rest stays); `version`, the shot's as you read it, to be
    refused (409) rather than overwrite a change someone made since."""

    version: Number | None = None


class Order(Body):
    """Every shot's id, in the new order."""

    shots: list[Id]


def _shots(project):
    return project.timeline()


def _shot(project, shot_id):
    shot = next((s for s in _shots(project) if s.pk == shot_id), None)
    if shot is None:
        raise Http404
    return shot


@router.get("/{int:project_id}/shots", response=answers(list[ShotOut]), url_name="shot-list")
@paginated
def shot_list(request, project_id: Id):
    """The shots in order, each with its chain and whether it is stale."""
    return _shots(viewer(request, project_id).project)


@router.post("/{int:project_id}/shots", response=answers(ShotOut, 201), url_name="shot-list")
def shot_create(request, project_id: Id, payload: ShotIn):
    project = viewer(request, project_id, "edit").project
    count = project.shots.count()
    given = payload.dict(exclude_unset=True)
    at = NewShotForm.place(given, count)
    first = at == 0
    unbound = NewShotForm(
        project=project, first=first, count=count, initial=NewShotForm.initial_for(first)
    )
    data = form_data(unbound, given)
    form = NewShotForm(data, project=project, first=first, count=count)
    if not form.is_valid():
        raise form_invalid(form)
    shot = actions.create_shot(project, form, at, request.user)
    return Status(201, _shot(project, shot.pk))


@router.get(
    "/{int:project_id}/shots/{int:shot_id}", response=answers(ShotOut), url_name="shot-detail"
)
def shot_detail(request, project_id: Id, shot_id: Id):
    return _shot(viewer(request, project_id).project, shot_id)


@router.patch(
    "/{int:project_id}/shots/{int:shot_id}", response=answers(ShotOut), url_name="shot-detail"
)
def shot_update(request, project_id: Id, shot_id: Id, payload: ShotChange):
    """Edit a shot: one edit, as the web's form saves it (a stale one says so)."""
    project = viewer(request, project_id, "edit").project
    shot = _found(project, shot_id)
    first = shot.position == 0
    unbound = ShotForm(instance=shot, project=project, first=first)
    data = form_data(unbound, payload.dict(exclude_unset=True))
    form = ShotForm(data, instance=shot, project=project, first=first)
    if not form.is_valid():
        raise form_invalid(form)
    actions.edit_shot(project, form, request.user)
    return _shot(project, shot_id)


def _found(project, shot_id):
    shot = project.shots.filter(pk=shot_id).first()
    if shot is None:
        raise Http404
    return shot


@router.delete(
    "/{int:project_id}/shots/{int:shot_id}", response=answers(None, 204), url_name="shot-detail"
)
def shot_delete(request, project_id: Id, shot_id: Id):
    """Delete a shot (the web offers to undo it until the project's next change)."""
    project = viewer(request, project_id, "edit").project
    arrange.remove(_found(project, shot_id))
    return Status(204, None)


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/pictures",
    response=answers(ShotOut),
    url_name="shot-pictures",
)
def shot_pictures(
    request,
    project_id: Id,
    shot_id: Id,
    first_frame: File[UploadedFile] = None,
    last_frame_target: File[UploadedFile] = None,
    references: File[list[UploadedFile]] = None,
    remove_references: Form[bool] = False,
    version: Form[Number | None] = None,
):
    """A shot's pictures, sent as multipart/form-data: a first frame of its own (a cut's),
    a last-frame target, references (images, videos and audio, replacing its own); or
    `remove_references`. Judged by the web's form, so what it refuses (a continue with a
    first frame, a file too large) it refuses in its words."""
    project = viewer(request, project_id, "edit").project
    shot = _found(project, shot_id)
    first = shot.position == 0
    unbound = ShotForm(instance=shot, project=project, first=first)
    given = {"remove_references": remove_references}
    if version is not None:
        given["version"] = version
    data = form_data(unbound, given)
    form = ShotForm(data, request.FILES, instance=shot, project=project, first=first)
    if not form.is_valid():
        raise form_invalid(form)
    actions.edit_shot(project, form, request.user)
    return _shot(project, shot_id)


@router.put("/{int:project_id}/shots/order", response=answers(list[ShotOut]), url_name="shot-order")
def shot_order(request, project_id: Id, payload: Order):
    """A new order of every shot, in one transaction; the shots in it."""
    project = viewer(request, project_id, "edit").project
    try:
        arrange.reorder(project, payload.shots)
    except arrange.Refused as refusal:
        raise ApiError(409, "conflict", str(refusal)) from None
    return _shots(project)


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/regenerate",
    response=answers(Queued, 202),
    url_name="shot-regenerate",
)
def shot_regenerate(request, project_id: Id, shot_id: Id, rest_of_chain: bool = False):
    """A new take of the shot (?rest_of_chain=true: and of the rest of its chain, which
    it makes stale); none while one is on its way."""
    seen = viewer(request, project_id, "generate")
    throttle.count(request, seen, "generate")
    shot = _found(seen.project, shot_id)
    shot.project = seen.project
    queued = (actions.regenerate_from if rest_of_chain else actions.regenerate)(shot, request.user)
    return accepted(queued, f"Shot {shot.number} is already being generated.")
