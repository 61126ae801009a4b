"""The printed storyboard (interchange.Board) of a project: planned when it is asked for,
each shot as its panel will show it, kept by the export that prints it (Export.plan), and
read back into a Board, with local copies of the pictures, by the worker that prints it.

It needs no take: before a shot is generated, its panel shows its first frame or a
reference image, and says why it has no picture when it has neither.

The cast a shot names is printed with it (`cast_names`), and their pictures stand in for a
shot not generated yet (`cast_pictures`), and its notes (`notes_of`: the dialogue a script
import gives it) under its prompt.
"""

from contextlib import ExitStack
from types import SimpleNamespace

from django.apps import apps
from django.db.models import prefetch_related_objects
from django.utils import dateformat, timezone
from PIL import Image

from . import interchange
from .cut import NotReady, kind_ready
from .files import local_copy, storage_errors
from .models import Kind, Reference, Take


def cast_names(shot):
    """The names of the cast members `shot` names, in order (the order their pictures go
    to the gateway in). The panel prints them where it would otherwise print the shot's
    references."""
    return [member.name for member in shot.cast_in_order()]


def cast_pictures(shot):
    """The cast's pictures to show for `shot` when it has no take and no first frame: each
    member's first, labelled with their name."""
    return [
        picture(member.thumbnail.file, member.name)
        for member in shot.cast_in_order()
        if member.thumbnail is not None
    ]


def notes_of(shot):
    """The shot's dialogue and notes (Shot.notes), printed under its prompt."""
    return shot.notes or ""


def plan(project, kind=None, shots=None, takes=None):
    """The storyboard as it stands: one entry per shot, in order. A panel's picture is the
    poster of its shot's selected take of `kind` (default: what an export would join),
    else of its selected draft, else `takes[shot.pk]` when given (the takes a bundle
    joins) -- then its first frame, its reference images, its cast's images."""
    shots = project.timeline() if shots is None else shots
    if not shots:
        raise NotReady("Add shots first: the storyboard has none to print.")
    kind = kind or kind_ready(shots)
    prefetch_related_objects(shots, "references")
    return [entry(shot, (takes or {}).get(shot.pk) or _pictured(shot, kind)) for shot in shots]


def entry(shot, take):
    """`shot` as its panel shows it, with `take`'s poster when there is one (None: none)."""
    pictures = []
    if take is not None and take.poster:
        label = f"{'final' if take.is_final else 'take'} {take.number}"
        if take != shot.current_of(take.kind):
            label += " · stale"
        pictures.append(picture(take.poster, label))
    if shot.first_frame:
        pictures.append(picture(shot.first_frame, "first frame"))
    references = list(shot.references.all())
    pictures += [
        picture(reference.file, "reference")
        for reference in references
        if reference.kind == Reference.Kind.IMAGE
    ]
    pictures += cast_pictures(shot)
    transition = shot.transition if shot.transition and not shot.continues else ""
    return {
        "shot": shot.number,
        "take": take.pk if take is not None else None,
        "final": bool(take is not None and take.is_final),
        "prompt": shot.prompt,
        "joins": shot.opening_now,
        "seconds": _seconds(shot, take),
        "transition": transition,
        "pictures": pictures,
        "references": _summary(references),
        "cast": list(cast_names(shot)),
        "notes": notes_of(shot),
    }


def picture(field_file, label):
    """A stored image a panel may show: which field's storage holds it, its name, what it is."""
    return {"field": _field_path(field_file), "name": field_file.name, "label": label}


def board(project, entries, opened: ExitStack, progress=lambda fraction: None):
    """The storyboard of `project` from its planned `entries`, each panel's picture the
    first of its pictures that can still be read, copied here for as long as `opened`;
    `progress` hears after each panel (a worker's lease stays its own)."""
    pictured = [e for e in entries if e.get("take") is not None]
    finals = {e.get("final", False) for e in pictured}
    kind = ("finals" if finals == {True} else "drafts") if len(finals) == 1 else ""
    return interchange.Board(
        title=project.title,
        team=project.team.name,
        date=dateformat.format(timezone.localdate(), "j F Y"),
        ratio=_ratio(project),
        kind=kind,
        panels=[_panel(e, opened, progress, n / len(entries)) for n, e in enumerate(entries)],
    )


def pages(project, count):
    """How many pages the storyboard of `count` shots of `project` takes."""
    return interchange.board_layout(_ratio(project)).pages(count)


def _ratio(project):
    width, height = (int(n) for n in project.ratio.split(":"))
    return width, height


def _panel(entry, opened, progress, done):
    path, label = _readable(entry["pictures"], opened)
    progress(done)
    return interchange.Panel(
        number=entry["shot"],
        prompt=entry["prompt"],
        opening=entry["joins"],
        seconds=entry["seconds"],
        picture=path,
        picture_label=label,
        cast=entry["cast"],
        references=entry["references"],
        notes=entry["notes"],
        transition=entry["transition"],
    )


def _readable(pictures, opened):
    """(local path, label) of the first picture that is still stored and is an image."""
    for stored in pictures:
        try:
            field = SimpleNamespace(storage=_field(stored["field"]).storage, name=stored["name"])
            path = opened.enter_context(local_copy(field))
            with Image.open(path) as image:
                image.verify()
        except (
            LookupError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,  # not an OSError: one such picture is passed over
            *storage_errors(),
        ):
            continue
        return path, stored["label"]
    return None, ""


def _pictured(shot, kind):
    """The take whose poster a panel shows: the selected one of `kind` when finished, else
    the selected draft when finished; None before either is."""
    for each in dict.fromkeys((kind, Kind.DRAFT)):
        take = shot.selected_of(each)
        if take is not None and take.status == Take.Status.DONE and take.poster:
            return take
    return None


def _seconds(shot, take):
    """How long the shot plays: its take's frames between its trims, else its duration."""
    if take is None or not take.frames or not take.frame_rate:
        return float(shot.duration)
    first = min(shot.trim_in, take.frames - 1)
    last = take.frames - 1 if shot.trim_out is None else min(shot.trim_out, take.frames - 1)
    return round((last - first + 1) / take.frame_rate, 3)


def _summary(references):
    """ "2 images, 1 audio": what guides the shot, for a panel with no cast to name."""
    counts = {}
    for reference in references:
        counts[reference.kind] = counts.get(reference.kind, 0) + 1
    return ", ".join(
        f"{n} {kind}{'s' if n > 1 and kind != Reference.Kind.AUDIO else ''}"
        for kind, n in counts.items()
    )


def _field_path(field_file):
    return f"{field_file.instance._meta.label}.{field_file.field.name}"


def _field(path):
    app_model, name = path.rsplit(".", 1)
    return apps.get_model(app_model)._meta.get_field(name)
