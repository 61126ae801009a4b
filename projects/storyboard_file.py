"""The storyboard file (JSON): a project's shots and settings, to import and export."""

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import FileResponse, HttpResponse

from . import cast as casting
from . import media, pipeline, uploads
from .files import fitted_upload
from .models import (
    ASSUMED_RATE,
    MAX_DURATION,
    MAX_PROMPT,
    MIN_DURATION,
    RATIOS,
    RESOLUTIONS,
    CastImage,
    CastMember,
    Opening,
    Project,
    Reference,
    Shot,
    Team,
    Transition,
)
from .models.cast import (
    MAX_DESCRIPTION,
    MAX_IMAGES,
    MAX_NAME,
    NAME_PATTERN,
)
from .models.projects import MAX_NOTES
from .providers import MAX_IMAGE_BYTES, SEED_PROBLEM, SEEDS

SETTINGS = {"model", "draft_model", "resolution", "ratio", "generate_audio", "watermark"}
IMAGES = ("first_frame", "last_frame_target")
# The storyboard file's name inside a bundle.
BUNDLED = "storyboard.json"


class StoryboardError(ValueError):
    pass


def load(path, owner, team=None):
    """Create a project from a storyboard file in `team` (the owner's personal team by
    default); frames and references are relative to it.

    A zip bundle (what `bundle` makes) holds the file as storyboard.json beside them.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as folder:
            return load(_unpack(path, Path(folder)), owner, team)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoryboardError(f"{path}: cannot read it as JSON ({exc})") from exc
    spec = _validate(data, path.parent)
    with transaction.atomic():
        project = Project.objects.create(
            title=spec["title"],
            team=team or Team.default_for(owner),
            created_by=owner,
            **spec["settings"],
        )
        cast = {}
        for member_spec in spec["cast"]:
            images = member_spec.pop("images")
            member = CastMember.objects.create(project=project, **member_spec)
            for number, path in enumerate(images):
                _attach(CastImage(member=member, position=number).file, path, image=True, save=True)
            cast[member.name.lower()] = member
        for position, shot_spec in enumerate(spec["shots"]):
            images = {name: shot_spec.pop(name, None) for name in IMAGES}
            references = shot_spec.pop("references", [])
            named = shot_spec.pop("cast", [])
            shot = Shot(project=project, position=position, **shot_spec)
            for name, path in images.items():
                _attach(getattr(shot, name), path, image=True)
            shot.save()
            casting.set_cast(shot, [cast[name.lower()] for name in named])
            for number, (kind, file) in enumerate(references):
                reference = Reference(shot=shot, position=number, kind=kind)
                _attach(reference.file, file, image=kind == Reference.Kind.IMAGE, save=True)
        # Refuse now what the provider would refuse later: the settings (for drafts and
        # finals), then shot by shot.
        general = pipeline.settings_problems(project)
        refused = [f"settings: {problem}" for problem in general] + [
            f"shot {shot.number}: {problem}"
            for shot in project.shots.in_order()
            for problem in pipeline.problems(shot)
            if problem not in general
        ]
        if refused:
            transaction.set_rollback(True)
            raise StoryboardError("The provider would refuse:\n  " + "\n  ".join(refused))
    return project


def _validate(data, base):
    if not isinstance(data, dict):
        raise StoryboardError("The storyboard must be a JSON object.")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise StoryboardError('"title" must be a non-empty string.')
    settings = data.get("settings") or {}
    unknown = set(settings) - SETTINGS
    if unknown:
        raise StoryboardError(f'"settings" has unknown keys: {", ".join(sorted(unknown))}.')
    _choice(settings, "resolution", RESOLUTIONS)
    _choice(settings, "ratio", RATIOS)
    shots = data.get("shots")
    if not isinstance(shots, list) or not shots:
        raise StoryboardError('"shots" must be a non-empty list.')
    cast = _cast(data.get("cast"), base)
    names = {member["name"].lower() for member in cast}
    cleaned = []
    for number, shot in enumerate(shots, start=1):
        where = f"shot {number}"
        if not isinstance(shot, dict) or not str(shot.get("prompt", "")).strip():
            raise StoryboardError(f'{where}: "prompt" is required.')
        if len(str(shot["prompt"])) > MAX_PROMPT:
            raise StoryboardError(f'{where}: "prompt" is longer than {MAX_PROMPT} characters.')
        duration = shot.get("duration", 5)
        if not isinstance(duration, int) or not MIN_DURATION <= duration <= MAX_DURATION:
            raise StoryboardError(
                f'{where}: "duration" must be whole seconds from {MIN_DURATION} to {MAX_DURATION}.'
            )
        opening = shot.get("opening", Opening.CUT if number == 1 else Opening.CONTINUE)
        if opening not in Opening.values:
            raise StoryboardError(f'{where}: "opening" must be "cut" or "continue".')
        if number == 1 and opening == Opening.CONTINUE:
            raise StoryboardError("shot 1: the first shot cannot continue; make it a cut.")
        item = {"prompt": shot["prompt"], "duration": duration, "opening": opening}
        notes = shot.get("notes", "")
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            raise StoryboardError(
                f'{where}: "notes" must be text of at most {MAX_NOTES} characters.'
            )
        if notes:
            item["notes"] = notes
        item.update(_trim(shot.get("trim"), duration, where))
        item.update(_transition(shot.get("transition"), opening, number, where))
        seed = shot.get("seed")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed not in SEEDS:
                raise StoryboardError(f'{where}: "seed" {seed!r}: {SEED_PROBLEM}')
            if seed != -1:  # -1 asks for one drawn at random, as no seed does
                item["seed"] = seed
        if shot.get("first_frame"):
            if opening == Opening.CONTINUE:
                raise StoryboardError(
                    f'{where}: a "continue" shot cannot have its own first_frame.'
                )
            image = _existing(base, shot["first_frame"], f"{where}: first_frame", "image")
            item["first_frame"] = image
        # The picture a shot ends on; files written before it had this name say last_frame.
        target = shot.get("last_frame_target") or shot.get("last_frame")
        if target:
            item["last_frame_target"] = _existing(
                base, target, f"{where}: last_frame_target", "image"
            )
        references = shot.get("references") or []
        if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
            raise StoryboardError(f'{where}: "references" must be a list of file paths.')
        item["references"] = [_reference(base, name, where) for name in references]
        named = shot.get("cast") or []
        if not isinstance(named, list) or not all(isinstance(n, str) for n in named):
            raise StoryboardError(f'{where}: "cast" must be a list of cast names.')
        strangers = [n for n in named if n.lower() not in names]
        if strangers:
            raise StoryboardError(
                f'{where}: "cast" names {", ".join(strangers)}, not in the file\'s "cast".'
            )
        item["cast"] = named
        cleaned.append(item)
    return {"title": title.strip(), "settings": settings, "shots": cleaned, "cast": cast}


def _cast(cast, base):
    """The file's cast, checked: a name usable as @Name once, a kind, a description, and
    at most 4 images (none yet, for a cast a script made) that exist and are pictures."""
    if cast is None:
        return []
    if not isinstance(cast, list):
        raise StoryboardError('"cast" must be a list of cast members.')
    cleaned, seen = [], set()
    for number, member in enumerate(cast, start=1):
        where = f"cast member {number}"
        if not isinstance(member, dict):
            raise StoryboardError(f"{where} must be an object.")
        name = member.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > MAX_NAME:
            raise StoryboardError(
                f'{where}: "name" must be letters, digits, _ or - (usable as @Name), '
                f"at most {MAX_NAME} characters."
            )
        if name.lower() in seen:
            raise StoryboardError(f"{where}: {name} is in the cast twice.")
        seen.add(name.lower())
        where = f"cast member {name}"
        kind = member.get("kind", CastMember.Kind.CHARACTER)
        if kind not in CastMember.Kind.values:
            raise StoryboardError(f'{where}: "kind" must be one of {", ".join(CastMember.Kind)}.')
        description = member.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise StoryboardError(
                f'{where}: "description" must be text of at most {MAX_DESCRIPTION} characters.'
            )
        images = member.get("images")
        if (
            not isinstance(images, list)
            # None yet is allowed: a script's import makes its cast without pictures.
            or not 0 <= len(images) <= MAX_IMAGES
            or not all(isinstance(i, str) for i in images)
        ):
            raise StoryboardError(f'{where}: "images" must list at most {MAX_IMAGES} image files.')
        paths = []
        for image in images:
            path = _existing(base, image, f"{where}: image", "image")
            with path.open("rb") as f:
                try:
                    media.open_image(f, settings.MAX_IMAGE_PIXELS, f"{where}: {path}")
                except media.MediaError as error:
                    raise StoryboardError(str(error)) from error
            paths.append(path)
        cleaned.append({"name": name, "kind": kind, "description": description, "images": paths})
    return cleaned


def _trim(trim, duration, where):
    """ "trim": [in_seconds, out_seconds] as the shot's in and out frames."""
    if trim is None:
        return {}
    if (
        not isinstance(trim, list)
        or len(trim) != 2
        or not all(isinstance(t, int | float) and not isinstance(t, bool) for t in trim)
        or not 0 <= trim[0] < trim[1] <= duration
    ):
        raise StoryboardError(
            f'{where}: "trim" must be [in, out] in seconds, 0 <= in < out <= {duration}.'
        )
    # A new shot has no clip yet: its trim is counted in frames at Seedance's rate.
    first, last = round(trim[0] * ASSUMED_RATE), round(trim[1] * ASSUMED_RATE) - 1
    return {"trim_in": first, "trim_out": None if last >= duration * ASSUMED_RATE - 1 else last}


def _transition(transition, opening, number, where):
    """ "transition": {"kind": "crossfade" or "dip", "frames": N} into a later cut."""
    if transition is None:
        return {}
    kinds = Transition.values
    if (
        not isinstance(transition, dict)
        or transition.get("kind") not in kinds
        or not isinstance(transition.get("frames", 12), int)
        or not 2 <= transition.get("frames", 12) <= 72
    ):
        raise StoryboardError(
            f'{where}: "transition" must be {{"kind": "crossfade" or "dip", "frames": 2-72}}.'
        )
    if opening == Opening.CONTINUE or number == 1:
        raise StoryboardError(f"{where}: only a cut after the first shot enters with a transition.")
    return {"transition": transition["kind"], "transition_frames": transition.get("frames", 12)}


def _existing(base, name, what, kind=None):
    """The file's path, if it is in the storyboard file's folder (a shared bundle may not
    reach beyond it, into the server's other files), exists and is no larger than a
    `kind` may be uploaded."""
    path = base / name
    if not path.resolve().is_relative_to(base.resolve()):
        raise StoryboardError(f"{what} {name} is outside the storyboard file's folder.")
    if not path.is_file():
        raise StoryboardError(f"{what} {path} does not exist.")
    problem = uploads.too_large(path.stat().st_size, kind, f"{what} {path}")
    if problem:
        raise StoryboardError(problem)
    return path


def _reference(base, name, where):
    """(kind, path) of a reference file, its kind told from its content."""
    path = _existing(base, name, f"{where}: reference")
    what = f"{where}: reference {path}"
    with path.open("rb") as f:
        try:
            kind = media.kind_of(f, settings.MAX_IMAGE_PIXELS, name=what)
        except media.MediaError as error:
            raise StoryboardError(str(error)) from error
    problem = uploads.too_large(path.stat().st_size, kind, what)
    if problem:
        raise StoryboardError(problem)
    return kind, path


def _attach(field_file, path, image=False, save=False):
    """Copy the file at `path`, if any, into a model's file field; an image fitted to
    every provider's limits, as the shot form stores it."""
    if path is None:
        return
    with path.open("rb") as f:
        content = File(f, name=path.name)
        if image:
            try:
                content = fitted_upload(content, MAX_IMAGE_BYTES)
            except media.MediaError as error:
                raise StoryboardError(f"{path}: {error}") from error
        field_file.save(content.name, content, save=save)


def _choice(settings, key, choices):
    if key in settings and settings[key] not in dict(choices):
        allowed = ", ".join(dict(choices))
        raise StoryboardError(f"settings.{key} must be one of {allowed}, not {settings[key]!r}.")


def _unpack(path, folder):
    """Extract a bundle into `folder`, refusing names that would land outside it."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if BUNDLED not in names:
            raise StoryboardError(f"{path}: a storyboard bundle needs {BUNDLED} at its top.")
        for info in archive.infolist():
            name = info.filename
            if not (folder / name).resolve().is_relative_to(folder.resolve()):
                raise StoryboardError(f"{path}: {name!r} points outside the bundle.")
            # What a member says it unpacks to is all it may: refused before unpacking.
            problem = uploads.too_large(info.file_size, name=f"{path}: {name!r}")
            if problem:
                raise StoryboardError(problem)
        archive.extractall(folder)
    return folder / BUNDLED


def files(project):
    """The stored frames and references a project's storyboard file names."""
    found = [
        image.file
        for member in project.cast.prefetch_related("images")
        for image in member.image_list()
    ]
    for shot in project.shots.in_order().prefetch_related("references"):
        found += [f for f in (shot.first_frame, shot.last_frame_target) if f]
        found += [reference.file for reference in shot.references.all()]
    return found


def write(project, path):
    """Write the storyboard file at `path`, and the files it names beside it (each at the
    path the file gives it), so `load` reads it back: the number of files written."""
    path = Path(path)
    folder = path.resolve().parent
    stored_files = files(project)
    for stored in stored_files:
        target = folder / stored.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with stored.open("rb") as f, target.open("wb") as out:
            shutil.copyfileobj(f, out)
    path.write_text(json.dumps(dump(project), indent=2, ensure_ascii=False) + "\n")
    return len(stored_files)


def bundle(project, stored_files):
    """The storyboard file and the files it names (`files(project)`), as a zip in a
    rewound temporary file.

    Inside, each file keeps its stored name, the path the storyboard file gives it, so
    `load` reads the bundle back as it is.
    """
    out = tempfile.TemporaryFile()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(BUNDLED, json.dumps(dump(project), indent=2))
        for stored in stored_files:
            # Images and media are compressed already: stored as they are.
            with stored.open("rb") as f, archive.open(stored.name, "w") as entry:
                shutil.copyfileobj(f, entry)
    out.seek(0)
    return out


def dump(project):
    """The project as a storyboard file, naming frames and references by stored names."""
    settings = {
        "resolution": project.resolution,
        "ratio": project.ratio,
        "generate_audio": project.generate_audio,
        "watermark": project.watermark,
    }
    if project.model:
        settings["model"] = project.model
    if project.draft_model:
        settings["draft_model"] = project.draft_model
    shots = []
    shot_list = project.shots.in_order().select_related("selected_take")
    for shot in shot_list.prefetch_related("cast__images", "references"):
        item = {"prompt": shot.prompt, "duration": shot.duration, "opening": shot.opening_now}
        if shot.notes:
            item["notes"] = shot.notes
        if shot.first_frame:
            item["first_frame"] = shot.first_frame.name
        if shot.last_frame_target:
            item["last_frame_target"] = shot.last_frame_target.name
        references = [reference.file.name for reference in shot.references.all()]
        if references:
            item["references"] = references
        named = [member.name for member in shot.cast_in_order()]
        if named:
            item["cast"] = named
        if shot.seed is not None:
            item["seed"] = shot.seed
        if shot.trim_in or shot.trim_out is not None:
            # In seconds, from frames of the clip they were set on.
            rate = shot.selected_take.rate if shot.selected_take else ASSUMED_RATE
            end = shot.duration if shot.trim_out is None else (shot.trim_out + 1) / rate
            item["trim"] = [round(shot.trim_in / rate, 4), round(end, 4)]
        if shot.transition and not shot.continues:
            item["transition"] = {"kind": shot.transition, "frames": shot.transition_frames}
        shots.append(item)
    board = {"title": project.title, "settings": settings, "shots": shots}
    cast = [
        {
            "name": member.name,
            "kind": member.kind,
            "description": member.description,
            "images": [image.file.name for image in member.image_list()],
        }
        for member in project.cast.prefetch_related("images")
    ]
    if cast:
        board["cast"] = cast
    return board


def response(project):
    """The storyboard file as a download: JSON, or a zip with the files it names."""
    stored_files = files(project)
    if stored_files:
        return FileResponse(
            bundle(project, stored_files),
            as_attachment=True,
            filename=f"{project.pk}-storyboard.zip",
            content_type="application/zip",
        )
    response = HttpResponse(json.dumps(dump(project), indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{project.pk}-storyboard.json"'
    return response
