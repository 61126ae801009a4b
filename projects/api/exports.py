"""Exports: the cut made into a file, in any format the command line writes through the
pipeline (a video, the editor's bundle, timelines, captions, a contact sheet, a printed
storyboard), listed, watched and downloaded.

Made as the page makes them: the same choices, checked by the same form; the same
planning and queueing (pipeline.plan_for and queue_export: a worker renders it, nothing
waits here); a request like one already being made joins it.
"""

from datetime import datetime
from typing import Literal

from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Router, Schema, Status

from .. import cut, pipeline, throttle
from ..files import serve
from ..forms import ExportForm
from ..models import Export
from ..pipeline.exporting import QUEUE_REFUSED
from .common import ApiError, Body, Id, answers, form_invalid, paginated, viewer

router = Router(tags=["exports"])


class ApiExportForm(ExportForm):
    """The page's form, with every format the command line writes: a timeline alone
    (otio, fcpxml, edl) too, which the page offers only inside the bundle. It points at
    its clips by relative path (clips/NN-….mp4), as `storyboard export` writes them."""

    def clean_format(self):
        return self.cleaned_data["format"]


class ExportIn(Body):
    format: str = "mp4"
    seamless: bool = True
    normalize: bool = False
    # The drafts or the finals; none: the finals once every shot has a current one.
    kind: Literal["draft", "final"] | None = None


class ExportOut(Schema):
    id: int
    format: str
    kind: str
    status: str
    progress: float
    error: str
    note: str
    seamless: bool
    normalize: bool
    mode: str
    duration: float | None
    shots: int
    created_at: datetime
    finished_at: datetime | None
    # Where to get the file once done; null before.
    download: str | None
    # True when this request joined an export like it already being made.
    joined: bool = False

    @staticmethod
    def resolve_shots(export):
        return len(export.plan or export.takes or [])

    @staticmethod
    def resolve_download(export, context):
        if export.status != Export.Status.DONE:
            return None
        path = reverse("api-v1:export-download", args=[export.project_id, export.pk])
        return context["request"].build_absolute_uri(path)


@router.post(
    "/{int:project_id}/exports",
    response=answers(ExportOut, 202),
    url_name="exports",
    summary="Export the cut",
)
def export_create(request, project_id: Id, payload: ExportIn):
    """Queue an export of the cut (202): `format` one of mp4, zip, otio, fcpxml, edl,
    srt, vtt, png, pdf. A worker renders it; follow `status` and `progress` at its
    address, then `download` it. A printed storyboard (pdf) needs no take; every other
    format needs each shot's current take of `kind` (409 naming the shots that lack one)."""
    found = viewer(request, project_id, "export")
    throttle.count(request, found, "export")
    project = found.project
    form = ApiExportForm(
        {"format": payload.format, "seamless": payload.seamless, "normalize": payload.normalize}
    )
    if not form.is_valid():
        raise form_invalid(form)
    try:
        kind, plan = pipeline.plan_for(project, form.cleaned_data["format"], payload.kind)
    except cut.NotReady as error:
        raise ApiError(409, "not_ready", str(error)) from None
    export, new, refusal = pipeline.queue_export(
        project, kind, plan, created_by=request.user, **form.cleaned_data
    )
    if refusal is not None:
        raise ApiError(503, "queue_refused", QUEUE_REFUSED)
    export.joined = not new
    return Status(202, export)


@router.get("/{int:project_id}/exports", response=answers(list[ExportOut]), url_name="exports")
@paginated
def export_list(request, project_id: Id):
    """The project's exports, newest first."""
    return viewer(request, project_id).project.exports.order_by("-created_at", "-pk")


@router.get(
    "/{int:project_id}/exports/{int:export_id}",
    response=answers(ExportOut),
    url_name="export-detail",
)
def export_detail(request, project_id: Id, export_id: Id):
    """An export as it is now: queued, running (with its progress, 0 to 1), done, or
    failed with its error."""
    return get_object_or_404(viewer(request, project_id).project.exports, pk=export_id)


@router.get(
    "/{int:project_id}/exports/{int:export_id}/download",
    url_name="export-download",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def export_download(request, project_id: Id, export_id: Id):
    """The export's file, streamed (Range honoured), or a redirect to storage that hands
    out its own links. 409 while it is not done."""
    export = get_object_or_404(viewer(request, project_id).project.exports, pk=export_id)
    if export.status != Export.Status.DONE:
        why = f": {export.error}" if export.error else "; download it once it is done"
        raise ApiError(409, "not_done", f"The export is {export.get_status_display()}{why}.")
    return serve(request, export.file, filename=export.filename(), attachment=True)
