"""Shots and their takes: added, edited, deleted, generated, cancelled, picked, exported."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from .. import actions, arrange, cut, edits, pipeline, throttle
from ..access import project_for
from ..actions import start_pipeline
from ..forms import ExportForm, NewShotForm, ShotForm
from ..models import Export, Take
from ..pipeline.exporting import QUEUE_REFUSED
from ..timeline import TIMELINE, present
from .common import timeline_or_redirect


@login_required
@require_POST
def shot_create(request, pk):
    viewer = project_for(request.user, pk, "edit")
    project = viewer.project
    count = project.shots.count()
    at = NewShotForm.place(request.POST, count)
    form = NewShotForm(request.POST, request.FILES, project=project, first=at == 0, count=count)
    if form.is_valid():
        actions.create_shot(project, form, at, request.user)
        return redirect(project)
    context = present(viewer)
    context["shot_form"] = form
    return render(request, "projects/project_detail.html", context, status=400)


@login_required
def shot_edit(request, pk, shot_id):
    viewer = project_for(request.user, pk, "view" if request.method == "GET" else "edit")
    project = viewer.project
    shot = get_object_or_404(project.shots, pk=shot_id)
    form = ShotForm(
        request.POST or None,
        request.FILES or None,
        instance=shot,
        project=project,
        first=shot.position == 0,
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            actions.edit_shot(project, form, request.user)
        except edits.Conflict as conflict:
            form.add_error(None, str(conflict))
            status = 409
        else:
            return redirect(project)
    elif form.errors:
        status = 400
    context = {"project": project, "shot": shot, "form": form, "viewer": viewer}
    return render(request, "projects/shot_edit.html", context, status=status)


@login_required
@require_POST
def shot_delete(request, pk, shot_id):
    """Remove a shot; the timeline offers to undo it until the project's next change."""
    viewer = project_for(request.user, pk, "edit")
    shot = get_object_or_404(viewer.project.shots, pk=shot_id)
    arrange.remove(shot)
    messages.success(request, f"Deleted shot {shot.number}.")
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_regenerate(request, pk, shot_id):
    viewer = project_for(request.user, pk, "generate")
    throttle.count(request, viewer, "generate")
    shot = get_object_or_404(viewer.project.shots, pk=shot_id)
    if not actions.regenerate(shot, request.user):
        messages.info(request, f"Shot {shot.number} is already being generated.")
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_regenerate_from(request, pk, shot_id):
    viewer = project_for(request.user, pk, "generate")
    throttle.count(request, viewer, "generate")
    shot = get_object_or_404(viewer.project.shots, pk=shot_id)
    actions.regenerate_from(shot, request.user)
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def project_generate(request, pk):
    viewer = project_for(request.user, pk, "generate")
    throttle.count(request, viewer, "generate")
    try:
        if not actions.generate(viewer.project, request.user):
            messages.info(request, actions.ALL_CURRENT)
    except actions.Refused as refusal:
        messages.error(request, str(refusal))
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def project_make_final(request, pk):
    """Make final: re-render every shot at the project's settings, with its draft's prompt
    and seed, finals chaining from finals."""
    viewer = project_for(request.user, pk, "generate")
    throttle.count(request, viewer, "generate")
    try:
        if not actions.make_final(viewer.project, request.user):
            messages.info(request, actions.ALL_FINAL)
    except actions.Refused as refusal:
        messages.error(request, str(refusal))
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def project_cancel(request, pk):
    viewer = project_for(request.user, pk, "generate")
    actions.cancel(viewer.project)
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_trim(request, pk, shot_id):
    """Set the frames of the shot's selected take that play in the cut."""
    viewer = project_for(request.user, pk, "edit")
    shot = get_object_or_404(viewer.project.shots.select_related("selected_take"), pk=shot_id)
    try:
        first, last = int(request.POST["trim_in"]), int(request.POST["trim_out"])
    except (KeyError, ValueError):
        first = last = -1
    try:
        messages.success(request, actions.trim(shot, first, last))
    except actions.Refused as refusal:
        messages.error(request, str(refusal))
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def shot_release(request, pk, shot_id):
    """Continue a shot the seam guard holds from a frame picked on its card, within the
    last SEAM_PICK_SECONDS of the shot before: that shot ends there, and the hold goes."""
    viewer = project_for(request.user, pk, "generate")
    throttle.count(request, viewer, "generate")
    shot = get_object_or_404(viewer.project.shots, pk=shot_id)
    try:
        out = int(request.POST["out"])
    except (KeyError, ValueError):
        out = None
    try:
        released = actions.release(viewer.project, shot, out)
    except actions.Refused as refusal:
        messages.error(request, str(refusal))
    else:
        if released is None:
            messages.info(request, f"Shot {shot.number} is not held.")
        else:
            messages.success(request, released)
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def take_send_again(request, pk, take_id):
    """Send a take whose create got no sure answer again: the gateway may have made it
    already, so only a person decides, knowing it may be billed twice."""
    viewer = project_for(request.user, pk, "generate")
    take = get_object_or_404(
        Take.objects.select_related("shot"), pk=take_id, shot__project=viewer.project
    )
    if pipeline.send_again(take, by=request.user):
        start_pipeline(viewer.project)
        messages.success(request, f"Shot {take.shot.number} is sent again.")
    else:
        messages.info(request, f"Shot {take.shot.number} is not waiting to be sent again.")
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def take_select(request, pk, take_id):
    viewer = project_for(request.user, pk, "edit")
    take = actions.selectable(viewer.project, take_id)
    if take is None:
        raise Http404
    actions.select_take(take)
    return timeline_or_redirect(request, viewer)


@login_required
@require_POST
def export_create(request, pk):
    viewer = project_for(request.user, pk, "export")
    throttle.count(request, viewer, "export")
    project = viewer.project
    form = ExportForm(request.POST)
    if request.POST.get("format") in Export.TIMELINES:  # only in the bundle (ExportForm)
        messages.error(request, ExportForm.ONLY_IN_BUNDLE)
        if request.htmx:
            return HttpResponseClientRedirect(project.get_absolute_url())
        return redirect(project)
    try:
        format, kind = request.POST.get("format"), request.POST.get("kind")
        kind, plan = pipeline.plan_for(project, format, kind)
    except cut.NotReady as error:
        messages.error(request, str(error))
        if request.htmx:
            return HttpResponseClientRedirect(project.get_absolute_url())
        return redirect(project)
    options = form.cleaned_data if form.is_valid() else ExportForm.defaults()
    export, new, refusal = pipeline.queue_export(
        project, kind, plan, created_by=request.user, **options
    )
    if not new:
        messages.info(
            request,
            "An export like this one is already being made: it is below, and this request "
            "joined it. Export again once it is done for what changed meanwhile.",
        )
    if refusal is not None:
        messages.error(request, QUEUE_REFUSED)
        if request.htmx:
            return HttpResponseClientRedirect(project.get_absolute_url())
        return redirect(project)
    if request.htmx:
        return render(request, f"{TIMELINE}#exports", present(viewer))
    return redirect(project)
