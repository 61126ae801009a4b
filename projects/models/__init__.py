"""The app's rows, a module per idea: teams, projects and shots, takes and exports, the
provider's shared limits; `tracking` stamps every write for the live timeline."""

from .limits import ProviderCall, ProviderGate
from .projects import (
    MAX_DURATION,
    MIN_DURATION,
    RATIOS,
    RESOLUTIONS,
    RETIRED_INPUTS,
    Opening,
    Project,
    ProjectQuerySet,
    Reference,
    Shot,
    ShotQuerySet,
)
from .takes import Export, Take, TakeQuerySet, take_upload_to
from .teams import Team
from .tracking import Tracked, TrackedQuerySet

__all__ = [
    "MAX_DURATION",
    "MIN_DURATION",
    "RATIOS",
    "RESOLUTIONS",
    "RETIRED_INPUTS",
    "Export",
    "Opening",
    "Project",
    "ProjectQuerySet",
    "ProviderCall",
    "ProviderGate",
    "Reference",
    "Shot",
    "ShotQuerySet",
    "Take",
    "TakeQuerySet",
    "Team",
    "Tracked",
    "TrackedQuerySet",
    "take_upload_to",
]
