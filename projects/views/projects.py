"""Projects: the list by team, a project's page, its settings, moving and deleting it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from .. import actions, activity, edits, gateways, pipeline, storyboard_file
from ..access import mentions_of, move_targets, project_for
from ..forms import NewProjectForm, NewShotForm, ProjectForm
from ..models import Project, Shot, Team
from ..timeline import present
from .teams import invited


@login_required
def project_list(request):
    """The user's projects, grouped by team, their inbox of mentions, and a new project."""
    teams = list(
        Team.objects.filter(members=request.user)
        .prefetch_related(
            Prefetch(
                "projects",
                Project.objects.prefetch_related(
                    Prefetch("shots", Shot.objects.select_related("selected_take"))
                ),
            )
        )
        .order_by("name")
    )
    roles = dict(request.user.memberships.values_list("team_id", "role"))
    creatable = actions.teams_for_new_project(request.user)
    form = NewProjectForm(request.POST or None, teams=creatable)
    # A member who only views in every team of theirs makes projects in none: the page
    # says so where the form would be, rather than a form with an empty list of teams.
    may_create = bool(form.teams)  # read once, by the form
    if request.method == "POST" and form.is_valid():
        project = form.save(commit=False)
        project.created_by = project.edited_by = request.user
        project.save()
        return redirect(project)
    for team in teams:
        team.role = roles.get(team.pk)
        for project in team.projects.all():
            project.cover = next(
                (
                    reverse("take-file", args=[project.pk, shot.selected_take_id, "poster"])
                    for shot in project.shots.all()
                    if shot.selected_take and shot.selected_take.poster
                ),
                None,
            )
    inbox = (
        mentions_of(request.user)
        .filter(read_at=None)
        .select_related("comment__shot__project", "comment__author")
        .order_by("-comment__created_at")[:20]
    )
    context = {
        "teams": teams,
        "form": form,
        "may_create": may_create,
        "inbox": inbox,
        "invited": invited(request.user),
    }
    return render(request, "projects/project_list.html", context)


@login_required
@require_GET
def project_detail(request, pk):
    viewer = project_for(request.user, pk)
    project = viewer.project
    context = present(viewer, exports_page=request.GET.get("exports") or 1)
    shots = context["shots"]
    at = NewShotForm.place(request.GET, len(shots))
    context["shot_form"] = NewShotForm(
        project=project,
        first=at == 0,
        count=len(shots),
        initial={**NewShotForm.initial_for(at == 0), "at": at if at < len(shots) else ""},
    )
    # Why its shots wait, when the team's gateway connection is paused: as their cards say
    # (read from the takes already on the page, not asked again).
    context["gateway_paused"] = gateways.paused_among(
        take for shot in shots for take in shot.takes.all()
    )
    return render(request, "projects/project_detail.html", context)


@login_required
def project_settings(request, pk):
    """The project's settings, links, team and activity; saving settings is one edit."""
    viewer = project_for(request.user, pk, "view" if request.method == "GET" else "edit")
    project = viewer.project
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            edits.save(form, request.user)
        except edits.Conflict as conflict:
            form.add_error(None, str(conflict))
        else:
            messages.success(
                request, "Settings saved. Shots made with other settings are now stale."
            )
            return redirect(project)
    context = {
        "project": project,
        "viewer": viewer,
        "form": form,
        "links": project.links.live() if viewer.can_share else [],
        "move_to": move_targets(viewer),
        "activity": activity.of_project(project)[:20],
    }
    status = 400 if form.errors else 200
    return render(request, "projects/project_settings.html", context, status=status)


@login_required
@require_POST
def project_move(request, pk):
    viewer = project_for(request.user, pk, "edit")
    project = viewer.project
    team = get_object_or_404(Team, pk=request.POST.get("team"), members=request.user)
    try:
        current = actions.move_project(request.user, project, team)
    except actions.Refused as refusal:
        messages.error(request, str(refusal))
        return redirect(project)
    messages.success(request, f"“{current.title}” now belongs to {team.name}.")
    return redirect(project)


@login_required
@require_POST
def project_delete(request, pk):
    project = project_for(request.user, pk, "delete").project
    pipeline.delete_project(project)
    messages.success(request, f"Deleted “{project.title}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("project-list"))
    return redirect("project-list")


@login_required
@require_GET
def project_storyboard(request, pk):
    """The storyboard file; a zip with the frames and references too, when it names any."""
    return storyboard_file.response(project_for(request.user, pk).project)


@login_required
@require_POST
def mention(request, mention_id):
    """Open a mention from the inbox (a form: it changes something): it is read, and the
    shot it is about is shown."""
    found = get_object_or_404(
        mentions_of(request.user).select_related("comment__shot"), pk=mention_id
    )
    found.read_at = found.read_at or timezone.now()
    found.save(update_fields=["read_at"])
    shot = found.comment.shot
    return redirect(f"{reverse('project-detail', args=[shot.project_id])}#shot-{shot.pk}")
