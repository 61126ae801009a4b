"""Tiny factories for test data: a user, a project with shots, finished takes."""

import functools
import io
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from projects import media
from projects.models import Opening, Project, Shot, Spend, Take, Team
from tests.clips import make_clip


def make_user(username="ada", password="pw-for-tests"):
    user = get_user_model().objects.create_user(username, password=password)
    Team.default_for(user)
    return user


def make_project(user, shots=(), **settings):
    """A project of `user`'s team; shots are (prompt, opening) pairs or dicts."""
    settings = {"title": "Autumn valley", "resolution": "480p", "ratio": "16:9", **settings}
    project = Project.objects.create(team=Team.default_for(user), created_by=user, **settings)
    made = []
    for position, spec in enumerate(shots):
        if isinstance(spec, tuple):
            prompt, opening = spec
            spec = {"prompt": prompt, "opening": opening}
        spec = {"duration": 4, "opening": Opening.CONTINUE if position else Opening.CUT, **spec}
        made.append(Shot(project=project, position=position, **spec))
    # In one INSERT, in order (a save each was a round trip each: 200 for the largest).
    Shot.objects.bulk_create(made)
    return project


@functools.cache
def cached_clip():
    """One real 4 s clip, its last frame and its poster, made once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="storyboard-clip-"))
    video = make_clip(folder / "clip.mp4", width=320, height=176, seconds=4)
    frame = io.BytesIO()
    media.save_png(media.last_frame(video), frame)
    media.make_poster(video, folder / "poster.jpg")
    return video.read_bytes(), frame.getvalue(), (folder / "poster.jpg").read_bytes()


def make_take(shot, upstream=None, select=True, **fields):
    """A finished take of `shot` with real files (one cached clip), made from the shot's
    current inputs and continuing `upstream`, its tokens in the team's ledger; the shot's
    pick unless select=False.

    For tests that need a done take but do not exercise the pipeline.
    """
    video, frame, poster = cached_clip()
    now = timezone.now()
    latest = shot.takes.order_by("-number").first()
    values = {
        "number": latest.number + 1 if latest else 1,
        "status": Take.Status.DONE,
        "progress": 1.0,
        "inputs": shot.inputs(),
        "upstream_take": upstream,
        "provider": "simulator",
        "remote_id": f"cgt-test-{now.timestamp()}",
        "tokens": 1000,
        "duration": 4.0,
        "frame_rate": 24.0,
        "frames": 96,
        "last_frame_source": "provider",
        "submitted_at": now,
        "started_at": now,
        "generated_at": now,
        "finished_at": now,
        **fields,
    }
    take = Take.objects.create(shot=shot, **values)
    take.video.save("video.mp4", ContentFile(video), save=False)
    take.last_frame.save("last-frame.png", ContentFile(frame), save=False)
    take.poster.save("poster.jpg", ContentFile(poster), save=False)
    take.save()
    if take.tokens:  # billed, as the pipeline records it
        Spend.objects.record(take)
    if select:
        take.select()
    return take


def make_takes(project):
    """A finished take for every shot of `project`, each continuing the one before it."""
    takes = []
    for shot in project.shots.in_order():
        upstream = takes[-1] if takes and shot.continues else None
        takes.append(make_take(shot, upstream=upstream))
    return takes
