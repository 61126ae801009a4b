"""Joining pieces of clips into one MP4: trims, seamless continues, transitions, sound.

    join(pieces, output, *, seamless=True, normalize=False, force_reencode=False,
         bridges=None, progress=None) -> JoinResult(mode, duration, frames, reencoded, prepared)
    trim(piece, output, progress=None) -> JoinResult
    prepare(pieces, bridges, *, seamless=True) -> frames encoded
    frame_at(path, index) -> PIL.Image (in frames.py)

A Piece is frames `first`..`last` (inclusive, 0-based in the clip's own frames,
`last=None` for its end) of one clip, and says how it joins the piece before it: a
"cut", optionally with a Transition, or a "continue" (its clip starts on the previous
clip's last frame, e.g. frame_at(previous clip, previous piece's last)).

- seamless: at every continue, the continuing clip's first frame (the repeat of the
  previous piece's last) is dropped, picture and sound alike, when the piece keeps it:
  a continue trimmed in has cut it already. Without it every frame is kept.
- Trims are frame-exact wherever they fall.
- Transitions (at cuts only), N frames of the output: a crossfade overlaps the two
  pieces by N frames (the sequence gets N shorter); a dip fades the outgoing piece to
  black over its last N // 2 frames (its last frame black) and the incoming in from
  black over its first N - N // 2 (its first frame black), without overlap. Sound
  crossfades (equal power) or fades alongside. See pieces.Transition for the weights.
- Sound: each piece's sound is cut at its picture's frames to the sample, so nothing
  drifts however many seams; seams without a transition crossfade over 5 ms so they
  don't click; pieces without sound are silent. normalize passes the whole through
  FFmpeg's loudnorm (one pass) to -16 LUFS. The file states sound and picture equally
  long; decoded, sound ends within its last AAC frame's padding. A plain copy (below)
  keeps today's copied sound, within an AAC frame per clip. A smart join (not
  normalised) copies the clips' 48 kHz AAC frames between seams, each piece's sound
  moved by under half a frame (10.7 ms) to fit the track's frame grid, and encodes only
  the sound around seams (soundcopy.py); a re-encode encodes all of it.
- How the picture is made (JoinResult.mode, with `reencoded` the frames encoded):
  "copy" when every frame's packets can be copied (whole clips that share their codec
  parameters, or trims on GOP boundaries); "smart" when they share parameters but some
  frames must change: those from a trim that isn't on a keyframe to the next one, after
  a continue, and in transitions are encoded again to match and spliced in (smart.py);
  "reencode" when the clips differ (codec, size, rate, H.264 parameter sets) or
  force_reencode is set: everything is encoded anew at the first clip's size, at the
  clips' rate if they share one, else 24 fps. Sound is copied only by a plain join of
  whole clips whose sound shares one format; otherwise it is encoded (AAC, 48 kHz).
- bridges, a store of prepared bridges (bridges.py), lets a smart join copy what it
  would encode of each clip on its own (a continue's first GOP, a trim inside a GOP)
  from an earlier join or from prepare(), which encodes just that, ahead of time, for
  each piece as it would follow another; transitions are always encoded in the join.
  JoinResult.prepared counts the frames so taken.
- progress, if given, is called with a rising fraction from 0.0 to 1.0; 1.0 comes once
  `output` is in place. `output` only ever holds a complete file.
- A clip that can't be read, a piece outside its clip, or transitions longer than their
  pieces raise MediaError, whose message is fit to show a user; a malformed Piece or
  Transition raises ValueError.
"""

from collections.abc import Callable, Sequence
from fractions import Fraction

from .bridges import Bridges
from .errors import MediaError
from .pieces import JoinResult, Piece
from .plan import Placed, place, repeats
from .probe import probe
from .reencode import FPS, reencode
from .remux import remux
from .smart import plan_splice, splice
from .smart import prepare as prepare_splice
from .sources import inspect
from .writing import AtomicMp4


def join(
    pieces: Sequence[Piece],
    output,
    *,
    seamless: bool = True,
    normalize: bool = False,
    force_reencode: bool = False,
    bridges: Bridges | None = None,
    progress: Callable[[float], None] | None = None,
) -> JoinResult:
    """Join `pieces`, in order, into one MP4 at `output` (see the module's docstring)."""
    if not pieces:
        raise MediaError("There are no clips to join.")
    sources = {}
    for piece in pieces:
        if str(piece.path) not in sources:
            sources[str(piece.path)] = inspect(piece.path)
    report = _Progress(progress)
    report(0.0)
    rates = {source.rate for source in sources.values()}
    rate = rates.pop() if len(rates) == 1 else Fraction(FPS)
    placed = place(pieces, sources, rate, seamless=seamless)

    mode, count, spliced = _method(placed, normalize, force_reencode)
    prepared = 0
    with AtomicMp4(output) as target:
        if mode == "copy":
            remux([piece.source for piece in placed], target, report)
        elif mode == "smart":
            prepared = splice(spliced, target, report, normalize, bridges)
        else:
            reencode(placed, target, report, normalize)
    report.done()
    written = probe(output)
    return JoinResult(
        # A splice that encoded nothing (trims on GOP boundaries, sound to mix) copied.
        mode="copy" if mode == "smart" and not count else mode,
        duration=written.duration,
        frames=written.frames,
        reencoded=count,
        prepared=prepared,
    )


def prepare(pieces: Sequence[Piece], bridges: Bridges, *, seamless: bool = True) -> int:
    """Encode ahead, into `bridges`, what a smart join will encode of each piece on its own:
    each as it would follow another piece (a continue's first frame dropped when
    seamless and kept). Returns the frames encoded, 0 when all were prepared already."""
    encoded = 0
    for piece in pieces:
        source = inspect(piece.path)
        drop = 1 if seamless and repeats(piece) else 0
        if piece.last is not None and piece.first + drop > piece.last:
            continue  # nothing of it would be shown
        alone = Piece(piece.path, piece.first + drop, piece.last)
        plan = plan_splice(place([alone], {str(piece.path): source}, source.rate, seamless=False))
        if plan is not None and plan.bridges is not None:
            encoded += prepare_splice(plan, bridges)
    return encoded


def trim(piece: Piece, output, progress: Callable[[float], None] | None = None) -> JoinResult:
    """Write `piece` (its frames first..last) on its own as an MP4 at `output`."""
    return join([Piece(piece.path, piece.first, piece.last)], output, progress=progress)


def _method(placed: list[Placed], normalize: bool, force_reencode: bool) -> tuple:
    """The mode, the number of frames it encodes, and the splice plan for "smart"."""
    copyable = len({p.source.copy_key for p in placed}) == 1
    if not force_reencode and _plain(placed) and not normalize and copyable:
        return "copy", 0, None
    if not force_reencode and (spliced := plan_splice(placed)):
        return "smart", spliced.reencoded, spliced
    return "reencode", placed[-1].end, None


def _plain(placed: list[Placed]) -> bool:
    """Whole clips, one after another, nothing blended, faded or dropped."""
    return all(
        piece.whole and not (piece.blend_in or piece.blend_out or piece.fade_in or piece.fade_out)
        for piece in placed
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
