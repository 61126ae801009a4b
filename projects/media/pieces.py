"""The vocabulary of a join: pieces of clips, how each joins the one before, and the result."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Transition:
    """A transition at a cut, `frames` long (frames of the output's rate).

    crossfade: the two pieces overlap by `frames`; overlapping frame j (0-based) is
        (1 - w) * outgoing + w * incoming with w = (j + 1) / (frames + 1), and the sound
        crossfades at equal power over the same time. The sequence is `frames` shorter.
    dip: no overlap. The outgoing piece fades to black over its last frames // 2 frames,
        its last frame black; the incoming fades in from black over its first
        frames - frames // 2, its first frame black. Sound fades out and in alongside.
    """

    kind: Literal["crossfade", "dip"]
    frames: int

    def __post_init__(self) -> None:
        if self.kind not in ("crossfade", "dip"):
            raise ValueError(f"Unknown transition {self.kind!r}.")
        if self.frames < 1:
            raise ValueError("A transition lasts at least one frame.")

    @property
    def overlap(self) -> int:
        return self.frames if self.kind == "crossfade" else 0

    @property
    def fade_out(self) -> int:
        return self.frames // 2 if self.kind == "dip" else 0

    @property
    def fade_in(self) -> int:
        return self.frames - self.frames // 2 if self.kind == "dip" else 0


@dataclass(frozen=True)
class Piece:
    """Frames `first` to `last` (inclusive, 0-based, in the clip's own frames; `last=None`
    for the clip's last frame) of the clip at `path`.

    `joins` says how it follows the piece before it: "cut", or "continue" when its clip
    starts on the previous piece's last frame (a seamless join drops that repeat, when
    `first` keeps it). Only a
    cut can carry a transition. The first piece's join is ignored; it can't have a
    transition (ValueError from join()).
    """

    path: str | Path
    first: int = 0
    last: int | None = None
    joins: Literal["cut", "continue"] = "cut"
    transition: Transition | None = None

    def __post_init__(self) -> None:
        if self.joins not in ("cut", "continue"):
            raise ValueError(f"Unknown join {self.joins!r}.")
        if self.transition is not None and self.joins != "cut":
            raise ValueError("Only a cut can have a transition.")
        if self.first < 0 or (self.last is not None and self.last < self.first):
            raise ValueError(f"Frames {self.first} to {self.last} are not a range.")


@dataclass(frozen=True)
class JoinResult:
    # How the picture was made: every packet copied, copied but for the frames around
    # cuts, continues and transitions ("smart"), or all encoded anew.
    mode: Literal["copy", "smart", "reencode"]
    duration: float  # seconds, as probed from the written file
    frames: int
    reencoded: int = 0  # frames of the output that were encoded rather than copied
    prepared: int = 0  # of those, frames encoded before the join (media.prepare) and copied
