"""Joining whole clips, in order, into one MP4: the plain join, kept for existing callers."""

from collections.abc import Callable, Sequence

from .join import join
from .pieces import JoinResult, Piece

ConcatResult = JoinResult


def concat(inputs: Sequence, output, progress: Callable[[float], None] | None = None) -> JoinResult:
    """Join the clips at `inputs`, every frame of each, into one MP4 at `output`.

    Clips that share codec parameters are joined by copying packets, which is fast and
    lossless; anything else is re-encoded to H.264/AAC at the first clip's size.
    """
    return join([Piece(path) for path in inputs], output, seamless=False, progress=progress)
