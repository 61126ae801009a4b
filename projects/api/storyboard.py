"""The storyboard file: a project's shots, settings and cast as JSON, to take out and to
make a new project from, the same file the page downloads and `storyboard import` reads."""

import re
import tempfile
from pathlib import Path

from django.db import transaction
from django.utils.text import get_valid_filename
from ninja import File, Form, Router, Schema, Status, UploadedFile

from .. import actions, storyboard_file
from ..access import in_reach, token_allows
from ..models import Team
from .common import ApiError, Id, answers, viewer

router = Router(tags=["storyboard file"])

# Where the file sent, and a bundle's contents, were kept while read.
TEMPORARY = re.escape(tempfile.gettempdir()) + r"/[^/\s:]+/"
NO_FILE = "Choose a storyboard file (JSON, or a zip bundle)."
NO_TEAM = "You make no projects in that team: only its owners and editors do."
NO_TEAMS = "You make projects in no team: ask an owner."


class Imported(Schema):
    id: int
    title: str
    team: int
    shots: int


@router.get(
    "/{int:project_id}/storyboard",
    url_name="storyboard-file",
    openapi_extra={
        "responses": {
            200: {
                "description": "The storyboard file (JSON); a zip with it as "
                "storyboard.json beside the pictures and references it names, when it names any.",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/zip": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def storyboard_export(request, project_id: Id):
    """The project's storyboard file, as /projects/<id>/storyboard.json on the site gives
    it: what `storyboard import` and the import here read back."""
    return storyboard_file.response(viewer(request, project_id).project)


@router.post("/import", response=answers(Imported, 201), url_name="storyboard-import")
def storyboard_import(
    request,
    # Optional here, so that who may import is decided first; then it is required.
    file: File[UploadedFile] = None,
    team: Form[Id | None] = None,
    title: Form[str] = "",
):
    """Make a project from a storyboard file (JSON, or a zip bundle with the pictures and
    references it names), checked as `storyboard import` checks it: in `team` (one where
    the token's owner makes projects), else the token's team, else the first team by name
    where they make projects, or a team of their own when they are in none."""
    user, token = request.user, request.auth
    token_allows(token, "edit")  # a read-only token makes nothing, a team least of all
    # The teams and the rule of project create (POST /projects/): one named must be
    # among them; none named, the first of them.
    teams = actions.teams_for_new_project(user, token)
    if team is not None:
        mine = in_reach(Team.objects.filter(members=user), token, "pk")
        if not mine.filter(pk=team).exists():
            raise ApiError(404, "not_found", "No such team.")
        found = teams.filter(pk=team).first()
    else:
        found = teams.filter(pk=token.team_id).first() if token.team_id else teams.first()
    if found is None:
        raise ApiError(403, "forbidden", NO_TEAM if team is not None else NO_TEAMS)
    if file is None:
        raise ApiError(422, "invalid", NO_FILE, {"file": [NO_FILE]})
    name = get_valid_filename(Path(file.name or "storyboard.json").name) or "storyboard.json"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            for chunk in file.chunks():
                out.write(chunk)
        try:
            with transaction.atomic():
                project = storyboard_file.load(path, user, team=found)
                if title.strip():
                    project.title = title.strip()
                    project.save(update_fields=["title"])
        except storyboard_file.StoryboardError as error:
            # Said as the command line says it, of the file as sent (not where it was kept).
            message = re.sub(TEMPORARY, "", str(error))
            raise ApiError(422, "invalid_storyboard", message) from None
    return Status(
        201,
        {
            "id": project.pk,
            "title": project.title,
            "team": project.team_id,
            "shots": project.shots.count(),
        },
    )
