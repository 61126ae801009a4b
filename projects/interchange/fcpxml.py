"""The cut as Final Cut Pro XML (FCPXML 1.8, also read by DaVinci Resolve), written by the
OTIO fcpx_xml adapter from the cut's timeline.

What the adapter can express, and so what survives:
- one spine of clips in order, each an asset with its trim and its place in the sequence;
  every duration is exact, at 24, 25, 30, 50 or 60 fps (the rates the adapter knows);
- no transitions: the adapter drops them. A crossfade becomes a cut at its centre, where
  the editor's dissolve would sit; a dip becomes N frames of black gap between hard cuts.
  Both keep every entry's timing; the editor adds the dissolves back;
- markers keep the full prompt, on one line; the shot's number is in the clip's name, the
  opening is lost;
- the format element has the frame rate but no frame size: the adapter asks ffprobe for
  it, which the app does not ship (and the clips need not be on this machine);
- an asset's src is the clip's URL: file:// for an absolute path, and a relative URL as
  given otherwise, which Resolve relinks but Final Cut wants made absolute;
- no apostrophes in clip names (the adapter looks names up with XPath and breaks on
  them): they become typographic ones;
- sound: the adapter marks an asset hasAudio="1" only for a clip on an audio track, so
  the timeline carries one (timeline.timeline) with each clip whose file has a sound
  track (as probed: Entry.has_audio): the adapter writes it as lane -1 under the picture,
  and the asset is heard; a clip without sound stays hasAudio="0".
"""

import opentimelineio as otio

from .cut import Cut
from .errors import InterchangeError
from .output import deliver
from .timeline import timeline

RATES = (24, 25, 30, 50, 60)


def write_fcpxml(cut: Cut, out) -> None:
    """Write `cut` as FCPXML to `out` (a path or a binary file)."""
    if cut.fps not in RATES:
        raise InterchangeError(f"FCPXML is written at {RATES} fps, not {cut.fps}.")
    edited = timeline(cut)
    for clip in edited.find_clips():
        clip.name = clip.name.replace("'", "’")
        for marker in clip.markers:
            # A line break in an attribute is read back as a space, and Final Cut shows one line.
            marker.name = " ".join(marker.name.split())
    text = otio.adapters.write_to_string(edited, adapter_name="fcpx_xml")
    deliver(text.encode(), out)
