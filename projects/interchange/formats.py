"""Choosing the interchange format by the output's suffix."""

from pathlib import Path

from .captions import write_srt, write_vtt
from .contact_sheet import write_contact_sheet
from .cut import Cut
from .edl import write_edl
from .errors import InterchangeError
from .fcpxml import write_fcpxml
from .timeline import write_otio

WRITERS = {
    ".otio": write_otio,
    ".fcpxml": write_fcpxml,
    ".edl": write_edl,
    ".srt": write_srt,
    ".vtt": write_vtt,
    ".png": write_contact_sheet,
}


def write(cut: Cut, path) -> None:
    """Write `cut` to `path` in the format its suffix names (see WRITERS)."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise InterchangeError(
            f"No format for '{Path(path).name}'; use one of {', '.join(WRITERS)}."
        )
    WRITERS[suffix](cut, path)
