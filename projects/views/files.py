"""Fragments and files, for team members (under the project's id) and link holders (under
the link's token) alike; and what providers fetch or call back to."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_q.tasks import async_task

from .. import pipeline
from ..access import input_from_token, take_from_callback_token
from ..files import serve
from ..models import CastImage, Export, Reference, Shot, Take
from ..pace import Expectations
from ..timeline import TIMELINE, decorate, link_exports, present
from .common import viewer_of


@require_GET
def shot_card(request, pk=None, shot_id=None, token=None):
    viewer = viewer_of(request, pk, token)
    shot = next((s for s in viewer.project.timeline() if s.pk == shot_id), None)
    if shot is None:
        raise Http404
    decorate(viewer, [shot], Expectations.recent())
    context = {"project": viewer.project, "viewer": viewer, "shot": shot}
    return render(request, f"{TIMELINE}#shot-card", context)


@require_GET
def export_card(request, pk=None, export_id=None, token=None):
    viewer = viewer_of(request, pk, token)
    export = get_object_or_404(viewer.project.exports, pk=export_id)
    link_exports(viewer, [export])
    context = {"project": viewer.project, "viewer": viewer, "export": export}
    return render(request, f"{TIMELINE}#export-card", context)


@require_GET
def export_list(request, pk=None, token=None):
    """A page of the exports (?page=N), as the timeline's exports fragment."""
    viewer = viewer_of(request, pk, token)
    context = present(viewer, exports_page=request.GET.get("page") or 1)
    return render(request, f"{TIMELINE}#exports", context)


TAKE_FILES = {
    "video": "video",
    "poster": "poster",
    "last-frame": "last_frame",
    "first-frame": "first_frame",
    "start-frame": "start_frame",
}


@require_GET
def take_file(request, pk=None, take_id=None, kind=None, token=None):
    viewer = viewer_of(request, pk, token)
    take = get_object_or_404(Take, pk=take_id, shot__project=viewer.project)
    if kind not in TAKE_FILES:
        raise Http404
    # Only what is stored: a first frame not kept yet comes with the worker's next sweep.
    field = getattr(take, TAKE_FILES[kind])
    if not field:
        raise Http404
    return serve(request, field)


@require_GET
def export_download(request, pk=None, export_id=None, token=None):
    viewer = viewer_of(request, pk, token)
    export = get_object_or_404(viewer.project.exports, pk=export_id, status=Export.Status.DONE)
    # ?play: for the page's player, which plays it where it is rather than saving it.
    attachment = "play" not in request.GET
    return serve(request, export.file, filename=export.filename(), attachment=attachment)


# What a provider may be sent a link to: (model, field) -> model class.
PROVIDER_INPUTS = {
    ("take", "last_frame"): Take,
    ("take", "start_frame"): Take,
    ("shot", "first_frame"): Shot,
    ("shot", "last_frame_target"): Shot,
    ("reference", "file"): Reference,
    ("castimage", "file"): CastImage,
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
    if pipeline.worth_a_look(take):
        async_task("projects.tasks.look", [take.pk])
    return HttpResponse(status=204)
