"""Collecting a finished take: its video, last frame and poster into media storage.

Everything goes through Django's storage API, local folder or S3 alike. The take is
done only once its files are stored, in one conditional update by the worker that
holds it; a take whose files cannot be stored now stays collectable and is tried again.
"""

import io
import logging
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .. import media, webhooks
from ..files import local_copy, storage_errors
from ..models import Take
from ..providers import MAX_IMAGE_BYTES, ProviderError
from .failing import fail_take
from .leases import Heartbeat, LeaseLost, me

log = logging.getLogger(__name__)
Status = Take.Status


def collect(take, remote, client):
    """Download a claimed (collecting) take's files into storage and make it the shot's pick.

    Result URLs expire: when a download fails, the task is read again for fresh ones.
    The lease is kept alive during downloads, so a slow one is not taken over.
    """
    mine = Take.objects.filter(pk=take.pk, status=Status.COLLECTING, worker=me())
    heartbeat = Heartbeat(mine)
    stored = []
    try:
        with tempfile.TemporaryDirectory() as scratch, ExitStack() as opened:
            files, fields = _fetch(take, remote, client, Path(scratch), opened, heartbeat)
            for field, content in files.items():
                storage = getattr(take, field).storage
                name = getattr(take, field).field.generate_filename(take, content.name)
                stored.append(storage.save(name, content))
                fields[field] = stored[-1]
                heartbeat()
    except LeaseLost:
        log.info("take %s: another worker took it over while it was collected", take.pk)
        _remove(take, stored)
        return
    except media.MediaError as error:
        _remove(take, stored)
        fail_take(take, f"Could not collect the finished video: {error}")
        return
    except ProviderError as error:
        _remove(take, stored)
        if error.permanent:
            fail_take(take, f"Could not collect the finished video: {error}")
        else:
            _collect_later(take, f"Could not download the finished video: {error}")
        return
    except storage_errors() as error:
        _remove(take, stored)
        _collect_later(take, f"Could not store the finished video: {error}")
        return
    except Exception as error:  # nothing may leave a take collecting for ever
        log.exception("take %s: collecting it failed unexpectedly", take.pk)
        _remove(take, stored)
        _collect_later(take, f"Could not collect the finished video ({_named(error)}).")
        return
    fields.update(
        status=Status.DONE,
        progress=1.0,
        finished_at=timezone.now(),
        started_at=take.started_at or take.submitted_at,
    )
    # Done and picked in one step: nobody may see a done take its shot does not point at.
    # Its webhooks are written in the same step, so a crash never loses them.
    with transaction.atomic():
        enabled = webhooks.lock_for_rendered(take.shot.project)
        if not mine.update(**fields):
            log.info("take %s: taken over before it was done; its files are dropped", take.pk)
            transaction.on_commit(lambda: _remove(take, stored))
            return
        for name, value in fields.items():
            setattr(take, name, value)
        take.select()
        webhooks.take_done(take, enabled)
    log.info("take %s: done (%s tokens)", take.pk, take.tokens)


def _fetch(take, remote, client, scratch, opened, heartbeat):
    """The take's files, downloaded or made in `scratch`: ({field: File}, {field: value})."""
    video = opened.enter_context(_download(client, take, remote, ".mp4", heartbeat))
    info = media.probe(video.name)
    if remote.last_frame_url:
        with client.download(remote.last_frame_url, ".png", on_chunk=heartbeat) as f:
            frame = f.read()
        source = "provider"
    else:
        png = io.BytesIO()
        media.save_png(media.last_frame(video.name), png)
        frame, source = png.getvalue(), "video"
    # Stored as every provider can take it, since it becomes the next shot's first frame.
    frame, mime = media.fit_image(
        frame, MAX_IMAGE_BYTES, settings.MAX_IMAGE_PIXELS, name="The last frame"
    )
    media.make_poster(video.name, scratch / "poster.jpg")
    poster = opened.enter_context(open(scratch / "poster.jpg", "rb"))
    files = {
        "first_frame": ContentFile(_first_frame(video.name), name="first-frame.jpg"),
        "video": File(video, name="video.mp4"),
        "last_frame": ContentFile(frame, name=f"last-frame.{mime.split('/')[1]}"),
        "poster": File(poster, name="poster.jpg"),
    }
    fields = {"last_frame_source": source, "duration": info.duration}
    return files, {**fields, "frame_rate": info.fps, "frames": info.frames}


def learn_frames(take, info):
    """Keep the frame rate and frames of `take`'s clip, probed (media.ClipInfo) by a worker
    that read it, when the take was collected before takes kept them."""
    if take.frames is not None:
        return
    fields = {"frame_rate": info.fps, "frames": info.frames}
    Take.objects.filter(pk=take.pk, frames=None).update(**fields)
    take.frame_rate, take.frames = info.fps, info.frames


def _first_frame(path):
    """The clip's first frame as a JPEG, for the seam inspector."""
    first = io.BytesIO()
    media.first_frame(path).save(first, format="JPEG", quality=90)
    return first.getvalue()


FIRST_FRAMES_PER_SWEEP = 50


def keep_first_frames(limit=FIRST_FRAMES_PER_SWEEP):
    """Store the first frames of takes collected before they were kept, some each sweep:
    pages serve only what is stored, and never make it while someone waits."""
    missing = Take.objects.filter(status=Status.DONE, first_frame="").exclude(video="")
    for take in missing.select_related("shot")[:limit]:
        try:
            with local_copy(take.video, ".mp4") as path:
                data = _first_frame(path)
            take.first_frame.save("first-frame.jpg", ContentFile(data), save=False)
        except (media.MediaError, *storage_errors()) as error:
            log.warning("take %s: no first frame kept: %s", take.pk, error)
            continue
        # Conditional: another sweeper may have kept one meanwhile, and then this goes.
        if not Take.objects.filter(pk=take.pk, first_frame="").update(
            first_frame=take.first_frame.name
        ):
            take.first_frame.storage.delete(take.first_frame.name)


def _download(client, take, remote, suffix, heartbeat):
    try:
        return client.download(remote.video_url, suffix, on_chunk=heartbeat)
    except ProviderError as error:
        log.warning("take %s: download failed, reading the task again: %s", take.pk, error)
        fresh = client.get(take.remote_id)
        return client.download(fresh.video_url, suffix, on_chunk=heartbeat)


def collect_deadline():
    """How long a finished take may stay uncollected (storage down, downloads failing)."""
    return timedelta(seconds=60 * settings.PIPELINE_LEASE_SECONDS)


def gave_up(take, reason):
    """Fail `take` with `reason` when it has waited to be collected for collect_deadline;
    True when it did (or when another process ended it first)."""
    waited = timezone.now() - (take.generated_at or timezone.now())
    if waited <= collect_deadline():
        return False
    fail_take(take, f"Gave up collecting after {waited.total_seconds() / 60:.0f} min: {reason}")
    return True


def _collect_later(take, reason):
    """Leave a take collectable: read its task again later, for fresh URLs, and retry."""
    if gave_up(take, reason):
        return
    waited = timezone.now() - (take.generated_at or timezone.now())
    delay = min(300.0, max(2.0, waited.total_seconds() / 2))
    take.move(
        Status.RUNNING,
        note=f"{reason} Trying again in {delay:.0f} s.",
        next_look_at=timezone.now() + timedelta(seconds=delay),
    )
    log.warning("take %s: %s", take.pk, reason)


def _named(error):
    """An unexpected error as the card says it: its kind, and its words."""
    words = str(error)
    return f"{type(error).__name__}: {words}" if words else type(error).__name__


def _remove(take, names):
    for name in names:
        try:
            take.video.storage.delete(name)
        except storage_errors():
            log.warning("take %s: could not remove %s from storage", take.pk, name)
