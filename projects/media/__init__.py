"""Everything Storyboard does with video and image bytes: probing, stills, posters, joining."""

from .concat import ConcatResult, concat
from .errors import MediaError
from .frames import first_frame, last_frame, make_poster, save_png
from .images import fit_image
from .kinds import kind_of
from .probe import ClipInfo, probe

__all__ = [
    "ClipInfo",
    "ConcatResult",
    "MediaError",
    "concat",
    "fit_image",
    "kind_of",
    "first_frame",
    "last_frame",
    "make_poster",
    "probe",
    "save_png",
]
