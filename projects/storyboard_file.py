"""The storyboard file (JSON): a project's shots and settings, to import and export."""

import json
from pathlib import Path

from django.core.files import File
from django.db import transaction

from . import pipeline
from .models import MAX_DURATION, MIN_DURATION, RATIOS, RESOLUTIONS, Opening, Project, Shot, Team

SETTINGS = {"model", "resolution", "ratio", "generate_audio", "watermark"}


class StoryboardError(ValueError):
    pass


def load(path, owner):
    """Create a project from a storyboard file; images are relative to the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoryboardError(f"{path}: cannot read it as JSON ({exc})") from exc
    spec = _validate(data, path.parent)
    with transaction.atomic():
        project = Project.objects.create(
            title=spec["title"], team=Team.default_for(owner), created_by=owner, **spec["settings"]
        )
        for position, shot_spec in enumerate(spec["shots"]):
            image = shot_spec.pop("first_frame", None)
            shot = Shot(project=project, position=position, **shot_spec)
            if image is not None:
                with image.open("rb") as f:
                    shot.first_frame.save(image.name, File(f), save=False)
            shot.save()
        # Refuse now what the provider would refuse later, shot by shot.
        refused = [
            f"shot {shot.number}: {problem}"
            for shot in project.shots.in_order()
            for problem in pipeline.problems(shot)
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
    cleaned = []
    for number, shot in enumerate(shots, start=1):
        where = f"shot {number}"
        if not isinstance(shot, dict) or not str(shot.get("prompt", "")).strip():
            raise StoryboardError(f'{where}: "prompt" is required.')
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
        if shot.get("seed") is not None:
            item["seed"] = shot["seed"]
        if shot.get("first_frame"):
            if opening == Opening.CONTINUE:
                raise StoryboardError(
                    f'{where}: a "continue" shot cannot have its own first_frame.'
                )
            image = base / shot["first_frame"]
            if not image.is_file():
                raise StoryboardError(f"{where}: first_frame {image} does not exist.")
            item["first_frame"] = image
        cleaned.append(item)
    return {"title": title.strip(), "settings": settings, "shots": cleaned}


def _choice(settings, key, choices):
    if key in settings and settings[key] not in dict(choices):
        allowed = ", ".join(dict(choices))
        raise StoryboardError(f"settings.{key} must be one of {allowed}, not {settings[key]!r}.")


def dump(project):
    """The project as a storyboard file (first frames by their stored name)."""
    settings = {
        "resolution": project.resolution,
        "ratio": project.ratio,
        "generate_audio": project.generate_audio,
        "watermark": project.watermark,
    }
    if project.model:
        settings["model"] = project.model
    shots = []
    for shot in project.shots.in_order():
        item = {"prompt": shot.prompt, "duration": shot.duration, "opening": shot.opening}
        if shot.first_frame:
            item["first_frame"] = Path(shot.first_frame.name).name
        if shot.seed is not None:
            item["seed"] = shot.seed
        shots.append(item)
    return {"title": project.title, "settings": settings, "shots": shots}
