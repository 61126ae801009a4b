"""Joining clips, in order, into one MP4: by stream copy when they allow it, else by re-encoding."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .errors import MediaError
from .probe import probe
from .reencode import reencode
from .remux import remux
from .sources import inspect
from .writing import AtomicMp4


@dataclass(frozen=True)
class ConcatResult:
    mode: Literal["copy", "reencode"]
    duration: float  # seconds, as probed from the written file
    frames: int


def concat(
    inputs: Sequence, output, progress: Callable[[float], None] | None = None
) -> ConcatResult:
    """Join the clips at `inputs`, in order, into one MP4 at `output`.

    Clips that share codec parameters and audio layout are joined by copying packets, which
    is fast and lossless; anything else is re-encoded to H.264/AAC at the first clip's size.
    `progress`, if given, is called with a rising fraction from 0.0 to 1.0; 1.0 comes once
    `output` is in place.
    """
    if not inputs:
        raise MediaError("There are no clips to join.")
    sources = [inspect(path) for path in inputs]
    report = _Progress(progress)
    report(0.0)
    copy = len({source.copy_key for source in sources}) == 1
    with AtomicMp4(output) as target:
        (remux if copy else reencode)(sources, target, report)
    report.done()
    written = probe(output)
    return ConcatResult(
        mode="copy" if copy else "reencode", duration=written.duration, frames=written.frames
    )


class _Progress:
    """Passes rising fractions to a callback, at most one call per percent.

    1.0 is kept for done(), so a caller seeing it can rely on the file being in place.
    """

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._reported = -1.0

    def __call__(self, fraction: float) -> None:
        fraction = min(fraction, 0.99)
        if self._callback and fraction - self._reported >= 0.01:
            self._reported = fraction
            self._callback(fraction)

    def done(self) -> None:
        if self._callback:
            self._callback(1.0)
