"""Everything Storyboard does with video bytes: probing, stills, posters and joining clips."""

from .concat import ConcatResult, concat
from .errors import MediaError
from .frames import first_frame, last_frame, make_poster, save_png
from .probe import ClipInfo, probe

__all__ = [
    "ClipInfo",
    "ConcatResult",
    "MediaError",
    "concat",
    "first_frame",
    "last_frame",
    "make_poster",
    "probe",
    "save_png",
]
