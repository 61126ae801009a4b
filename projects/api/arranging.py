"""Arranging a project as the web's timeline does: a shot moved by steps, duplicated,
trimmed, a held continue released, the pair of takes that joins a seam best listed and
picked; the last deletion undone, a variant made, the project moved to another team.
Each does what the web's does, in its words (projects.actions, projects.arrange)."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from .. import actions, arrange, seams, throttle
from ..models import Take
from .common import ApiError, Body, Id, Number, answers, paginated, team, viewer
from .projects import ProjectOut
from .shots import ShotOut, _found, _shot

router = Router(tags=["arranging"])


class ShotDone(Schema):
    """What was done, in the web's words, and the shot as it is now."""

    message: str
    shot: ShotOut


class Steps(Body):
    """How many places to move: up (negative) or down."""

    steps: Number


class Trim(Body):
    """The frames of the selected take that play in the cut, both kept (0-based)."""

    trim_in: Number
    trim_out: Number


class Out(Body):
    """The frame of the shot before to continue from."""

    out: Number


class PairOut(Schema):
    """A pair of finished takes meeting at a seam: how far apart their frames are (the
    smallest first), whether the later was made from the earlier, whether both are in
    the cut."""

    before: int
    after: int
    difference: float
    chained: bool
    in_cut: bool

    @staticmethod
    def resolve_before(pair):
        return pair.before.pk

    @staticmethod
    def resolve_after(pair):
        return pair.after.pk


class PairIn(Body):
    """A take of the shot before and one of the continuing shot, both finished drafts."""

    before: Id
    after: Id


class TeamIn(Body):
    team: Id


def _seam(project, shot_id):
    """The continuing shot and the shot before it, from the timeline (as the web's)."""
    shots = project.timeline()
    for before, shot in zip(shots, shots[1:], strict=False):
        if shot.pk == shot_id and shot.continues:
            return before, shot
    raise Http404


def _done(project, shot_id, message, status=200):
    return Status(status, {"message": message, "shot": _shot(project, shot_id)})


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/move",
    response=answers(ShotDone),
    url_name="shot-move",
)
def shot_move(request, project_id: Id, shot_id: Id, payload: Steps):
    """Move a shot `steps` places up (negative) or down; one already at that end stays."""
    project = viewer(request, project_id, "edit").project
    shot = _found(project, shot_id)
    if arrange.move(project, shot, payload.steps):
        message = f"Moved shot {shot.number} to {shot.number + payload.steps}."
    else:
        message = f"Shot {shot.number} is already at that end."
    return _done(project, shot_id, message)


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/duplicate",
    response=answers(ShotDone, 201),
    url_name="shot-duplicate",
)
def shot_duplicate(request, project_id: Id, shot_id: Id):
    """A copy of the shot right after it, with no takes: the copy."""
    project = viewer(request, project_id, "edit").project
    shot = get_object_or_404(project.shots.prefetch_related("references"), pk=shot_id)
    copy = arrange.duplicate(shot, by=request.user)
    return _done(project, copy.pk, f"Shot {copy.number} is a copy of shot {shot.number}.", 201)


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/trim",
    response=answers(ShotDone),
    url_name="shot-trim",
)
def shot_trim(request, project_id: Id, shot_id: Id, payload: Trim):
    """Set the frames of the shot's selected take that play in the cut (409 saying
    which frames there are, or that it has no finished take)."""
    project = viewer(request, project_id, "edit").project
    shot = get_object_or_404(project.shots.select_related("selected_take"), pk=shot_id)
    message = actions.trim(shot, payload.trim_in, payload.trim_out)
    return _done(project, shot_id, message)


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/release",
    response=answers(ShotDone, 202),
    url_name="shot-release",
)
def shot_release(request, project_id: Id, shot_id: Id, payload: Out):
    """Continue a shot the seam guard holds from a frame near the end of the shot
    before, which then ends there (409 when it is not held, or the frame is not one)."""
    seen = viewer(request, project_id, "generate")
    throttle.count(request, seen, "generate")
    shot = _found(seen.project, shot_id)
    message = actions.release(seen.project, shot, payload.out)
    if message is None:
        raise ApiError(409, "refused", f"Shot {shot.number} is not held.")
    return _done(seen.project, shot_id, message, 202)


@router.get(
    "/{int:project_id}/shots/{int:shot_id}/seam",
    response=answers(list[PairOut]),
    url_name="shot-seam",
)
@paginated
def seam_pairs(request, project_id: Id, shot_id: Id):
    """Where a shot continues another: every pair of finished takes that meets at the
    seam, best joined first (404 for a shot that continues none)."""
    project = viewer(request, project_id).project
    return seams.pairs(*_seam(project, shot_id))


@router.post(
    "/{int:project_id}/shots/{int:shot_id}/seam",
    response=answers(list[ShotOut]),
    url_name="shot-seam",
)
def seam_pick(request, project_id: Id, shot_id: Id, payload: PairIn):
    """Put a pair of finished drafts in the cut at once: one of the shot before, one of
    this shot. Both shots, as they are now."""
    project = viewer(request, project_id, "edit").project
    before, shot = _seam(project, shot_id)
    done = Take.objects.filter(status=Take.Status.DONE, kind=Take.Kind.DRAFT)
    first = get_object_or_404(done, pk=payload.before, shot_id=before.pk)
    second = get_object_or_404(done, pk=payload.after, shot_id=shot.pk)
    actions.pick_pair(before, shot, first, second)
    now = {each.pk: each for each in project.timeline()}  # read once, for both
    return [now[before.pk], now[shot.pk]]


@router.post("/{int:project_id}/shots/undo", response=answers(ShotDone), url_name="shot-undo")
def shot_undo(request, project_id: Id):
    """Put back the shot deleted last, while nothing else has changed since (409 when
    there is nothing to undo)."""
    project = viewer(request, project_id, "edit").project
    shot = arrange.undo(project)
    if shot is None:
        raise ApiError(409, "refused", "Nothing to undo: the project changed since.")
    return _done(project, shot.pk, f"Shot {shot.number} is back.")


@router.post(
    "/{int:project_id}/variant", response=answers(ProjectOut, 201), url_name="project-variant"
)
def project_variant(request, project_id: Id):
    """A copy of the project to try another cut on, its clips shared, not copied."""
    project = viewer(request, project_id, "edit").project
    return Status(201, arrange.variant(project, by=request.user))


@router.post("/{int:project_id}/move", response=answers(ProjectOut), url_name="project-move")
def project_move(request, project_id: Id, payload: TeamIn):
    """Move the project to another team: from a team you own to one where you make
    projects (409 saying so otherwise); the token must reach both."""
    project = viewer(request, project_id, "edit").project
    target, _ = team(request, payload.team)
    return actions.move_project(request.user, project, target)
