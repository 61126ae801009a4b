"""The timeline as pages, fragments and live events show it, with the viewer's links."""

import time
from collections import Counter

from django.conf import settings

from . import arrange, costs, cut
from .models import Export, Kind
from .pace import Expectations

TIMELINE = "projects/timeline.html"


def present(viewer, shots=None, exports=None, expectations=None):
    """The context of the whole timeline, with every link the viewer may follow."""
    shots = viewer.project.timeline() if shots is None else shots
    expectations = expectations or Expectations.recent()
    decorate(viewer, shots, expectations)
    return {**summary(viewer, shots, expectations, exports), "shots": shots}


def decorate(viewer, shots, expectations):
    """Give each of `shots` (from project.timeline()) what its card shows."""
    # A held take's upstream is a take of the shot before: among those read already.
    takes = {take.pk: take for shot in shots for take in shot.takes.all()}
    numbers = {shot.pk: shot.number for shot in shots}
    for shot in shots:
        shot.card = shot.card_take()
        if shot.card is not None and shot.card.is_unfinished:
            shot.card.expect(expectations.for_take(shot.card))
        shot.expected_time = costs.spoken_seconds(expectations.for_shot(shot))
        shot.final_card = shot.card_final()
        if shot.final_card is not None:
            if shot.final_card.is_unfinished:
                shot.final_card.expect(expectations.for_take(shot.final_card))
            expected = expectations.for_shot(shot, Kind.FINAL)
            shot.final_expected_time = costs.spoken_seconds(expected)
        shot.card_url = viewer.url("shot-card", shot.pk)
        shot.comment_url = viewer.url("comment-create", shot.pk)
        # Trims are on frames of the selected take's clip, as probed: what exports cut.
        take = shot.selected_take
        shot.clip_frames = take.frame_count if take is not None else 0
        shot.clip_rate = _rate(take)
        shot.trim_last = shot.clip_frames - 1 if shot.trim_out is None else shot.trim_out
        if shot.card is not None:
            shot.verdict_url = viewer.url("take-verdict", shot.card.pk)
            held = shot.card.is_held
            shot.seam = held_seam(viewer, shot.card, takes, numbers) if held else None
        shot.reference_summary = _reference_summary(shot.references.all())
        for take in shot.takes.all():
            take.video_url = viewer.url("take-file", take.pk, "video")
            take.poster_url = viewer.url("take-file", take.pk, "poster")
            take.last_frame_url = viewer.url("take-file", take.pk, "last-frame")


# A held continue's card offers the shot before's last seconds to pick a start frame in.
SEAM_PICK_SECONDS = 2


def seam_range(upstream):
    """The frames of take `upstream` a held continue may be picked to start on: (first, last)."""
    last = upstream.frame_count - 1
    return max(0, last + 1 - round(SEAM_PICK_SECONDS * upstream.rate)), last


def _rate(take):
    """A take's frames per second as a page writes it: "24", "29.97"."""
    return f"{take.rate:g}" if take is not None else ""


def held_seam(viewer, take, takes, numbers):
    """What a held card's scrubber needs: the upstream clip, its frames on offer, the
    frame it was held on. The upstream take is found among the timeline's `takes` (by
    id), its shot's number in `numbers` (by shot id); read alone only when not there."""
    upstream = takes.get(take.upstream_take_id) or take.upstream_take
    if upstream is None or not upstream.duration:
        return None
    first, last = seam_range(upstream)
    held_on = last if take.upstream_out is None else take.upstream_out
    number = numbers.get(upstream.shot_id) or upstream.shot.number
    return {
        "shot_id": upstream.shot_id,
        "number": number,
        "video_url": viewer.url("take-file", upstream.pk, "video"),
        "frame_url": viewer.url("take-file", upstream.pk, "last-frame"),
        "first": first,
        "last": last,
        "value": min(last, max(first, held_on)),
        "seconds": SEAM_PICK_SECONDS,
        "fps": _rate(upstream),
    }


def summary(viewer, shots, expectations, exports=None):
    """What the timeline says of itself: length, estimate, exports, where events come from."""
    project = viewer.project
    if exports is None:
        exports = list(project.exports.all()[:3])
    link_exports(viewer, exports)
    return {
        "project": project,
        "viewer": viewer,
        "shots_count": len(shots),
        "total_seconds": sum(shot.duration for shot in shots),
        "chain_count": shots[-1].chain if shots else 0,
        "estimate": costs.estimate(project, shots, expectations),
        "currency": settings.SEEDANCE_CURRENCY,
        "formats": Export.Format.choices,
        "kinds": Kind.choices,
        "draft_settings": project.settings_for(Kind.DRAFT),
        "export_kind": cut.kind_ready(shots),
        "exports": exports,
        # The shot an editor may still undo deleting.
        "removed": arrange.removed(project) if viewer.editable else None,
        # The stream starts with what changed after this page was rendered.
        "events_url": f"{viewer.url('project-events')}?since={time.time():.3f}",
    }


def link_exports(viewer, exports):
    for export in exports:
        export.card_url = viewer.url("export-card", export.pk)
        export.download_url = viewer.url("export-download", export.pk)


def _reference_summary(references):
    """ "2 images, 1 audio" for a shot's references; "" when it has none."""
    counts = Counter(reference.kind for reference in references)
    return ", ".join(
        f"{counts[kind]} {kind}{'s' if counts[kind] > 1 and kind != 'audio' else ''}"
        for kind in ("image", "video", "audio")
        if counts[kind]
    )
