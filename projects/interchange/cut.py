"""The neutral description of a cut that every interchange format is written from, and its timing.

Time is counted in frames of the cut's rate. The sequence plays the entries one after
another, each entry entering by a plain cut unless it carries a transition:

- a crossfade of N frames overlaps the two entries by N frames: the incoming entry starts
  N frames before the outgoing one ends, so the sequence is N frames shorter;
- a dip to black of N frames does not overlap: the outgoing entry fades to black over its
  last N // 2 frames and the incoming one fades in over its first N - N // 2.

Editors place a transition on an edit point. Ours sit where an editor centres them: a
crossfade's edit falls N // 2 frames into the overlap, a dip's at the black between the
two entries. `spans` gives both views of each entry, for captions and timelines alike.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from .errors import InterchangeError

OPENINGS = ("cut", "continue")
# The local simulator's directives ([sim:fail], [sim:delay=3]...): for it, not for people.
DIRECTIVE = re.compile(r"[ \t]*\[sim:[^\]]*\]")
TRANSITIONS = ("crossfade", "dip")


class Transition(NamedTuple):
    """How an entry enters: ("crossfade" | "dip", frames). A plain tuple is accepted too."""

    kind: Literal["crossfade", "dip"]
    frames: int

    @property
    def head(self) -> int:
        """Frames at the start of the incoming entry that play inside this transition."""
        return self.frames if self.kind == "crossfade" else self.frames - self.frames // 2

    @property
    def tail(self) -> int:
        """Frames at the end of the outgoing entry that play inside this transition."""
        return self.frames if self.kind == "crossfade" else self.frames // 2

    @property
    def overlap(self) -> int:
        """Frames during which both entries are on screen; the sequence is this much shorter."""
        return self.frames if self.kind == "crossfade" else 0


@dataclass(frozen=True)
class Entry:
    """One shot as it plays in the cut: which frames of which clip, and how it enters."""

    number: int  # the shot's number in the project, 1-based
    prompt: str
    opening: Literal["cut", "continue"]
    clip: str  # the clip file as the timeline references it: "clips/01-drone-shot.mp4" or absolute
    clip_frames: int  # frames in that clip file
    source_in: int  # first frame of the clip that plays, 0-based
    frames: int  # how many frames of it play
    transition: Transition | None = None  # into this entry; only a cut entry has one
    poster: str | None = None  # path of a JPEG poster, for the contact sheet
    has_audio: bool = False  # the clip file has a sound track (as probed)
    notes: str = ""  # its dialogue and notes (a script import's lines), for the captions

    def __post_init__(self):
        # Every writer reads the prompt from here: none can show a directive.
        object.__setattr__(self, "prompt", for_people(self.prompt))
        if self.transition is not None:
            object.__setattr__(self, "transition", Transition(*self.transition))


@dataclass(frozen=True)
class Cut:
    """The shots of a project in order, trimmed, as one sequence of `width` x `height` at `fps`."""

    title: str
    width: int
    height: int
    entries: Sequence[Entry]  # kept as a tuple
    fps: int = 24

    def __post_init__(self):
        object.__setattr__(self, "entries", tuple(self.entries))
        _check(self)

    @property
    def frames(self) -> int:
        """Length of the whole sequence in frames."""
        return spans(self)[-1].end


@dataclass(frozen=True)
class Span:
    """Where one entry sits in the sequence, in frames from its start; ends are exclusive."""

    start: int  # its first frame is on screen (a crossfade into it begins here)
    end: int  # its last frame has left the screen
    edit_in: int  # the edit point that hands the picture to it: mid-crossfade, else `start`
    edit_out: int  # the next entry's edit_in, or `end` for the last entry


def spans(cut: Cut) -> list[Span]:
    """Each entry's place in the sequence, in the order of `cut.entries`.

    Edit ranges tile the sequence without gaps or overlaps; captions follow them, and an
    editor's timeline puts its cuts and centred transitions on them.
    """
    placed = []
    position = 0  # where the next entry would start if nothing overlapped
    for entry in cut.entries:
        transition = entry.transition
        start = position - (transition.overlap if transition else 0)
        edit_in = start + (transition.frames // 2 if transition and transition.overlap else 0)
        placed.append((start, start + entry.frames, edit_in))
        position = start + entry.frames
    edits_out = [edit_in for _, _, edit_in in placed[1:]] + [placed[-1][1]]
    return [
        Span(start, end, edit_in, edit_out)
        for (start, end, edit_in), edit_out in zip(placed, edits_out, strict=True)
    ]


def for_people(prompt: str) -> str:
    """`prompt` as what is made for people shows it (captions, timelines, file names, the
    contact sheet): without the simulator's [sim:...] directives. The provider is still
    sent the whole prompt."""
    return DIRECTIVE.sub("", prompt or "").strip()


def first_words(text: str, limit: int) -> str:
    """`text` on one line, cut after the last whole word within `limit` characters, with "…"."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    room = words[:limit]  # a space at its end means the word before it fits
    kept = room.rsplit(" ", 1)[0] if " " in room else room[: limit - 1]
    return kept.rstrip(" ,;:.-") + "…"


def _check(cut: Cut) -> None:
    if not cut.entries:
        raise InterchangeError("The cut has no shots.")
    if cut.fps < 1 or cut.width < 1 or cut.height < 1:
        raise InterchangeError("The cut needs a positive frame rate, width and height.")
    for index, entry in enumerate(cut.entries):
        name = f"Shot {entry.number}"
        if entry.opening not in OPENINGS:
            raise InterchangeError(f"{name} opens with '{entry.opening}', not cut or continue.")
        if entry.frames < 1 or entry.source_in < 0:
            raise InterchangeError(f"{name} plays no frames.")
        if entry.source_in + entry.frames > entry.clip_frames:
            raise InterchangeError(
                f"{name} plays frames {entry.source_in}-{entry.source_in + entry.frames - 1} "
                f"of a clip of {entry.clip_frames}."
            )
        transition = entry.transition
        if transition is None:
            continue
        if transition.kind not in TRANSITIONS or transition.frames < 1:
            raise InterchangeError(f"{name} enters with an unknown transition {transition}.")
        if index == 0:
            raise InterchangeError(f"{name} is first: there is nothing to transition from.")
        if entry.opening != "cut":
            raise InterchangeError(f"{name} continues its chain, so it enters by a plain cut.")
    # Each entry keeps a frame of its own, outside the transitions at either end, so that
    # transitions never meet and every clip keeps a place on an editor's timeline.
    for entry, after in zip(cut.entries, (*cut.entries[1:], None), strict=True):
        head = entry.transition.head if entry.transition else 0
        tail = after.transition.tail if after and after.transition else 0
        if head + tail >= entry.frames:
            raise InterchangeError(
                f"Shot {entry.number} plays {entry.frames} frames, too few for its transitions "
                f"({head} frames in, {tail} out)."
            )
