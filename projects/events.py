"""Live status of a timeline as server-sent events, rendered from the page's own fragments.

Each event is named after the fragment it replaces (`shot-12`, `exports`) and carries
its HTML; htmx's SSE extension swaps it in. An event is sent only when its fragment
changed. A stream ends after a few minutes and the browser reconnects, so a server
restart or a revoked share link takes effect without anybody reloading.
"""

import asyncio
import time
from typing import NamedTuple

from asgiref.sync import sync_to_async
from django.db.models import Count, Max, Q
from django.http import StreamingHttpResponse
from django.template.loader import render_to_string

from .access import Viewer, project_for_member, project_for_share
from .models import Export, Project, Shot, Take
from .timeline import TIMELINE, present

TICK = 0.5
STREAM_SECONDS = 300


async def project_events(request, pk=None, token=None):
    if token is None:
        user = await request.auser()
        project = await sync_to_async(project_for_member)(user, pk)
        viewer = Viewer(project)
    else:
        viewer = Viewer(await sync_to_async(project_for_share)(token), share_token=token)
    response = StreamingHttpResponse(_stream(viewer), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(viewer):
    yield "retry: 2000\n\n"
    sent = {}
    seen = None
    deadline = time.monotonic() + STREAM_SECONDS
    while time.monotonic() < deadline:
        now = await sync_to_async(activity)(viewer.project)
        if not now.project:
            return  # deleted: the browser's reconnect gets a 404
        # Fragments are rendered only while something runs (progress moves with time) or
        # after a change; an idle timeline costs a few small queries a tick.
        if now.busy or now != seen:
            for name, html in (await sync_to_async(fragments)(viewer)).items():
                if sent.get(name) != html:
                    sent[name] = html
                    yield event(name, html)
        seen = now
        await asyncio.sleep(TICK)


class Activity(NamedTuple):
    """What changes a timeline's fragments while nothing runs, and how much is running."""

    busy: int
    project: tuple
    shots: dict
    takes: dict
    exports: dict


def activity(project):
    """The timeline's Activity, from a few small aggregate queries."""
    running = Q(status__in=Take.UNFINISHED)
    exporting = Q(status__in=[Export.Status.QUEUED, Export.Status.RUNNING])
    takes = Take.objects.filter(shot__project=project).aggregate(
        count=Count("pk"), last=Max("pk"), busy=Count("pk", filter=running)
    )
    exports = Export.objects.filter(project=project).aggregate(
        count=Count("pk"), last=Max("pk"), busy=Count("pk", filter=exporting)
    )
    shots = Shot.objects.filter(project=project).aggregate(
        count=Count("pk"), changed=Max("updated_at")
    )
    row = tuple(Project.objects.filter(pk=project.pk).values_list("updated_at", "share_token"))
    return Activity(takes["busy"] + exports["busy"], row, shots, takes, exports)


def fragments(viewer):
    """Every live fragment of the timeline, by event name."""
    viewer.project.refresh_from_db()
    context = present(viewer)
    out = {}
    for shot in context["shots"]:
        out[f"shot-{shot.pk}"] = render_to_string(
            f"{TIMELINE}#shot-card", {**context, "shot": shot}
        )
    out["exports"] = render_to_string(f"{TIMELINE}#exports", context)
    if viewer.editable:
        out["estimate"] = render_to_string(f"{TIMELINE}#estimate", context)
    return out


def event(name, html):
    data = "".join(f"data: {line}\n" for line in html.strip().splitlines())
    return f"event: {name}\n{data}\n"
