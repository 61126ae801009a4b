"""Arranging a project's shots: moving, inserting, duplicating, removing with an undo, and
making a variant of the whole project.

Every change of order is one transaction that locks the project's row first, so two
editors arranging at once are served one after the other, never interleaved. A removed
shot is kept, out of every query of shots, until the project's next change: until then
`undo` puts it back where it was. Staleness needs nothing here: the timeline works it out
from where each take's first frame came from (Project.timeline).
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import activity, pipeline
from .models import CastImage, Project, Reference, Shot, Take


class Refused(Exception):
    """An arrangement that cannot be made; its text says why, for the page."""


def _locked(project):
    return Project.objects.select_for_update().get(pk=project.pk)


def _changed(project):
    """The project's shape changed: a removed shot can no longer come back."""
    forget_removed(project)
    project.touch()


def _renumber(shots):
    for position, shot in enumerate(shots):
        if shot.position != position:
            shot.position = position
            shot.save(update_fields=["position"])


@transaction.atomic
def reorder(project, order):
    """Put the project's shots in `order`, a list of all their ids; Refused when it is not
    exactly those (someone added or removed a shot meanwhile)."""
    _locked(project)
    shots = {shot.pk: shot for shot in project.shots.all()}
    if sorted(order) != sorted(shots):
        raise Refused("The shots changed meanwhile; here they are as they are now.")
    _changed(project)
    _renumber([shots[pk] for pk in order])


def move(project, shot, steps):
    """Move `shot` up (negative `steps`) or down the timeline; False when it cannot go."""
    order = list(project.shots.in_order().values_list("pk", flat=True))
    at = order.index(shot.pk)
    to = at + steps
    if not 0 <= to < len(order):
        return False
    order.insert(to, order.pop(at))
    reorder(project, order)
    return True


@transaction.atomic
def insert(project, shot, at=None):
    """Save the new `shot` at position `at` (None: the end); the shots from there move on."""
    _locked(project)
    _changed(project)
    shots = list(project.shots.in_order())
    at = len(shots) if at is None else max(0, min(at, len(shots)))
    shot.project = project
    shot.position = at
    shot.save()
    _renumber([*shots[:at], shot, *shots[at:]])
    return shot


def duplicate(shot, by=None):
    """A copy of `shot` right after it: its prompt, settings, pictures and references (the
    same files), but no takes: it is there to be made again differently."""
    with transaction.atomic():
        copy = Shot(
            prompt=shot.prompt,
            duration=shot.duration,
            opening=shot.opening,
            first_frame=shot.first_frame.name,
            last_frame_target=shot.last_frame_target.name,
            seed=shot.seed,
            transition=shot.transition,
            transition_frames=shot.transition_frames,
            edited_by=by,
        )
        insert(shot.project, copy, shot.position + 1)
        Reference.objects.bulk_create(
            Reference(shot=copy, position=r.position, kind=r.kind, file=r.file.name)
            for r in shot.references.all()
        )
        copy.cast.set(shot.cast.all())
    return copy


@transaction.atomic
def remove(shot):
    """Take `shot` out of the project, to be had back with `undo` until the next change."""
    project = shot.project
    _locked(project)
    _changed(project)
    # Where it stands now, under the lock: not where it stood when the request read it.
    Shot.objects.filter(pk=shot.pk).update(removed_at=timezone.now(), removed_from=F("position"))
    # Logged now, as the remover's: the row goes later, maybe in the worker (pipeline.purge).
    activity.deleted(Shot.everywhere.get(pk=shot.pk))
    _renumber(list(project.shots.in_order()))


@transaction.atomic
def undo(project):
    """Put back the shot removed last, where it was; None when there is none to put back."""
    _locked(project)
    shot = removed(project)
    if shot is None:
        return None
    shots = list(project.shots.in_order())
    at = min(shot.removed_from or 0, len(shots))
    shot.removed_at = shot.removed_from = None
    shot.save(update_fields=["removed_at", "removed_from"])
    _renumber([*shots[:at], shot, *shots[at:]])
    activity.put_back(shot)
    project.touch()
    return shot


def removed(project):
    """The shot that `undo` would put back, or None."""
    return Shot.everywhere.filter(project=project).removed().order_by("-removed_at").first()


def forget_removed(project):
    """Delete for good the shots removed from `project` (and their takes); one whose takes
    are still at the provider goes once they end (pipeline.forget)."""
    pipeline.forget(Shot.everywhere.filter(project=project).removed())


def _cast_moved(inputs, cast):
    """A take's inputs naming the copies of its cast members: made from the same inputs."""
    if not inputs.get("cast"):
        return inputs
    # A member deleted since is no one's: the take stays as stale as it was.
    moved = [
        {**member, "id": cast[member["id"]].pk if member["id"] in cast else None}
        for member in inputs["cast"]
    ]
    return {**inputs, "cast": moved}


def _copy_cast(project, copy):
    """The project's cast in `copy`, pointing at the same pictures: {old pk: new member}."""
    made = {}
    for member in project.cast.prefetch_related("images"):
        images = member.image_list()
        old = member.pk
        member.pk = member.id = None
        member._state.adding = True
        member.project = copy
        member.save()
        CastImage.objects.bulk_create(
            CastImage(member=member, position=i.position, file=i.file.name) for i in images
        )
        made[old] = member
    return made


@transaction.atomic
def variant(project, by, title=None):
    """A new project in the same team with the same settings and shots, whose takes are the
    same clips: new rows that point at the files already stored, so nothing is copied,
    generated or billed again. Only finished takes come along."""
    copy = Project.objects.get(pk=project.pk)
    copy.pk = copy.id = None
    copy._state.adding = True
    copy.title = title or f"{project.title} (variant)"
    copy.created_by = copy.edited_by = by
    copy.version = 1
    copy.save()
    cast = _copy_cast(project, copy)
    takes = {}  # the original take's id: its copy
    selected = []
    for shot in project.shots.in_order():
        old_take, old_references = shot.selected_take_id, list(shot.references.all())
        old_final = shot.selected_final_id
        old_cast = [cast[member.pk] for member in shot.cast.all()]
        originals = list(shot.takes.filter(status=Take.Status.DONE).order_by("number"))
        shot.pk = shot.id = None
        shot._state.adding = True
        shot.project, shot.selected_take, shot.version, shot.edited_by = copy, None, 1, by
        shot.selected_final = None
        shot.save()
        Reference.objects.bulk_create(
            Reference(shot=shot, position=r.position, kind=r.kind, file=r.file.name)
            for r in old_references
        )
        shot.cast.set(old_cast)
        for take in originals:
            original = take.pk
            take.pk = take.id = None
            take._state.adding = True
            take.shot = shot
            take.upstream_take = takes.get(take.upstream_take_id)
            take.remote_id, take.fingerprint, take.tokens = "", "", None
            take.note = f"The same clip as take {take.number} of {project.title}."
            take.requested_by = by
            take.inputs = _cast_moved(take.inputs, cast)
            take.save()
            takes[original] = take
        for old in (old_take, old_final):  # the draft and the final in their cuts
            if old in takes:
                selected.append((shot.pk, takes[old]))
    for shot_id, take in selected:
        Shot.objects.filter(pk=shot_id).update(**{take.selection_field(): take})
    return copy
