"""Everything an editor takes away besides the MP4: timelines, EDL, captions, a contact sheet.

Plain functions over a neutral description of the cut (Cut, Entry), with no Django in sight.
"""

from .captions import write_srt, write_vtt
from .cut import Cut, Entry, Span, Transition, first_words, spans
from .edl import write_edl
from .errors import InterchangeError
from .fcpxml import write_fcpxml
from .timeline import timeline, write_otio

__all__ = [
    "Cut",
    "Entry",
    "InterchangeError",
    "Span",
    "Transition",
    "first_words",
    "spans",
    "timeline",
    "write_edl",
    "write_fcpxml",
    "write_otio",
    "write_srt",
    "write_vtt",
]
