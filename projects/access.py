"""Who may see or do what: every view asks here, and only here.

A project is seen by the members of its team, each with a role, and by holders of its
live links. A signed-in stranger gets a 404 (the project's existence is not told); a
member whose role does not allow an action gets a 403 with a plain message. Templates
only read a Viewer's flags, never decide.
"""

import time

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from .models import Link, Mention, Project, Role, Team

# What each action needs: the roles that may take it.
ROLES = {
    "view": {Role.OWNER, Role.EDITOR, Role.VIEWER},
    "comment": {Role.OWNER, Role.EDITOR, Role.VIEWER},
    "review": {Role.OWNER, Role.EDITOR, Role.VIEWER},  # approve a take, or ask for changes
    "edit": {Role.OWNER, Role.EDITOR},  # projects, shots, takes picked
    "generate": {Role.OWNER, Role.EDITOR},  # spends tokens
    "export": {Role.OWNER, Role.EDITOR},
    "share": {Role.OWNER, Role.EDITOR},  # view and review links
    "delete": {Role.OWNER},  # a project
    "manage": {Role.OWNER},  # the team: name, members, invitations, budget
}
# What a link's holder may do.
LINKS = {
    Link.Kind.VIEW: {"view"},
    Link.Kind.REVIEW: {"view", "comment", "review"},
}
# Why a role cannot: the 403's plain message.
REFUSED = {
    "comment": "Viewers of this team can comment; you are not one.",
    "edit": "Only owners and editors can change this project.",
    "generate": "Only owners and editors can generate: it spends the team's tokens.",
    "export": "Only owners and editors can export.",
    "share": "Only owners and editors can make or revoke links.",
    "delete": "Only the team's owners can delete a project.",
    "manage": "Only the team's owners can manage it.",
}
# What an access token limited to reading may do (projects.models.AccessToken): look.
# A token limited to one team reaches no other: another team's project or team is, to
# it, as a stranger's (404).
TOKEN_READS = {"view"}
READ_ONLY = "This token is read-only: it can look, not change anything."


class Viewer:
    """Who looks at a project and what they may do: a member with a role, or a link's
    holder. Views build one; templates read its flags and links."""

    def __init__(self, project, role=None, link=None, user=None, guest_name=""):
        self.project = project
        self.role = role
        self.link = link
        self.user = user
        self.guest_name = guest_name
        allowed = LINKS[link.kind] if link is not None else _allowed(role)
        self.allowed = frozenset(allowed)

    def may(self, action):
        return action in self.allowed

    # The flags templates read.
    @property
    def editable(self):
        return self.may("edit")

    @property
    def can_generate(self):
        return self.may("generate")

    @property
    def can_export(self):
        return self.may("export")

    @property
    def can_share(self):
        return self.may("share")

    @property
    def can_delete(self):
        return self.may("delete")

    @property
    def can_comment(self):
        return self.may("comment")

    @property
    def can_review(self):
        return self.may("review")

    @property
    def shows_details(self):
        """Whether the cards show what takes cost and how they were made (tokens, seeds,
        model ids, the provider's task ids and notes): to members always; to a link's
        holders only when the link was made, or later set, to show them."""
        return self.link is None or self.link.shows_details

    @property
    def audience(self):
        """Who sees the same cards: the live timeline renders once per audience."""
        if self.link is not None:
            return f"link:{self.link.pk}"
        return "editors" if self.editable else "viewers"

    def page_url(self):
        if self.link is not None:
            return reverse("shared-project", args=[self.link.token])
        return self.project.get_absolute_url()

    def url(self, name, *args):
        if self.link is not None:
            return reverse(f"shared-{name}", args=[self.link.token, *args])
        return reverse(name, args=[self.project.pk, *args])


def _allowed(role):
    return {action for action, roles in ROLES.items() if role in roles}


def project_for(user, pk, action="view", token=None):
    """The Viewer of a member who may take `action` on project `pk`, asking in person or
    through an access `token` of theirs (which may limit them to a team, or to reading).

    Not a member (or not signed in, or the token's team is another): 404, the project's
    existence is not told. A member whose role (or token) does not allow it: 403, saying
    why.
    """
    if not user.is_authenticated:
        raise Http404
    # The project and the user's role in its team, in one query.
    found = (
        in_reach(Project.objects.filter(pk=pk, team__memberships__user=user), token)
        .annotate(role=F("team__memberships__role"))
        .with_billed()  # what the head says was spent, from the ledger, in the same query
        .select_related("team")
    )
    project = found.first()
    if project is None:
        raise Http404
    viewer = Viewer(project, role=project.role, user=user)
    _permit(viewer.may, action, token)
    return viewer


def in_reach(queryset, token, field="team"):
    """`queryset` (of projects, or of teams with field="pk") narrowed to what `token`
    reaches: its team alone when it has one."""
    if token is None or token.team_id is None:
        return queryset
    return queryset.filter(**{field: token.team_id})


def token_allows(token, action):
    """403 when an access token is limited to reading and `action` is more."""
    if token is not None and token.read_only and action not in TOKEN_READS:
        raise PermissionDenied(READ_ONLY)


def _permit(may, action, token):
    token_allows(token, action)
    if not may(action):
        raise PermissionDenied(REFUSED.get(action, "Your role does not allow this."))


def project_for_link(token, action="view", guest_name=""):
    """The Viewer of a link's holder who may take `action`; 404 otherwise (a revoked or
    expired link opens nothing, and says nothing)."""
    link = Link.find(token)
    if link is None or action not in LINKS[link.kind]:
        raise Http404
    return Viewer(link.project, link=link, guest_name=guest_name)


def cast_image_for(viewer, image_id):
    """The cast picture `viewer` may see, else 404: a member, any of the project's; a
    link's holder, only what their cards show, the first picture of a member in a shot
    of the project (not every picture of the cast, nor a member in no shot)."""
    from .models import CastImage, Shot

    images = CastImage.objects.filter(member__project=viewer.project)
    if viewer.link is not None:
        in_shots = Shot.objects.filter(project=viewer.project).values("cast")
        images = images.filter(member__in=in_shots)
        image = get_object_or_404(images, pk=image_id)
        if image != image.member.thumbnail:
            raise Http404
        return image
    return get_object_or_404(images, pk=image_id)


def team_for(user, pk, action="view", token=None):
    """A team the user is a member of, with their role; 404 or 403 as for projects."""
    if not user.is_authenticated:
        raise Http404
    team = get_object_or_404(in_reach(Team.objects.filter(members=user), token, "pk"), pk=pk)
    role = team.role_of(user)
    _permit(lambda action: action in _allowed(role), action, token)
    return team, role


def creatable_teams(user, token=None):
    """The teams where `user` (through `token`) may make projects: where they own or edit."""
    if token is not None and token.read_only:
        return Team.objects.none()
    teams = Team.objects.filter(memberships__user=user, memberships__role__in=MAKES_PROJECTS)
    return in_reach(teams, token, "pk").order_by("name")


def mentions_of(user):
    """A person's mentions, on the projects they may see now: leaving a team, or being
    removed from it, takes its comments out of their inbox with the projects."""
    return Mention.objects.filter(user=user, comment__shot__project__team__members=user)


# Who makes projects in a team.
MAKES_PROJECTS = {Role.OWNER, Role.EDITOR}
# A project moves from a team its mover owns to one where they make projects.
MOVES_FROM, MOVES_TO = {Role.OWNER}, MAKES_PROJECTS


def may_move(user, project, team):
    """Whether `user` may move `project` to `team`: they own the project's team, and
    may create projects in the other."""
    return project.team.role_of(user) in MOVES_FROM and team.role_of(user) in MOVES_TO


def move_targets(viewer):
    """The other teams a member looking at a project may move it to (one query)."""
    if viewer.user is None or viewer.role not in MOVES_FROM:
        return []
    return list(
        Team.objects.filter(memberships__user=viewer.user, memberships__role__in=MOVES_TO)
        .exclude(pk=viewer.project.team_id)
        .order_by("name")
    )


INPUT_SALT = "projects.input"
INPUT_LIFETIME = 24 * 3600


def input_token(instance, field):
    """A signed, expiring token naming one stored input (a frame or a reference) for a
    provider to fetch, as stored (images were fitted to every provider when stored)."""
    value = {"m": instance._meta.model_name, "pk": instance.pk, "f": field}
    return signing.dumps(value, salt=INPUT_SALT, compress=True)


def input_from_token(token):
    """(model name, pk, field) of a valid, unexpired token; otherwise 404."""
    try:
        value = signing.loads(token, salt=INPUT_SALT, max_age=INPUT_LIFETIME)
    except signing.BadSignature:
        raise Http404 from None
    return value["m"], value["pk"], value["f"]


CALLBACK_SALT = "projects.callback"
# Past a task's lifetime: the provider retries a last callback for a little while (Ark:
# three times, 5 s apart), and its clock may differ from ours.
CALLBACK_GRACE = 600


def callback_token(take, lifetime):
    """A signed token naming a take, for the provider's status callbacks about it. It
    works until the take's deadline: `lifetime` seconds from now, the longest its task
    can live at the provider, and CALLBACK_GRACE after."""
    until = int(time.time() + lifetime + CALLBACK_GRACE)
    return signing.dumps({"t": take.pk, "u": until}, salt=CALLBACK_SALT)


def take_from_callback_token(token):
    """The take a valid token names, before its deadline; otherwise 404."""
    try:
        value = signing.loads(token, salt=CALLBACK_SALT)
    except signing.BadSignature:
        raise Http404 from None
    # Tokens of before deadlines named the take alone: they work no more.
    if not isinstance(value, dict) or value.get("u", 0) < time.time():
        raise Http404
    return value["t"]
