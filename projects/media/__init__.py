"""Everything Storyboard does with video and image bytes: probing, stills, posters, joining."""

from .bridges import Bridges, Folder
from .concat import ConcatResult, concat
from .errors import MediaError
from .frames import difference, first_frame, frame_at, last_frame, make_poster, save_png
from .images import fit_image, open_image
from .join import join, prepare, trim
from .kinds import kind_of
from .pieces import JoinResult, Piece, Transition
from .probe import ClipInfo, probe

__all__ = [
    "Bridges",
    "Folder",
    "ClipInfo",
    "ConcatResult",
    "JoinResult",
    "MediaError",
    "Piece",
    "Transition",
    "concat",
    "difference",
    "fit_image",
    "first_frame",
    "frame_at",
    "join",
    "kind_of",
    "last_frame",
    "make_poster",
    "open_image",
    "prepare",
    "probe",
    "save_png",
    "trim",
]
