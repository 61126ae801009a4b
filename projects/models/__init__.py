"""The app's rows, a module per idea: teams (members, roles, invitations), projects and
shots, takes and exports, links that open a project to outsiders, comments, the ledger of
what was spent, and the provider's shared limits; `tracking` stamps every write for the
live timeline."""

from .breakdowns import Breakdown
from .bridges import Bridge
from .cast import CastImage, CastMember
from .comments import Comment, Mention
from .limits import ProviderCall, ProviderGate
from .links import Link
from .projects import (
    MAX_DURATION,
    MAX_PROMPT,
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
    Transition,
)
from .spend import Spend
from .takes import (
    ASSUMED_RATE,
    Export,
    Format,
    Kind,
    Take,
    TakeQuerySet,
    Verdict,
    take_upload_to,
)
from .teams import Invitation, Membership, Role, Team
from .tokens import AccessToken
from .tracking import Tracked, TrackedQuerySet

__all__ = [
    "AccessToken",
    "Breakdown",
    "ASSUMED_RATE",
    "Bridge",
    "CastImage",
    "CastMember",
    "Comment",
    "Invitation",
    "Kind",
    "Link",
    "Membership",
    "Mention",
    "Role",
    "Verdict",
    "MAX_DURATION",
    "MAX_PROMPT",
    "MIN_DURATION",
    "RATIOS",
    "RESOLUTIONS",
    "RETIRED_INPUTS",
    "Export",
    "Format",
    "Transition",
    "Opening",
    "Project",
    "ProjectQuerySet",
    "ProviderCall",
    "ProviderGate",
    "Reference",
    "Shot",
    "ShotQuerySet",
    "Spend",
    "Take",
    "TakeQuerySet",
    "Team",
    "Tracked",
    "TrackedQuerySet",
    "take_upload_to",
]
