"""What may be generated now, and each step of a take: queue, submit, poll, collect.

These functions are the pipeline's whole logic. The worker (projects.tasks) and the
command line (`storyboard render --wait`) are two drivers calling the same steps.
Every state change that two processes could race on is a conditional update.
"""

import io
import logging
import os
import random
import secrets
import socket
import tempfile
import time
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import costs, limits, media
from .access import callback_token, input_token
from .models import Export, Opening, Reference, Shot, Take
from .providers import GenerationRequest, Image, ProviderError, TaskState, configured, get_client

log = logging.getLogger(__name__)
Status = Take.Status
HOST = socket.gethostname()


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


def queue_from(shot):
    """Regenerate a shot and the rest of its chain, which its new take will make stale."""
    shots = shot.project.shots.in_order().filter(position__gte=shot.position)
    rest = [shot]
    for later in shots.exclude(pk=shot.pk):
        if not later.continues:
            break
        rest.append(later)
    return queue_takes(shot.project, shots=rest)


def cancel(project):
    """Stop what has not started: waiting takes at once, queued remote tasks where the
    provider can cancel them. Returns the queued takes that need the provider (a worker's
    job: a view must not wait on it). Running tasks cannot be stopped and finish."""
    Take.objects.filter(shot__project=project, status=Status.WAITING).update(
        status=Status.CANCELLED, error="Cancelled before it was sent.", finished_at=timezone.now()
    )
    return list(
        Take.objects.filter(shot__project=project, status=Status.QUEUED).select_related(
            "shot__project"
        )
    )


def cancel_remote(take):
    """Ask the provider to drop a queued task; the take says how it ended."""
    client = get_client(take.shot.project.provider)
    if not client.can_cancel:
        Take.objects.filter(pk=take.pk).update(
            note=f"The {client.name} API cannot cancel a task: it will finish and be billed."
        )
        return
    try:
        client.cancel(take.remote_id)
    except ProviderError as error:
        Take.objects.filter(pk=take.pk).update(note=f"Could not cancel: {error}")
        return
    if _claim(take, Status.QUEUED, Status.CANCELLED, finished_at=timezone.now()):
        Take.objects.filter(pk=take.pk).update(error="Cancelled while queued.")


def start_ready(project):
    """Submit every waiting take whose first frame exists now; returns the submitted takes.

    A cut can start at once; a continue waits until the shot before it has a finished
    take and nothing newer on the way. When the shot before it failed, the rest of the
    chain stops, each take saying why.
    """
    submitted = []
    before = None
    now = timezone.now()
    for shot in project.timeline():
        take = shot.latest_take
        if take is not None and take.status == Status.WAITING:
            upstream, reason = _upstream_for(shot, before)
            reason = reason or (upstream is not False and costs.over_budget(take))
            if reason:
                _fail(take, reason)
            elif upstream is not False and (take.not_before is None or take.not_before <= now):
                claimed, wait = limits.claim(take, **_beat())
                if claimed and submit(take, upstream):
                    submitted.append(take)
                elif wait:  # a limit of the provider: ask again then
                    Take.objects.filter(pk=take.pk, status=Status.WAITING).update(
                        not_before=now + timedelta(seconds=wait)
                    )
        before = shot
    return submitted


def next_retry(project):
    """When the earliest waiting take of a project may be tried again, if one waits."""
    waiting = Take.objects.filter(shot__project=project, status=Status.WAITING)
    return (
        waiting.exclude(not_before=None)
        .order_by("not_before")
        .values_list("not_before", flat=True)
        .first()
    )


def _beat():
    """The fields that say who works on a take, and that it is alive."""
    # The process id is read now: worker processes are forked after this module loads.
    return {"heartbeat_at": timezone.now(), "worker": f"{HOST}:{os.getpid()}"}


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


def build_request(shot, upstream, style, frames=True, seed=None, callback_url="", references=None):
    """The neutral request for a take of `shot`, its images fitted to `style`.

    With frames=False, files are placeholders: enough to check the request's shape
    before any frame exists (the shot form does, with the references it was given).
    """
    project = shot.project
    if shot.continues and shot.position > 0:
        first_frame = _frame(upstream, "last_frame", style) if frames else _placeholder()
    elif shot.first_frame:
        first_frame = _frame(shot, "first_frame", style) if frames else _placeholder()
    else:
        first_frame = None
    last_frame = None
    if shot.last_frame_target:
        last_frame = _frame(shot, "last_frame_target", style) if frames else _placeholder()
    if references is None:
        references = list(shot.references.all()) if shot.pk is not None else []
    by_kind = {kind: [] for kind in Reference.Kind.values}
    for reference in references:
        if reference.kind == Reference.Kind.IMAGE:
            sent = _frame(reference, "file", style) if frames else _placeholder()
        else:
            sent = _input_url(reference, "file", 0) if frames else _placeholder().url
        by_kind[reference.kind].append(sent)
    return GenerationRequest(
        model=project.model_name,
        prompt=shot.prompt,
        duration=shot.duration,
        resolution=project.resolution,
        ratio=project.ratio,
        generate_audio=project.generate_audio,
        watermark=project.watermark,
        seed=shot.seed if seed is None else seed,
        first_frame=first_frame,
        last_frame=last_frame,
        references=by_kind[Reference.Kind.IMAGE],
        reference_videos=by_kind[Reference.Kind.VIDEO],
        reference_audios=by_kind[Reference.Kind.AUDIO],
        return_last_frame=True,
        callback_url=callback_url,
    )


def _frame(instance, field, style):
    """A stored image for the provider: bytes within its limits, and a signed URL to them."""
    with getattr(instance, field).open("rb") as f:
        data, mime = media.fit_image(f.read(), style.max_image_bytes)
    return Image(data=data, mime=mime, url=_input_url(instance, field, style.max_image_bytes))


def _input_url(instance, field, max_bytes):
    """A signed link the provider can fetch a stored input from; "" when it cannot reach us."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    token = input_token(instance, field, max_bytes)
    return settings.PUBLIC_BASE_URL + reverse("provider-input", args=[token])


def _callback_url(take, style):
    """Where the provider reports the task's changes, when it can and this app is reachable."""
    if not (style.takes_callback and settings.PUBLIC_BASE_URL):
        return ""
    return settings.PUBLIC_BASE_URL + reverse("take-callback", args=[callback_token(take)])


def _placeholder():
    """A frame to come: sendable as a data URI, and by URL when this app is reachable."""
    return Image(data=b"frame", url="frame" if settings.PUBLIC_BASE_URL else "")


def problems(shot, references=None):
    """Why the configured provider would refuse this shot, before anything is sent.

    `references` stands in for the shot's own, for a form checking what it was given.
    """
    try:
        style = configured().style
    except ProviderError as error:
        return [str(error)]
    return style.problems(build_request(shot, None, style, frames=False, references=references))


def settings_problems(project):
    """Why the configured provider would refuse any shot of a project with these settings."""
    try:
        style = configured().style
    except ProviderError as error:
        return [str(error)]
    probe = Shot(project=project, prompt="-", opening=Opening.CUT, duration=5)
    return style.settings_problems(build_request(probe, None, style, frames=False))


def submit(take, upstream):
    """Create the remote task of a claimed take. Its id is stored before anything else.

    A refused create fails the take; one that hit a passing trouble (429, 5xx, no
    connection) waits and is tried again, up to PIPELINE_MAX_ATTEMPTS; one whose answer
    was lost is looked up before anything is sent again.
    """
    shot = take.shot
    if take.seed is None:
        take.seed = shot.seed if shot.seed is not None else secrets.randbelow(2**32)
    # Record what is sent before sending it: if the answer is lost, the take still
    # says what it asked for.
    take.inputs = shot.inputs()
    take.upstream_take = upstream
    take.attempts += 1
    take.save(update_fields=["inputs", "upstream_take", "seed", "attempts"])
    try:
        client = get_client(shot.project.provider)
        request = build_request(
            shot, upstream, client, seed=take.seed, callback_url=_callback_url(take, client)
        )
        refused = client.problems(request)
        if refused:
            raise ProviderError(" ".join(refused), permanent=True)
        remote_id = client.create(request)
    except media.MediaError as error:
        _fail(take, error)
        return False
    except ProviderError as error:
        if error.maybe_done:
            return reconcile(take, client, request)
        if error.permanent:
            _fail(take, error)
            return False
        _retry_later(take, error)
        return False
    return _adopt(take, remote_id, client)


def _adopt(take, remote_id, client, note=""):
    fields = {"remote_id": remote_id, "provider": client.name, "submitted_at": timezone.now()}
    if note:
        fields["note"] = note
    if not _claim(take, Status.SUBMITTING, Status.QUEUED, **fields, **_beat()):
        return False
    log.info("take %s: submitted as %s", take.pk, remote_id)
    return True


def _retry_later(take, error):
    """Put a take whose create hit a passing trouble back in line, with backoff."""
    if take.attempts >= settings.PIPELINE_MAX_ATTEMPTS:
        _fail(take, f"Gave up after {take.attempts} tries: {error}")
        return
    # Exponential backoff with jitter, so workers do not retry in step; the provider's
    # Retry-After, when it gives one, wins.
    delay = error.retry_after or min(300, 2**take.attempts) * random.uniform(0.5, 1.5)
    note = f"Try {take.attempts} hit a passing trouble; trying again in {delay:.0f} s: {error}"
    _claim(
        take,
        Status.SUBMITTING,
        Status.WAITING,
        not_before=timezone.now() + timedelta(seconds=delay),
        note=note,
    )
    log.info("take %s: %s", take.pk, note)


def reconcile(take, client, request):
    """A create was sent but its answer lost: find its task before anything is sent again.

    Returns True when the task was found and the take now follows it.
    """
    if not client.can_list:
        _fail(
            take,
            "The provider's answer to the create was lost, and its API cannot look tasks "
            "up; not sent again, so as not to pay twice. Regenerate if no video comes.",
        )
        return False
    since = (take.heartbeat_at or take.created_at).timestamp() - 120  # clock skew
    try:
        found = client.find_lost(request, since)
    except ProviderError as error:
        # Unknown yet: leave it submitting; the sweeper looks again after the lease.
        Take.objects.filter(pk=take.pk).update(note=f"Looking for a lost create: {error}")
        return False
    if found is not None:
        return _adopt(
            take,
            found.id,
            client,
            note="The create's answer was lost; its task was found among the provider's.",
        )
    _claim(
        take,
        Status.SUBMITTING,
        Status.WAITING,
        note="The create's answer was lost and the provider has no such task: sent again.",
    )
    return False


def poll(take):
    """Read a take's remote task once.

    Returns the seconds until it should be read again, or None once it is over: sooner
    when it is expected to finish, later when the provider's request rate says so.
    """
    return poll_many([take])[take.pk]


def poll_many(takes):
    """Read the remote tasks of several takes, in one request where the style can list.

    Returns {take id: seconds until the next look, or None once it is over}.
    """
    takes = [take for take in takes if take.status in (Status.QUEUED, Status.RUNNING)]
    if not takes:
        return {}
    Take.objects.filter(pk__in=[take.pk for take in takes]).update(**_beat())
    wait = limits.admit_call()
    if wait:
        return {take.pk: wait for take in takes}
    client = get_client(takes[0].shot.project.provider)
    try:
        if client.can_list and len(takes) > 1:
            found = {task.id: task for task in client.list([take.remote_id for take in takes])}
        else:
            found = {take.remote_id: client.get(take.remote_id) for take in takes}
    except ProviderError as error:
        if error.permanent and len(takes) == 1:
            _fail(takes[0], error)
            return {takes[0].pk: None}
        log.warning("reading %d tasks failed, will retry: %s", len(takes), error)
        return {take.pk: error.retry_after or settings.SEEDANCE_POLL_INTERVAL for take in takes}
    answers = {}
    for take in takes:
        remote = found.get(take.remote_id)
        if remote is None:  # not in the list: ask for it alone, which says why
            answers.update(poll_many([take]) if len(takes) > 1 else {take.pk: None})
            continue
        answers[take.pk] = _apply(take, remote, client)
    return answers


def _apply(take, remote, client):
    """Bring a take up to date with its remote task; returns when to look next, or None."""
    if remote.state == TaskState.QUEUED:
        return settings.SEEDANCE_POLL_INTERVAL
    if remote.state == TaskState.RUNNING:
        fields = {"progress": remote.progress}
        if take.status == Status.QUEUED:
            fields = {"status": Status.RUNNING, "started_at": timezone.now(), **fields}
        Take.objects.filter(pk=take.pk).update(**fields)
        for name, value in fields.items():
            setattr(take, name, value)
        return next_look(take)
    if remote.state == TaskState.SUCCEEDED:
        if _claim(take, take.status, Status.COLLECTING, tokens=remote.tokens, **_beat()):
            collect(take, remote, client)
        return None
    _fail(take, remote.error or f"The provider reports the task {remote.state}.")
    return None


def _last_look_due():
    """Takes last read before this time are due for a look: half a poll interval ago."""
    return timezone.now() - timedelta(seconds=settings.SEEDANCE_POLL_INTERVAL / 2)


def due(take):
    """Whether nobody has read the take's task for half a poll interval."""
    return take.heartbeat_at is None or take.heartbeat_at < _last_look_due()


def due_with(take):
    """Other takes of the same provider that are due for a look, to read in one request."""
    peers = (
        Take.objects.filter(
            provider=take.provider,
            status__in=[Status.QUEUED, Status.RUNNING],
            heartbeat_at__lt=_last_look_due(),
        )
        .exclude(pk=take.pk)
        .select_related("shot__project")
    )
    return list(peers[:49])


def next_look(take):
    """The poll interval, or sooner when the take is expected to be done before it."""
    interval = settings.SEEDANCE_POLL_INTERVAL
    if take.started_at is None:
        return interval
    elapsed = (timezone.now() - take.started_at).total_seconds()
    remaining = take.expected_seconds() - elapsed
    return max(min(interval, 0.5), min(interval, remaining)) if remaining > 0 else interval


def collect(take, remote, client):
    """Download a finished take's files into media storage and make it the shot's pick.

    Result URLs expire: when a download fails, the task is read again for fresh ones.
    """
    try:
        try:
            with client.download(remote.video_url, ".mp4") as video:
                take.video.save("video.mp4", File(video), save=False)
        except ProviderError as error:
            log.warning("take %s: download failed, reading the task again: %s", take.pk, error)
            remote = client.get(take.remote_id)
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
    # Done and picked in one step: nobody may see a done take its shot does not point at.
    with transaction.atomic():
        take.save()
        take.select()
    log.info("take %s: done (%s tokens)", take.pk, take.tokens)


def _fail(take, error):
    """Fail a take, unless another process moved it on since the caller looked."""
    if _claim(take, take.status, Status.FAILED, error=str(error), finished_at=timezone.now()):
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


def recover(project=None):
    """Take over what dead workers left: returns the takes that need watching again.

    A take is orphaned when the process that last worked on it no longer exists on this
    host, or when nobody has touched it for PIPELINE_LEASE_SECONDS. Each orphan is
    claimed by a conditional update, so several sweepers never resume the same take.
    Submitting ones are reconciled (never simply sent again), collecting ones collected
    again, and projects with waiting takes started.
    """
    watch = []
    stale = timezone.now() - timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)
    busy = [Status.SUBMITTING, Status.QUEUED, Status.RUNNING, Status.COLLECTING]
    takes = Take.objects.select_related("shot__project")
    if project is not None:
        takes = takes.filter(shot__project=project)
    for take in takes.filter(status__in=busy):
        if not _orphaned(take, stale):
            continue
        claimed = Take.objects.filter(
            pk=take.pk, status=take.status, heartbeat_at=take.heartbeat_at, worker=take.worker
        ).update(**_beat())
        if not claimed:
            continue
        log.info("take %s: resuming it, %s when its worker died", take.pk, take.status)
        if take.status == Status.SUBMITTING:
            client = get_client(take.shot.project.provider)
            request = build_request(take.shot, None, client, frames=False, seed=take.seed)
            if reconcile(take, client, request):
                watch.append(take)
        else:
            if take.status == Status.COLLECTING:
                _claim(take, Status.COLLECTING, Status.RUNNING)
            watch.append(take)
    waiting = takes.filter(status=Status.WAITING)
    for waiting_project in {take.shot.project for take in waiting}:
        watch += start_ready(waiting_project)
    return watch


def _orphaned(take, stale):
    if take.heartbeat_at is None or take.heartbeat_at < stale:
        return True
    host, _, pid = take.worker.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run_here(project, interval, report=None):
    """Drive a project's takes in this process until none is unfinished.

    The command line's driver (the worker has its own in projects.tasks). `report` is
    called with the project's takes after every round.
    """
    takes = Take.objects.filter(shot__project=project).select_related("shot__project")
    recover(project)
    while True:
        start_ready(project)
        poll_many(list(takes.in_flight()))
        if report is not None:
            report(takes.order_by("shot__position", "number"))
        if not takes.unfinished().exists():
            return
        time.sleep(interval)
