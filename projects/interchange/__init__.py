"""Everything an editor takes away besides the MP4: timelines, EDL, captions, a contact sheet.

Plain functions over a neutral description of the cut (Cut, Entry), with no Django in sight.
"""

from .captions import write_srt, write_vtt
from .contact_sheet import layout, write_contact_sheet
from .cut import Cut, Entry, Span, Transition, first_words, for_people, spans
from .edl import write_edl
from .errors import InterchangeError
from .fcpxml import write_fcpxml
from .formats import WRITERS, write
from .timeline import timeline, write_otio

__all__ = [
    "Cut",
    "Entry",
    "InterchangeError",
    "Span",
    "Transition",
    "WRITERS",
    "first_words",
    "for_people",
    "layout",
    "spans",
    "timeline",
    "write",
    "write_contact_sheet",
    "write_edl",
    "write_fcpxml",
    "write_otio",
    "write_srt",
    "write_vtt",
]
