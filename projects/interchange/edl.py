"""The cut as a CMX 3600 EDL, written by the OTIO cmx_3600 adapter from the cut's timeline.

What CMX 3600 can say, and so what survives:
- one video track of events with source and record timecode (non-drop, at the cut's
  rate, the record starting at 00:00:00:00); every trim is exact;
- dissolves only: a crossfade is a D event of N frames starting where the incoming
  entry starts; a dip is a dissolve to the black reel BL and another from it;
- reel names of at most 8 letters and digits: each clip file gets one from its name
  (01-drone-shot.mp4 becomes 01droneshot cut to 01drones), numbered where two collide;
  the file itself is named in "* FROM CLIP:" comments, which Resolve and Premiere use;
- a prompt becomes a "* LOC:" marker comment, upper-cased by the adapter and put on one
  line; the shot's number is in the clip's name; the opening and posters are lost;
- the file is UTF-8: a prompt's own non-ASCII letters stay, which an old reader may mangle;
- events are numbered 001-999, so a cut can have at most 999 entries and dips together.
"""

import re
from pathlib import Path

import opentimelineio as otio

from .cut import Cut, Entry
from .errors import InterchangeError
from .output import deliver
from .timeline import timeline

REEL_LENGTH = 8
MAX_EVENTS = 999


def write_edl(cut: Cut, out) -> None:
    """Write `cut` as a CMX 3600 EDL to `out` (a path or a binary file)."""
    dips = sum(1 for entry in cut.entries if entry.transition and entry.transition.kind == "dip")
    if len(cut.entries) + dips > MAX_EVENTS:
        raise InterchangeError(f"A CMX 3600 EDL holds {MAX_EVENTS} events; this cut needs more.")
    edited = timeline(cut, sound=False)  # one track of picture events: its cuts are the sound's
    edited.name = _one_line(cut.title)
    reels = _reels(cut.entries)
    for clip, entry in zip(edited.find_clips(), cut.entries, strict=True):
        clip.name = _one_line(clip.name)
        # The comments name the file as a path: editors relink by it, and a URL would not do.
        clip.media_reference.target_url = entry.clip
        clip.metadata["cmx_3600"] = {"reel": reels[entry.clip]}
        for marker in clip.markers:
            marker.name = _one_line(marker.name)
    text = otio.adapters.write_to_string(
        edited, adapter_name="cmx_3600", rate=cut.fps, style="avid", reelname_len=REEL_LENGTH
    )
    deliver(text.encode(), out)


def _reels(entries: list[Entry]) -> dict[str, str]:
    """A distinct reel name for each clip file, from its name, in order of first use."""
    reels: dict[str, str] = {}
    for entry in entries:
        if entry.clip in reels:
            continue
        base = re.sub(r"[^A-Za-z0-9]", "", Path(entry.clip).stem)[:REEL_LENGTH] or "CLIP"
        reel, count = base, 1
        while reel in reels.values():
            count += 1
            reel = base[: REEL_LENGTH - len(str(count))] + str(count)
        reels[entry.clip] = reel
    return reels


def _one_line(text: str) -> str:
    # EDL readers expect ASCII; the ellipsis is ours, so it need not be the one exception.
    return " ".join(text.split()).replace("…", "...")
