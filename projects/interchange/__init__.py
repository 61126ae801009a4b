"""Everything an editor takes away besides the MP4: timelines, EDL, captions, a contact sheet,
and the printed storyboard a crew passes round.

Plain functions over neutral descriptions (the cut: Cut, Entry; the storyboard: Board,
Panel), with no Django in sight.
"""

from .board import Board, Panel, write_board
from .board import layout as board_layout
from .captions import write_srt, write_vtt
from .contact_sheet import layout, write_contact_sheet
from .cut import Cut, Entry, Span, Transition, first_words, for_people, spans
from .edl import write_edl
from .errors import InterchangeError
from .fcpxml import write_fcpxml
from .formats import WRITERS, write
from .timeline import timeline, write_otio

__all__ = [
    "Board",
    "Panel",
    "Cut",
    "Entry",
    "InterchangeError",
    "Span",
    "Transition",
    "WRITERS",
    "board_layout",
    "first_words",
    "for_people",
    "layout",
    "spans",
    "timeline",
    "write",
    "write_board",
    "write_contact_sheet",
    "write_edl",
    "write_fcpxml",
    "write_otio",
    "write_srt",
    "write_vtt",
]
