"""Sending takes: what may start now, the create itself, and finding a create whose
answer was lost without ever paying twice."""

import io
import logging
import random
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from .. import costs, limits, media
from ..files import local_copy
from ..models import Kind, Take
from ..providers import MAX_IMAGE_BYTES, LostCreate, ProviderError, get_client
from . import guarding, polling
from .leases import beat
from .requests import build_request, callback_url, fingerprinted

log = logging.getLogger(__name__)
Status = Take.Status


@dataclass(frozen=True)
class Gate:
    """Whether a waiting take may be sent now, and from which upstream take.

    `ready` with `upstream` (None for a cut); or `stop`, why its chain stops here;
    neither: it waits for the shot before it.
    """

    ready: bool = False
    upstream: Take | None = None
    out: int | None = None  # the frame of `upstream` to start on, when not its last
    stop: str = ""


def start_ready(project):
    """Submit every waiting take whose first frame exists now; returns the submitted takes.

    A cut can start at once; a continue waits until the shot before it has a finished
    take and nothing newer on the way, and its start frame passes the seam guard
    (pipeline.guarding): one that fails holds, unsent, and its chain waits behind it. When
    the shot before it failed, the rest of the chain stops, each take saying why.

    Drafts and finals are two chains over the same shots: a final continue starts on the
    final before it, a draft on the draft.
    """
    submitted = []
    before = None
    now = timezone.now()
    for shot in project.timeline():
        for kind in Kind.values:
            take = shot.latest_of(kind)
            if take is None or take.status != Status.WAITING:
                continue
            gate = _gate(shot, before, kind)
            if gate.stop:
                take.fail(gate.stop)
            elif gate.ready and (take.not_before is None or take.not_before <= now):
                if gate.upstream is not None and guarding.holds(
                    take, shot, before, gate.upstream, gate.out
                ):
                    continue
                claim = limits.claim(take, refuse=costs.over_budget, **beat())
                if claim.claimed and submit(take, gate.upstream, gate.out):
                    submitted.append(take)
                elif claim.wait:  # a limit of the provider: ask again then
                    Take.objects.filter(pk=take.pk, status=Status.WAITING).update(
                        not_before=now + timedelta(seconds=claim.wait)
                    )
        before = shot
    return submitted


def _gate(shot, before, kind=Kind.DRAFT):
    if not shot.continues:
        return Gate(ready=True)
    latest = before.latest_of(kind)
    if latest is not None and latest.is_unfinished:
        return Gate()
    if latest is not None and latest.ended_badly:
        return Gate(stop=f"Not generated: shot {before.number} {latest.get_status_display()}.")
    upstream = before.selected_of(kind)
    if upstream is None or upstream.status != Status.DONE:
        return Gate(
            stop=f"Not generated: shot {before.number} has no finished take to continue from."
        )
    return Gate(ready=True, upstream=upstream, out=before.trim_out)


def submit(take, upstream, out=None):
    """Create the remote task of a claimed take. Its id is stored before anything else.

    A continue starts on `upstream`'s last frame, or on its frame `out` when the shot
    before is trimmed to end there.

    A refused create fails the take; one that hit a passing trouble (429, 5xx, no
    connection) waits and is tried again, up to PIPELINE_MAX_ATTEMPTS; one whose answer
    was lost is looked up before anything is sent again. True once the task exists.
    """
    shot = take.shot
    if take.seed is None:
        take.seed = shot.seed if shot.seed is not None else secrets.randbelow(2**32)
    try:
        client = get_client()
        take.upstream_out = _start_on(take, upstream, out)
        request = build_request(
            shot,
            upstream,
            client,
            seed=take.seed,
            callback_url=callback_url(take, client),
            start=take if take.upstream_out is not None else None,
            kind=take.kind,
        )
    except (media.MediaError, ProviderError) as error:
        take.fail(error)
        return False
    request = fingerprinted(request, take)
    # Record what is sent before sending it: if the answer is lost, the take still
    # says what it asked for, and how to recognise its task.
    take.inputs = shot.inputs(take.kind)
    take.upstream_take = upstream
    take.attempts += 1
    take.fingerprint = request.fingerprint
    take.submitted_at = timezone.now()
    take.save(
        update_fields=[
            "inputs",
            "upstream_take",
            "upstream_out",
            "seed",
            "attempts",
            "fingerprint",
            "submitted_at",
        ]
    )
    try:
        refused = client.problems(request)
        if refused:
            raise ProviderError(" ".join(refused), permanent=True)
        remote_id = client.create(request)
    except ProviderError as error:
        if error.maybe_done:
            return reconcile(take, client, request)
        if error.permanent:
            take.fail(error)
        else:
            _retry_later(take, error)
        return False
    return _adopt(take, remote_id, client)


def _start_on(take, upstream, out):
    """The out point a continue starts on (None: the upstream's last frame); its frame,
    extracted exactly from the upstream clip, is kept as the take's start frame."""
    if upstream is None or out is None:
        return None
    with local_copy(upstream.video, ".mp4") as path:
        if out >= media.probe(path).frames - 1:
            return None  # the out point is the clip's end: its last frame, as returned
        picture = media.frame_at(path, out)
    png = io.BytesIO()
    media.save_png(picture, png)
    data, mime = media.fit_image(png.getvalue(), MAX_IMAGE_BYTES, settings.MAX_IMAGE_PIXELS)
    suffix = "png" if mime == "image/png" else "jpg"
    take.start_frame.save(f"start-frame.{suffix}", ContentFile(data), save=False)
    take.save(update_fields=["start_frame"])
    return out


def _adopt(take, remote_id, client, note=""):
    fields = {"remote_id": remote_id, **beat()}
    if note:
        fields["note"] = note
    fields["next_look_at"] = timezone.now() + timedelta(seconds=polling.first_read(take))
    if not Take.objects.claim(take, Status.SUBMITTING, Status.QUEUED, **fields):
        return False
    log.info("take %s: submitted as %s", take.pk, remote_id)
    return True


def _retry_later(take, error):
    """Put a take whose create hit a passing trouble back in line, with backoff."""
    if take.attempts >= settings.PIPELINE_MAX_ATTEMPTS:
        take.fail(f"Gave up after {take.attempts} tries: {error}")
        return
    # Exponential backoff with jitter, so workers do not retry in step; the provider's
    # Retry-After, when it gives one, wins.
    delay = error.retry_after or min(300, 2**take.attempts) * random.uniform(0.5, 1.5)
    note = f"Try {take.attempts} hit a passing trouble; trying again in {delay:.0f} s: {error}"
    take.move(
        Status.WAITING,
        not_before=timezone.now() + timedelta(seconds=delay),
        next_look_at=None,
        note=note,
    )
    log.info("take %s: %s", take.pk, note)


def reconcile(take, client, request=None):
    """A create was sent but its answer lost: find its task before anything is sent again.

    Returns True when the task was found and the take now follows it. When the provider
    cannot be asked now, the take stays submitting and is looked at again later, until
    reconcile_deadline; then it fails, saying why, and nothing is sent again.
    """
    if not client.can_list:
        take.fail(
            "The provider's answer to the create was lost, and its API cannot look tasks "
            "up; not sent again, so as not to pay twice. Regenerate if no video comes."
        )
        return False
    if request is None:  # after a restart: what was sent, less the frames' bytes
        request = build_request(
            take.shot, None, client, frames=False, seed=take.seed, kind=take.kind
        )
        request = replace(request, fingerprint=take.fingerprint)
    sent_at = take.submitted_at or take.created_at
    lost = LostCreate(request, since=sent_at.timestamp(), known=_known_tasks(take, sent_at))
    try:
        found = client.find_lost(lost)
    except ProviderError as error:
        _reconcile_later(take, error)
        return False
    if len(found) == 1:
        return _adopt(
            take,
            found[0].id,
            client,
            note="The create's answer was lost; its task was found among the provider's.",
        )
    if found:
        take.fail(
            f"The create's answer was lost, and {len(found)} of the provider's tasks could "
            "be it; not sent again, so as not to pay twice. Regenerate if no video comes."
        )
        return False
    take.move(
        Status.WAITING,
        next_look_at=None,
        note="The create's answer was lost and the provider has no such task: sent again.",
    )
    return False


def _known_tasks(take, since):
    """Task ids other takes of this provider already follow, created around the same time."""
    return frozenset(
        Take.objects.exclude(pk=take.pk)
        .exclude(remote_id="")
        .filter(provider=take.provider, submitted_at__gte=since - timedelta(hours=1))
        .values_list("remote_id", flat=True)
    )


def reconcile_deadline():
    """How long a take may wait to learn whether its lost create made a task."""
    return timedelta(seconds=5 * settings.PIPELINE_LEASE_SECONDS)


def _reconcile_later(take, error):
    sent_at = take.submitted_at or take.created_at
    waited = timezone.now() - sent_at
    if waited > reconcile_deadline():
        take.fail(
            f"The create's answer was lost, and for {waited.total_seconds() / 60:.0f} min the "
            f"provider could not be asked whether it made the task ({error}). Not sent "
            "again, so as not to pay twice; regenerate if no video comes."
        )
        return
    delay = min(60.0, max(2.0, waited.total_seconds() / 4))
    Take.objects.filter(pk=take.pk, status=Status.SUBMITTING).update(
        note=f"The create's answer was lost; asking the provider again in {delay:.0f} s: {error}",
        next_look_at=timezone.now() + timedelta(seconds=delay),
        **beat(),
    )
    log.info("take %s: looking for a lost create failed: %s", take.pk, error)


def cancel_remote(take):
    """Ask the provider to drop a queued task; the take says how it ended."""
    client = get_client()
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
    Take.objects.claim(
        take,
        Status.QUEUED,
        Status.CANCELLED,
        error="Cancelled while queued.",
        finished_at=timezone.now(),
        next_look_at=None,
    )
