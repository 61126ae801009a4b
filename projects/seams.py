"""The seam inspector: how well each take of a shot joins each take of the shot it
continues, scored on the two frames that meet there.

A continue's take started on one take of the shot before (its upstream take), so that
pair meets on the same picture: its score is near 0. Every other pair is what the cut
would show if it were picked: the director sees them all, best first, and picks.
"""

import io
from dataclasses import dataclass

from PIL import Image

from . import media
from .files import local_copy
from .models import Take


@dataclass
class Pair:
    before: Take  # a finished take of the shot before
    after: Take  # a finished take of the continuing shot
    difference: float  # 0-100, see media.difference
    chained: bool  # `after` was made from `before`'s frame
    in_cut: bool  # both are the selected takes now


def first_frame(take):
    """The first frame of a finished take's clip: as the worker kept it, or read from the
    clip for a take collected before first frames were kept (the worker keeps it soon:
    a page never stores anything)."""
    if not take.first_frame:
        with local_copy(take.video, ".mp4") as path:
            return media.first_frame(path)
    with take.first_frame.open("rb") as f:
        return Image.open(io.BytesIO(f.read())).convert("RGB")


def end_frame(take, out=None):
    """The frame a continue after `take` starts on: its last frame, or frame `out`."""
    if out is None:
        with take.last_frame.open("rb") as f:
            return Image.open(io.BytesIO(f.read())).convert("RGB")
    with local_copy(take.video, ".mp4") as path:
        return media.frame_at(path, out)


def pairs(before, shot):
    """Every pair of finished takes meeting at the seam of `shot` with `before`, the shot it
    continues, best joined first."""
    done = Take.Status.DONE
    befores = [t for t in before.takes_in_order() if t.status == done and t.last_frame]
    afters = [t for t in shot.takes_in_order() if t.status == done and t.video]
    ends = {t.pk: end_frame(t, before.trim_out) for t in befores}
    starts = {t.pk: first_frame(t) for t in afters}
    found = [
        Pair(
            before=b,
            after=a,
            difference=media.difference(ends[b.pk], starts[a.pk]),
            chained=a.upstream_take_id == b.pk,
            in_cut=b.pk == before.selected_take_id and a.pk == shot.selected_take_id,
        )
        for b in befores
        for a in afters
    ]
    return sorted(found, key=lambda pair: (pair.difference, not pair.chained))
