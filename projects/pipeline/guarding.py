"""The seam guard: a continue's start frame is checked before anything is paid for.

Before a continue is sent, the frame it would start on (the shot before's last frame, or
its out point) is checked on the upstream clip (media.guard): near-black or
near-uniform, just after a hard scene cut, or blurred. A failing frame holds the take: it
stays waiting, with `held` saying why, nothing is sent and no token is spent, and the
rest of its chain waits behind it. A project can turn each check off.

The hold is for one frame of one upstream take (kept in the take's upstream_take and
upstream_out). It is released by a person: picking another out point on the card's
scrubber (release_on), or regenerating the shot before, whose new take is checked afresh
when it is done, or turning the failed check off in the project's settings. A frame a
person picked is accepted without checking it again: the
director looked at it and chose it; any other frame, a new take's or a later trim's, is
checked.
"""

import logging
from collections import OrderedDict

from django.db import transaction

from .. import webhooks
from ..files import local_copy
from ..media import MediaError, guard, probe
from ..models import Kind, Shot, Take
from .collecting import learn_frames

log = logging.getLogger(__name__)
Status = Take.Status
# Verdicts already worked out, by (upstream take, out point, checks): a take retried
# later, or a limit that said "not yet", does not decode the clip again.
_SEEN = OrderedDict()
_SEEN_MAX = 256


def holds(take, shot, before, upstream, out):
    """Whether waiting continue `take` of `shot` must not be sent now, starting on frame
    `out` (None: the last) of `upstream`, the selected take of `before`. Holds it, or
    releases a hold on another frame, as the check finds."""
    if (
        take.held
        and take.upstream_take_id == upstream.pk
        and take.upstream_out == out
        and take.held_check in shot.project.guard_checks()
    ):
        return True  # still held on the same frame: a person moves it on
    finding = check(shot.project, upstream, out)
    if finding is None:
        if take.held:
            Take.objects.filter(pk=take.pk, status=Status.WAITING).update(held="", held_check="")
            take.held = take.held_check = ""
        return False
    reason = f"Held: shot {shot.number} would start on {finding.what} from shot {before.number}."
    fields = {
        "held": reason,
        "held_check": finding.check,
        "upstream_take": upstream,
        "upstream_out": out,
    }
    with transaction.atomic():
        if Take.objects.filter(pk=take.pk, status=Status.WAITING).update(**fields):
            for name, value in fields.items():
                setattr(take, name, value)
            webhooks.take_held(take)
            log.info("take %s: %s", take.pk, reason)
    return True


def check(project, upstream, out):
    """The first of the project's checks that frame `out` of `upstream` fails, or None."""
    checks = project.guard_checks()
    if not checks or _approved(upstream, out):
        return None
    # Ids alone may come back in another database (a test's, a restored one): the file
    # and when it was finished name the clip.
    key = (upstream.pk, upstream.video.name, upstream.finished_at, out, checks)
    if key in _SEEN:
        _SEEN.move_to_end(key)
        return _SEEN[key]
    try:
        with local_copy(upstream.video, ".mp4") as path:
            if upstream.frames is None:  # collected before takes kept their frames
                learn_frames(upstream, probe(path))
            finding = guard.check_seam(path, out, checks)
    except MediaError as error:
        # The guard cannot judge a clip it cannot read; the send says what is wrong, if
        # anything, rather than a hold nobody could act on.
        log.warning("take %s: the seam guard could not read its clip: %s", upstream.pk, error)
        return None
    _SEEN[key] = finding
    if len(_SEEN) > _SEEN_MAX:
        _SEEN.popitem(last=False)
    return finding


def _approved(upstream, out):
    """Whether a person picked frame `out` (None: the last) of `upstream` to continue from."""
    if upstream.approved_out is None:
        return False
    if out is None:  # an out point on the last frame is stored as none (see release_on)
        return upstream.approved_out == upstream.frame_count - 1
    return upstream.approved_out == out


def blocked(project):
    """Ids of the takes that cannot move until a person acts: held takes, uncertain ones
    no longer looked for (pipeline.uncertain), and the waiting takes after them in their
    chains (drafts and finals, each their own chain)."""
    ids = set()
    shots = project.timeline()
    for kind in Kind.values:
        behind = False
        before = None
        for shot in shots:
            if not shot.continues:
                behind = False
            take = shot.latest_of(kind)
            if take is not None and take.is_unresolved:
                ids.add(take.pk)
                behind = True
            elif take is None or take.status != Status.WAITING:
                behind = False
            elif behind or (take.held and _held_on(take, before, kind)):
                ids.add(take.pk)
                behind = True
            before = shot
    return ids


def _held_on(take, before, kind):
    """Whether held `take` is held on what `before` offers now (else it is checked again)."""
    upstream = before.selected_of(kind) if before is not None else None
    return (
        upstream is not None
        and take.upstream_take_id == upstream.pk
        and take.upstream_out == before.trim_out
    )


def release_on(upstream, out):
    """Continue from frame `out` of take `upstream`, picked by a person: it becomes the
    out point of its shot, the frame is accepted as a start, and the takes held on that
    take are let go. Returns them (the database only: views call it, then start the
    pipeline). The out point's in point, if later, moves back before it."""
    last = upstream.frame_count - 1
    with transaction.atomic():
        shot = Shot.objects.select_for_update().get(pk=upstream.shot_id)
        shot.trim_out = None if out >= last else out  # the clip's end is stored as none
        shot.trim_in = min(shot.trim_in, max(0, out - 1))
        shot.save(update_fields=["trim_in", "trim_out"])  # saved, for the activity log
        Take.objects.filter(pk=upstream.pk).update(approved_out=min(out, last))
        held = Take.objects.filter(upstream_take=upstream, status=Status.WAITING).exclude(held="")
        released = list(held)
        held.update(held="", held_check="")
    return released
