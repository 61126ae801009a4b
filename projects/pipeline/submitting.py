"""Sending takes: what may start now, and the create itself (what becomes of one whose
answer was lost is pipeline.uncertain's to say)."""

import io
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from .. import costs, gateways, limits, media
from ..files import local_copy
from ..models import Kind, Take
from ..models.connections import PAUSED
from ..providers import MAX_IMAGE_BYTES, ProviderError, get_client
from . import guarding, polling, uncertain
from .failing import fail_take
from .leases import beat
from .requests import build_request, callback_url, fingerprinted, kept

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
    with gateways.for_project(project):  # new takes go through the team's gateway
        return _start_ready(project)


def _start_ready(project):
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
                fail_take(take, gate.stop)
            elif gate.ready and (take.not_before is None or take.not_before <= now):
                if gate.upstream is not None and guarding.holds(
                    take, shot, before, gate.upstream, gate.out
                ):
                    continue
                # Not sent until submit says so (uncertain.take_over reads it).
                fields = {"submitted_at": None, **beat()}
                if take.note.startswith(PAUSED):  # its gateway was paused, and is not now
                    fields["note"] = ""
                try:
                    claim = limits.claim(take, refuse=costs.over_budget, fail=fail_take, **fields)
                except ProviderError as unusable:
                    # A team's connection that cannot be used (its address is inside
                    # this network): the take fails unsent. The deployment's own
                    # misconfiguration fails nothing, as before.
                    if not (unusable.permanent and gateways.through_connection(project)):
                        raise
                    fail_take(take, unusable)
                    continue
                if claim.claimed and submit(take, gate.upstream, gate.out):
                    submitted.append(take)
                elif claim.wait:  # a limit of the provider: ask again then
                    later = {"not_before": now + timedelta(seconds=claim.wait)}
                    if claim.note:
                        later["note"] = claim.note
                    Take.objects.filter(pk=take.pk, status=Status.WAITING).update(**later)
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
    if upstream is None and latest is not None and latest.status == Status.DONE:
        # The shots were read before that take was done and picked (one step), its takes
        # after: a moment's view, not a chain without a take. Asked again soon.
        return Gate()
    if upstream is None or upstream.status != Status.DONE:
        return Gate(
            stop=f"Not generated: shot {before.number} has no finished take to continue from."
        )
    return Gate(ready=True, upstream=upstream, out=before.trim_out)


def submit(take, upstream, out=None):
    """Create the remote task of a claimed take. Its id is stored before anything else.

    A continue starts on `upstream`'s last frame, or on its frame `out` when the shot
    before is trimmed to end there. The request is built once for this create and kept
    on the take before it is sent (requests.kept): what a lost create is looked for by.

    A refused create fails the take; one that surely made nothing (429, no connection)
    waits and is tried again, up to PIPELINE_MAX_ATTEMPTS; one whose outcome is unknown
    (no answer, a timeout, a 5xx) is uncertain, and never sent again by itself
    (pipeline.uncertain). True once the task exists and the take follows it.
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
        fail_take(take, error)
        return False
    take.attempts += 1
    request = fingerprinted(request, take)
    # Record what is sent before sending it: if the answer is lost, the take still
    # says what it asked for, and how to recognise its task.
    take.inputs = shot.inputs(take.kind)
    take.upstream_take = upstream
    take.fingerprint = request.fingerprint
    take.request = kept(request)
    take.submitted_at = timezone.now()  # set: from here on, the create may have been sent
    for name, value in beat().items():  # the lease covers the create
        setattr(take, name, value)
    take.save(
        update_fields=[
            "inputs",
            "upstream_take",
            "upstream_out",
            "seed",
            "attempts",
            "fingerprint",
            "request",
            "submitted_at",
            "heartbeat_at",
            "worker",
        ]
    )
    try:
        refused = client.problems(request)
        if refused:
            raise ProviderError(" ".join(refused), permanent=True)
        remote_id = client.create(request)
    except ProviderError as error:
        if note := gateways.refused(error):  # a refused key made nothing: wait for a new one
            take.move(
                Status.WAITING,
                not_before=timezone.now() + timedelta(seconds=settings.SEEDANCE_POLL_INTERVAL),
                next_look_at=None,
                note=note,
            )
            return False
        if uncertain.is_uncertain(error):
            return uncertain.lost(take, client, error)
        if error.permanent:
            fail_take(take, error)
        else:
            _retry_later(take, error)
        return False
    return polling.follow(take, remote_id, Status.SUBMITTING)


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


def _retry_later(take, error):
    """Put a take whose create hit a passing trouble back in line, with backoff."""
    if take.attempts >= settings.PIPELINE_MAX_ATTEMPTS:
        fail_take(take, f"Gave up after {take.attempts} tries: {error}")
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
