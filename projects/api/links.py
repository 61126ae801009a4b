"""Links that open a project to people outside its team: listed (the live ones), made
(to watch, or to review), revoked. Owners and editors only, as on the web."""

from datetime import datetime, timedelta
from typing import Literal

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema, Status

from ..models import Link
from .common import Body, Id, answers, paginated, viewer

router = Router(tags=["links"])

# How long a new link works, in days, as the web's settings page offers (none: for good).
EXPIRIES = {1: timedelta(days=1), 7: timedelta(days=7), 30: timedelta(days=30)}


class LinkOut(Schema):
    """A link; `url`, the page it opens, to hand out (it holds the link's secret)."""

    id: int
    kind: str
    url: str
    shows_details: bool
    created_at: datetime
    expires_at: datetime | None

    @staticmethod
    def resolve_url(link, context):
        return context["request"].build_absolute_uri(reverse("shared-project", args=[link.token]))


class LinkIn(Body):
    """A new link: to watch (`view`) or to review; working for 1, 7 or 30 days, or
    until revoked when left out; showing what the takes cost and how they were made."""

    kind: Literal["view", "review"] = "view"
    expires_in_days: Literal[1, 7, 30] | None = None
    shows_details: bool = False


@router.get("/{int:project_id}/links", response=answers(list[LinkOut]), url_name="link-list")
@paginated
def link_list(request, project_id: Id):
    """The project's live links, the newest first."""
    return viewer(request, project_id, "share").project.links.live()


@router.post("/{int:project_id}/links", response=answers(LinkOut, 201), url_name="link-list")
def link_create(request, project_id: Id, payload: LinkIn):
    project = viewer(request, project_id, "share").project
    lifetime = EXPIRIES.get(payload.expires_in_days)
    link = Link.make(
        project,
        payload.kind,
        created_by=request.user,
        expires_at=timezone.now() + lifetime if lifetime else None,
        shows_details=payload.shows_details,
    )
    return Status(201, link)


@router.delete(
    "/{int:project_id}/links/{int:link_id}", response=answers(None, 204), url_name="link-detail"
)
def link_revoke(request, project_id: Id, link_id: Id):
    """Revoke a link: it opens nothing from now on."""
    project = viewer(request, project_id, "share").project
    get_object_or_404(project.links, pk=link_id).revoke()
    return Status(204, None)


class LinkChange(Body):
    """Whether the link's holders see what the takes cost and how they were made."""

    shows_details: bool


@router.patch(
    "/{int:project_id}/links/{int:link_id}", response=answers(LinkOut), url_name="link-detail"
)
def link_update(request, project_id: Id, link_id: Id, payload: LinkChange):
    """Show a live link's holders the costs and details of the takes, or hide them."""
    project = viewer(request, project_id, "share").project
    link = get_object_or_404(project.links.live(), pk=link_id)
    link.shows_details = payload.shows_details
    link.save(update_fields=["shows_details"])
    return link
