"""Everything an editor takes away besides the MP4: timelines, EDL, captions, a contact sheet.

Plain functions over a neutral description of the cut (Cut, Entry), with no Django in sight.
"""

from .cut import Cut, Entry, Span, Transition, first_words, spans
from .errors import InterchangeError
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
    "write_otio",
]
