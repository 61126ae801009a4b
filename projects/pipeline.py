"""What may be generated now, and each step of a take: queue, submit, poll, collect.

These functions are the pipeline's whole logic. The worker (projects.tasks) and the
command line (`storyboard render --wait`) are two drivers calling the same steps.
Every state change that two processes could race on is a conditional update.
"""

import io
import logging
import os
import tempfile
import time

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import media
from .access import frame_token
from .models import Export, Opening, Shot, Take
from .providers import GenerationRequest, Image, ProviderError, TaskState, configured, get_client

log = logging.getLogger(__name__)
Status = Take.Status


def queue_takes(project, shots=None):
    """Make a waiting take for each shot lacking a current take, or for the given shots.

    Touches only the database, so a view may call it; submission happens in start_ready.
    """
    wanted = {shot.pk for shot in shots} if shots is not None else None
    queued = []
    with transaction.atomic():
        for shot in project.timeline():
            latest = shot.latest_take
            if latest is not None and latest.is_unfinished:
                continue
            if wanted is None and shot.current_take is not None:
                continue
            if wanted is not None and shot.pk not in wanted:
                continue
            number = latest.number + 1 if latest else 1
            take = Take.objects.create(shot=shot, number=number, inputs=shot.inputs())
            queued.append(take)
    return queued


def start_ready(project):
    """Submit every waiting take whose first frame exists now; returns the submitted takes.

    A cut can start at once; a continue waits until the shot before it has a finished
    take and nothing newer on the way. When the shot before it failed, the rest of the
    chain stops, each take saying why.
    """
    submitted = []
    before = None
    for shot in project.timeline():
        take = shot.latest_take
        if take is not None and take.status == Status.WAITING:
            upstream, reason = _upstream_for(shot, before)
            if reason:
                _fail(take, reason)
            elif (
                upstream is not False
                and _claim(take, Status.WAITING, Status.SUBMITTING)
                and submit(take, upstream)
            ):
                submitted.append(take)
        before = shot
    return submitted


def _upstream_for(shot, before):
    """Whether a waiting take may start, and from which upstream take.

    (upstream or None, "") to start; (False, "") to wait; (None, why) to stop.
    """
    if not shot.continues or before is None:
        return None, ""
    latest = before.latest_take
    if latest is not None and latest.is_unfinished:
        return False, ""
    if latest is not None and latest.status in (Status.FAILED, Status.CANCELLED):
        return None, f"Not generated: shot {before.number} {latest.get_status_display()}."
    upstream = before.selected_take
    if upstream is None or upstream.status != Status.DONE:
        return None, f"Not generated: shot {before.number} has no finished take to continue from."
    return upstream, ""


def _claim(take, old, new, **fields):
    """Move a take from one status to another unless someone else already did."""
    claimed = Take.objects.filter(pk=take.pk, status=old).update(status=new, **fields) == 1
    if claimed:
        take.status = new
        for name, value in fields.items():
            setattr(take, name, value)
    return claimed


def build_request(shot, upstream, style, frames=True):
    """The neutral request for a take of `shot`, its first frame fitted to `style`.

    With frames=False, images are placeholders: enough to check the request's shape
    before any frame exists (the shot form does).
    """
    project = shot.project
    if shot.continues and shot.position > 0:
        first_frame = _frame(upstream, "last_frame", style) if frames else _placeholder()
    elif shot.first_frame:
        first_frame = _frame(shot, "first_frame", style) if frames else _placeholder()
    else:
        first_frame = None
    return GenerationRequest(
        model=project.model_name,
        prompt=shot.prompt,
        duration=shot.duration,
        resolution=project.resolution,
        ratio=project.ratio,
        generate_audio=project.generate_audio,
        watermark=project.watermark,
        seed=shot.seed,
        first_frame=first_frame,
        return_last_frame=True,
    )


def _frame(instance, field, style):
    """A stored frame for the provider: bytes within its limits, and a signed URL to them."""
    with getattr(instance, field).open("rb") as f:
        data, mime = media.fit_image(f.read(), style.max_image_bytes)
    url = ""
    if settings.PUBLIC_BASE_URL:
        token = frame_token(instance, field, style.max_image_bytes)
        url = settings.PUBLIC_BASE_URL + reverse("frame", args=[token])
    return Image(data=data, mime=mime, url=url)


def _placeholder():
    """A frame to come: sendable as a data URI, and by URL when this app is reachable."""
    return Image(data=b"frame", url="frame" if settings.PUBLIC_BASE_URL else "")


def problems(shot):
    """Why the configured provider would refuse this shot, before anything is sent."""
    try:
        style = configured().style
    except ProviderError as error:
        return [str(error)]
    return style.problems(build_request(shot, None, style, frames=False))


def settings_problems(project):
    """Why the configured provider would refuse any shot of a project with these settings."""
    try:
        style = configured().style
    except ProviderError as error:
        return [str(error)]
    probe = Shot(project=project, prompt="-", opening=Opening.CUT, duration=5)
    return style.settings_problems(build_request(probe, None, style, frames=False))


def submit(take, upstream):
    """Create the remote task of a claimed take. Its id is stored before anything else."""
    shot = take.shot
    # Record what is sent before sending it: if the answer is lost, the take still
    # says what it asked for.
    take.inputs = shot.inputs()
    take.upstream_take = upstream
    take.save(update_fields=["inputs", "upstream_take"])
    try:
        client = get_client(shot.project.provider)
        request = build_request(shot, upstream, client)
        refused = client.problems(request)
        if refused:
            raise ProviderError(" ".join(refused), permanent=True)
        remote_id = client.create(request)
    except (ProviderError, media.MediaError) as error:
        _fail(take, error)
        return False
    _claim(
        take,
        Status.SUBMITTING,
        Status.QUEUED,
        remote_id=remote_id,
        provider=client.name,
        submitted_at=timezone.now(),
    )
    log.info("take %s: submitted as %s", take.pk, remote_id)
    return True


def poll(take):
    """Read a take's remote task once. Returns True while it is still being generated."""
    if take.status not in (Status.QUEUED, Status.RUNNING):
        return False
    client = get_client(take.shot.project.provider)
    try:
        remote = client.get(take.remote_id)
    except ProviderError as error:
        if error.permanent:
            _fail(take, error)
            return False
        log.warning("take %s: reading its task failed, will retry: %s", take.pk, error)
        return True
    if remote.state == TaskState.QUEUED:
        return True
    if remote.state == TaskState.RUNNING:
        fields = {"progress": remote.progress}
        if take.status == Status.QUEUED:
            fields = {"status": Status.RUNNING, "started_at": timezone.now(), **fields}
        Take.objects.filter(pk=take.pk).update(**fields)
        for name, value in fields.items():
            setattr(take, name, value)
        return True
    if remote.state == TaskState.SUCCEEDED:
        if _claim(take, take.status, Status.COLLECTING, tokens=remote.tokens):
            collect(take, remote, client)
        return False
    _fail(take, remote.error or f"The provider reports the task {remote.state}.")
    return False


def collect(take, remote, client):
    """Download a finished take's files into media storage and make it the shot's pick."""
    try:
        with client.download(remote.video_url, ".mp4") as video:
            take.video.save("video.mp4", File(video), save=False)
        if remote.last_frame_url:
            with client.download(remote.last_frame_url, ".png") as frame:
                take.last_frame.save("last-frame.png", File(frame), save=False)
            take.last_frame_source = "provider"
        else:
            png = io.BytesIO()
            media.last_frame(take.video.path).save(png, "PNG")
            take.last_frame.save("last-frame.png", ContentFile(png.getvalue()), save=False)
            take.last_frame_source = "video"
        with tempfile.TemporaryDirectory() as scratch:
            poster = os.path.join(scratch, "poster.jpg")
            media.make_poster(take.video.path, poster)
            with open(poster, "rb") as f:
                take.poster.save("poster.jpg", File(f), save=False)
        take.duration = media.probe(take.video.path).duration
    except (ProviderError, media.MediaError) as error:
        _fail(take, f"Could not collect the finished video: {error}")
        return
    take.status = Status.DONE
    take.progress = 1.0
    take.finished_at = timezone.now()
    if take.started_at is None:
        take.started_at = take.submitted_at
    take.save()
    Shot.objects.filter(pk=take.shot_id).update(selected_take=take)
    log.info("take %s: done (%s tokens)", take.pk, take.tokens)


def _fail(take, error):
    take.status = Status.FAILED
    take.error = str(error)
    take.finished_at = timezone.now()
    take.save(update_fields=["status", "error", "finished_at"])
    log.info("take %s: failed: %s", take.pk, take.error)


def export(export):
    """Join the export's takes into one file, by stream copy where the clips allow."""
    if not Export.objects.filter(pk=export.pk, status=Export.Status.QUEUED).update(
        status=Export.Status.RUNNING
    ):
        return
    takes = Take.objects.in_bulk(export.takes)
    paths = [takes[pk].video.path for pk in export.takes]
    last = [0.0]

    def progress(fraction):
        if fraction - last[0] >= 0.05:
            last[0] = fraction
            Export.objects.filter(pk=export.pk).update(progress=fraction)

    name = export.file.field.generate_filename(export, export.filename())
    target = export.file.storage.path(name)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        result = media.concat(paths, target, progress=progress)
    except media.MediaError as error:
        export.status = Export.Status.FAILED
        export.error = str(error)
    else:
        export.file.name = name
        export.mode = result.mode
        export.duration = result.duration
        export.progress = 1.0
        export.status = Export.Status.DONE
    export.finished_at = timezone.now()
    export.save()


def run_here(project, interval, report=None):
    """Drive a project's takes in this process until none is unfinished.

    The command line's driver (the worker has its own in projects.tasks). `report` is
    called with the project's takes after every round.
    """
    takes = Take.objects.filter(shot__project=project).select_related("shot__project")
    while True:
        start_ready(project)
        for take in takes.in_flight():
            poll(take)
        if report is not None:
            report(takes.order_by("shot__position", "number"))
        if not takes.unfinished().exists():
            return
        time.sleep(interval)
