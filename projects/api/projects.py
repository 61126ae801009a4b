"""Projects: listed, made, read, their settings changed, deleted; and the actions that
spend tokens on all their shots (generate, make final) or stop them (cancel)."""

from datetime import datetime

from django.db.models import F
from ninja import Router, Schema, Status

from .. import actions, edits, pipeline, throttle
from ..access import in_reach, token_allows
from ..forms import NewProjectForm, ProjectForm
from ..models import Project
from .common import (
    Body,
    Id,
    Number,
    Queued,
    accepted,
    answers,
    form_data,
    form_invalid,
    paginated,
    viewer,
)

router = Router(tags=["projects"])


class ProjectOut(Schema):
    id: int
    title: str
    team: int
    role: str
    model: str
    draft_model: str
    resolution: str
    ratio: str
    generate_audio: bool
    watermark: bool
    budget_tokens: int | None
    guard_blank: bool
    guard_cut: bool
    guard_blur: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_team(project):
        return project.team_id

    @staticmethod
    def resolve_role(project, context):
        """The token owner's role in the project's team: what they may do with it."""
        role = getattr(project, "role", None)
        return role or project.team.role_of(context["request"].user)


class ProjectIn(Body):
    """A new project: its title, its team (one where you own or edit; when you are in
    one such team only, it goes without saying) and its first settings."""

    title: str | None = None
    team: Id | None = None
    model: str | None = None
    resolution: str | None = None
    ratio: str | None = None
    generate_audio: bool | None = None


class ProjectSettings(Body):
    """The settings to change (those left out stay); `version`, the one you read, to be
    refused (409) rather than overwrite someone's change made since."""

    title: str | None = None
    model: str | None = None
    draft_model: str | None = None
    resolution: str | None = None
    ratio: str | None = None
    generate_audio: bool | None = None
    watermark: bool | None = None
    budget_tokens: Number | None = None
    guard_blank: bool | None = None
    guard_cut: bool | None = None
    guard_blur: bool | None = None
    version: Number | None = None


@router.get("/", response=answers(list[ProjectOut]), url_name="project-list")
@paginated
def project_list(request, team: Id | None = None):
    """The projects of the teams the token reaches (of one team: ?team=ID), by title."""
    projects = Project.objects.filter(team__memberships__user=request.user).annotate(
        role=F("team__memberships__role")  # the one membership the filter joined
    )
    if team is not None:
        projects = projects.filter(team=team)
    return in_reach(projects, request.auth).order_by("title", "pk")


@router.post("/", response=answers(ProjectOut, 201), url_name="project-list")
def project_create(request, payload: ProjectIn):
    """Make a project: the same form, and the same messages, as the web's."""
    token_allows(request.auth, "edit")
    teams = actions.teams_for_new_project(request.user, request.auth)
    unbound = NewProjectForm(teams=teams)
    form = NewProjectForm(form_data(unbound, payload.dict(exclude_unset=True)), teams=teams)
    if not form.is_valid():
        raise form_invalid(form)
    project = form.save(commit=False)
    project.created_by = project.edited_by = request.user
    project.save()
    return Status(201, project)


@router.get("/{int:project_id}", response=answers(ProjectOut), url_name="project-detail")
def project_detail(request, project_id: Id):
    return viewer(request, project_id).project


@router.patch("/{int:project_id}", response=answers(ProjectOut), url_name="project-detail")
def project_update(request, project_id: Id, payload: ProjectSettings):
    """Change settings: one edit, as the web's settings page saves it; shots made with
    other settings are stale after."""
    project = viewer(request, project_id, "edit").project
    unbound = ProjectForm(instance=project)
    form = ProjectForm(form_data(unbound, payload.dict(exclude_unset=True)), instance=project)
    if not form.is_valid():
        raise form_invalid(form)
    return edits.save(form, request.user)


@router.delete("/{int:project_id}", response=answers(None, 204), url_name="project-detail")
def project_delete(request, project_id: Id):
    """Delete a project: at once when nothing of it is being made, else once what runs
    at the provider has ended (what is paid is collected, never lost)."""
    pipeline.delete_project(viewer(request, project_id, "delete").project)
    return Status(204, None)


@router.post(
    "/{int:project_id}/generate", response=answers(Queued, 202), url_name="project-generate"
)
def project_generate(request, project_id: Id):
    """Generate: a draft of every shot lacking a current one (it spends tokens; counted
    against the token's rate). The takes queued; a worker sends them."""
    seen = viewer(request, project_id, "generate")
    throttle.count(request, seen, "generate")
    queued = actions.generate(seen.project, request.user)
    return accepted(queued, actions.ALL_CURRENT)


@router.post("/{int:project_id}/final", response=answers(Queued, 202), url_name="project-final")
def project_final(request, project_id: Id):
    """Make final: every shot again at the project's settings, with its draft's prompt
    and seed."""
    seen = viewer(request, project_id, "generate")
    throttle.count(request, seen, "generate")
    queued = actions.make_final(seen.project, request.user)
    return accepted(queued, actions.ALL_FINAL)


@router.post("/{int:project_id}/cancel", response=answers(Queued, 202), url_name="project-cancel")
def project_cancel(request, project_id: Id):
    """Cancel: what has not been sent stops at once; the takes listed are queued at the
    provider, which a worker asks to cancel (running ones finish, and are paid)."""
    seen = viewer(request, project_id, "generate")
    return accepted(actions.cancel(seen.project))
