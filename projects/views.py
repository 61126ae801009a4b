"""Pages and fragments of projects: views read and write rows and enqueue work, nothing more."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_q.tasks import async_task

from . import pipeline, storyboard_file
from .access import (
    Viewer,
    input_from_token,
    project_for_member,
    project_for_share,
    take_from_callback_token,
)
from .files import serve
from .forms import ProjectForm, ShotForm
from .models import Export, Opening, Project, Reference, Shot, Take, Team
from .pace import Expectations
from .timeline import TIMELINE, decorate, link_exports, present


def _start_pipeline(project):
    transaction.on_commit(lambda: async_task("projects.tasks.start", project.pk))


@login_required
def project_list(request):
    projects = Project.objects.for_user(request.user).prefetch_related("shots__selected_take")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.save(commit=False)
        project.team = Team.default_for(request.user)
        project.created_by = request.user
        project.save()
        return redirect(project)
    for project in projects:
        project.cover = next(
            (
                reverse("take-file", args=[project.pk, shot.selected_take_id, "poster"])
                for shot in project.shots.all()
                if shot.selected_take and shot.selected_take.poster
            ),
            None,
        )
    return render(request, "projects/project_list.html", {"projects": projects, "form": form})


@login_required
@require_GET
def project_detail(request, pk):
    project = project_for_member(request.user, pk)
    context = present(Viewer(project))
    context["shot_form"] = ShotForm(
        project=project, first=not context["shots"], initial=_next_shot_initial(context["shots"])
    )
    context["project_form"] = ProjectForm(instance=project)
    return render(request, "projects/project_detail.html", context)


def _next_shot_initial(shots):
    return {"duration": 5, "opening": Opening.CONTINUE if shots else Opening.CUT}


@login_required
@require_POST
def project_settings(request, pk):
    project = project_for_member(request.user, pk)
    form = ProjectForm(request.POST, instance=project)
    if form.is_valid():
        form.save()
        messages.success(request, "Settings saved. Shots made with other settings are now stale.")
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect(project)


@login_required
@require_POST
def project_delete(request, pk):
    project = project_for_member(request.user, pk)
    project.delete()
    messages.success(request, f"Deleted “{project.title}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("project-list"))
    return redirect("project-list")


@login_required
@require_POST
def shot_create(request, pk):
    project = project_for_member(request.user, pk)
    count = project.shots.count()
    form = ShotForm(request.POST, request.FILES, project=project, first=count == 0)
    if form.is_valid():
        shot = form.save(commit=False)
        shot.project = project
        shot.position = count
        with transaction.atomic():
            shot.save()
            form.save_references()
            project.touch()
        return redirect(project)
    context = present(Viewer(project))
    context["shot_form"] = form
    context["project_form"] = ProjectForm(instance=project)
    return render(request, "projects/project_detail.html", context, status=400)


@login_required
def shot_edit(request, pk, shot_id):
    project = project_for_member(request.user, pk)
    shot = get_object_or_404(project.shots, pk=shot_id)
    form = ShotForm(
        request.POST or None,
        request.FILES or None,
        instance=shot,
        project=project,
        first=shot.position == 0,
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect(project)
    return render(
        request, "projects/shot_edit.html", {"project": project, "shot": shot, "form": form}
    )


@login_required
@require_POST
def shot_delete(request, pk, shot_id):
    project = project_for_member(request.user, pk)
    shot = get_object_or_404(project.shots, pk=shot_id)
    with transaction.atomic():
        shot.delete()
        for position, remaining in enumerate(project.shots.in_order()):
            if remaining.position != position:
                remaining.position = position
                remaining.save(update_fields=["position"])
        first = project.shots.in_order().first()
        if first is not None and first.opening != Opening.CUT:
            first.opening = Opening.CUT
            first.save(update_fields=["opening"])
        project.touch()
    messages.success(request, f"Deleted shot {shot.number}.")
    return _timeline_or_redirect(request, project)


@login_required
@require_POST
def shot_regenerate(request, pk, shot_id):
    project = project_for_member(request.user, pk)
    shot = get_object_or_404(project.shots, pk=shot_id)
    if pipeline.queue_takes(project, shots=[shot]):
        _start_pipeline(project)
    else:
        messages.info(request, f"Shot {shot.number} is already being generated.")
    return _timeline_or_redirect(request, project)


@login_required
@require_POST
def shot_regenerate_from(request, pk, shot_id):
    project = project_for_member(request.user, pk)
    shot = get_object_or_404(project.shots, pk=shot_id)
    if pipeline.queue_from(shot):
        _start_pipeline(project)
    return _timeline_or_redirect(request, project)


@login_required
@require_POST
def project_cancel(request, pk):
    project = project_for_member(request.user, pk)
    queued = [take.pk for take in pipeline.cancel(project)]
    if queued:
        transaction.on_commit(lambda: async_task("projects.tasks.cancel", queued))
    return _timeline_or_redirect(request, project)


@login_required
@require_POST
def take_select(request, pk, take_id):
    project = project_for_member(request.user, pk)
    take = get_object_or_404(Take, pk=take_id, shot__project=project, status=Take.Status.DONE)
    take.select()
    return _timeline_or_redirect(request, project)


@login_required
@require_POST
def project_generate(request, pk):
    project = project_for_member(request.user, pk)
    if not project.shots.exists():
        messages.error(request, "Add a shot first.")
    elif pipeline.queue_takes(project):
        _start_pipeline(project)
    else:
        messages.info(request, "Every shot already has a current take.")
    return _timeline_or_redirect(request, project)


def _timeline_or_redirect(request, project):
    if request.htmx:
        return render(request, f"{TIMELINE}#timeline", present(Viewer(project)))
    return redirect(project)


@login_required
@require_POST
def export_create(request, pk):
    project = project_for_member(request.user, pk)
    shots = project.timeline()
    missing = [shot.number for shot in shots if shot.current_take is None]
    if not shots or missing:
        listed = ", ".join(map(str, missing))
        messages.error(
            request,
            f"Nothing to export yet: shot {listed} has no finished take."
            if missing
            else "Add and generate shots first.",
        )
        if request.htmx:
            return HttpResponseClientRedirect(project.get_absolute_url())
        return redirect(project)
    export = Export.objects.create(
        project=project, takes=[shot.current_take.pk for shot in shots], created_by=request.user
    )
    transaction.on_commit(lambda: async_task("projects.tasks.export", export.pk))
    if request.htmx:
        return render(request, f"{TIMELINE}#exports", present(Viewer(project), shots))
    return redirect(project)


@login_required
@require_POST
def project_share(request, pk):
    project = project_for_member(request.user, pk)
    if request.POST.get("action") == "stop":
        project.disable_sharing()
        messages.success(request, "The share link no longer works.")
    else:
        project.enable_sharing()
    return redirect(project)


@login_required
@require_GET
def project_storyboard(request, pk):
    """The storyboard file; a zip with the frames and references too, when it names any."""
    project = project_for_member(request.user, pk)
    stored_files = storyboard_file.files(project)
    if stored_files:
        return FileResponse(
            storyboard_file.bundle(project, stored_files),
            as_attachment=True,
            filename=f"{project.pk}-storyboard.zip",
            content_type="application/zip",
        )
    response = HttpResponse(
        json.dumps(storyboard_file.dump(project), indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{project.pk}-storyboard.json"'
    return response


# Fragments and files, shared by team members and share-link viewers.


def _viewer(request, pk=None, token=None):
    if token is not None:
        return Viewer(project_for_share(token), share_token=token)
    return Viewer(project_for_member(request.user, pk))


@require_GET
def shot_card(request, pk=None, shot_id=None, token=None):
    viewer = _viewer(request, pk, token)
    shot = next((s for s in viewer.project.timeline() if s.pk == shot_id), None)
    if shot is None:
        raise Http404
    decorate(viewer, [shot], Expectations.recent())
    context = {"project": viewer.project, "viewer": viewer, "shot": shot}
    return render(request, f"{TIMELINE}#shot-card", context)


@require_GET
def export_card(request, pk=None, export_id=None, token=None):
    viewer = _viewer(request, pk, token)
    export = get_object_or_404(viewer.project.exports, pk=export_id)
    link_exports(viewer, [export])
    context = {"project": viewer.project, "viewer": viewer, "export": export}
    return render(request, f"{TIMELINE}#export-card", context)


TAKE_FILES = {"video": "video", "poster": "poster", "last-frame": "last_frame"}


@require_GET
def take_file(request, pk=None, take_id=None, kind=None, token=None):
    viewer = _viewer(request, pk, token)
    take = get_object_or_404(Take, pk=take_id, shot__project=viewer.project)
    if kind not in TAKE_FILES:
        raise Http404
    field = getattr(take, TAKE_FILES[kind])
    if not field:
        raise Http404
    return serve(request, field)


@require_GET
def export_download(request, pk=None, export_id=None, token=None):
    viewer = _viewer(request, pk, token)
    export = get_object_or_404(viewer.project.exports, pk=export_id, status=Export.Status.DONE)
    return serve(request, export.file, filename=export.filename(), attachment=True)


@require_GET
def shared_project(request, token):
    viewer = _viewer(request, token=token)
    return render(request, "projects/shared.html", present(viewer))


# What a provider may be sent a link to: (model, field) -> model class.
PROVIDER_INPUTS = {
    ("take", "last_frame"): Take,
    ("shot", "first_frame"): Shot,
    ("shot", "last_frame_target"): Shot,
    ("reference", "file"): Reference,
}


@require_GET
def provider_input(request, token):
    """A frame or reference for the provider to fetch, by a signed and expiring link.

    Served as stored: images were fitted to every provider's limits when they were.
    """
    model, pk, field = input_from_token(token)
    if (model, field) not in PROVIDER_INPUTS:
        raise Http404
    instance = get_object_or_404(PROVIDER_INPUTS[model, field], pk=pk)
    stored = getattr(instance, field)
    if not stored:
        raise Http404
    return serve(request, stored, redirect=False)


@csrf_exempt
@require_POST
def take_callback(request, token):
    """The provider says a task changed. Callbacks are unsigned, so the body is not
    trusted: a worker reads the task from the provider before anything is believed."""
    take = get_object_or_404(Take, pk=take_from_callback_token(token))
    if take.is_in_flight:
        async_task("projects.tasks.look", [take.pk])
    return HttpResponse(status=204)
