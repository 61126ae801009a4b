"""Where each piece lands in the output: its source frames, output frames and transitions."""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .errors import MediaError
from .pieces import Piece
from .sources import Source


@dataclass(frozen=True)
class Placed:
    """A piece placed in the output.

    Its output frames are start .. end - 1; the first `blend_in` of them are shared with
    the previous piece (a crossfade) and the last `blend_out` with the next one. The first
    `fade_in` and the last `fade_out` dip to black.
    """

    source: Source
    first: int  # source frames, inclusive, after a seamless join's drop
    last: int
    start: int  # output frames
    frames: int
    rate: Fraction  # the output's frame rate
    blend_in: int = 0
    blend_out: int = 0
    fade_in: int = 0
    fade_out: int = 0

    @property
    def end(self) -> int:
        return self.start + self.frames

    @property
    def whole(self) -> bool:
        return self.first == 0 and self.last == self.source.frames - 1

    def source_frame(self, output: int) -> int:
        """The source frame shown at output frame `output` (the latest one begun by then,
        when the clip's rate differs from the output's)."""
        if self.source.rate == self.rate:
            return self.first + output - self.start
        offset = (output - self.start) * self.source.rate // self.rate
        return min(self.last, self.first + int(offset))


def place(
    pieces: Sequence[Piece], sources: dict, rate: Fraction, *, seamless: bool
) -> list[Placed]:
    """Lay `pieces` out at `rate` frames per second; `sources` maps each path to its Source."""
    if not pieces:
        raise MediaError("There are no clips to join.")
    if pieces[0].transition is not None:
        raise ValueError("The first piece has no piece before it to transition from.")
    ranges, elapsed, starts = [], Fraction(0), [0]
    for n, piece in enumerate(pieces):
        source: Source = sources[str(piece.path)]
        last = source.frames - 1 if piece.last is None else piece.last
        if last >= source.frames:
            raise MediaError(
                f"'{source.path.name}' has {source.frames} frames; a piece asks for frame {last}."
            )
        first = piece.first + (1 if seamless and n > 0 and repeats(piece) else 0)
        if first > last:
            raise MediaError(
                f"A piece of '{source.path.name}' has no frames left once the frame it "
                "shares with the shot before is dropped."
            )
        ranges.append((source, first, last))
        # Rounding where each piece starts, rather than each piece's length, keeps the
        # total within half a frame of the summed durations when rates differ.
        elapsed += Fraction(last - first + 1) / source.rate
        starts.append(round(elapsed * rate))

    placed, shift = [], 0
    for n, (source, first, last) in enumerate(ranges):
        before = pieces[n].transition if n > 0 else None
        after = pieces[n + 1].transition if n + 1 < len(pieces) else None
        shift += before.overlap if before else 0
        placed.append(
            Placed(
                source=source,
                first=first,
                last=last,
                start=starts[n] - shift,
                frames=starts[n + 1] - starts[n],
                rate=rate,
                blend_in=before.overlap if before else 0,
                blend_out=after.overlap if after else 0,
                fade_in=before.fade_in if before else 0,
                fade_out=after.fade_out if after else 0,
            )
        )
    for piece in placed:
        _check_fits(piece)
    return placed


def repeats(piece: Piece) -> bool:
    """Whether the piece keeps the frame a continue shares with the piece before (its
    clip's first): a seamless join drops that repeat. A continue trimmed in has cut it
    already, and loses nothing more."""
    return piece.joins == "continue" and piece.first == 0


def _check_fits(piece: Placed) -> None:
    head = piece.blend_in + piece.fade_in
    tail = piece.blend_out + piece.fade_out
    if head + tail > piece.frames:
        raise MediaError(
            f"A piece of '{piece.source.path.name}' is {piece.frames} frames long, too short "
            f"for transitions of {head} and {tail} frames."
        )
