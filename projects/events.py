"""Live status of a timeline as server-sent events, rendered from the page's own fragments.

Each event is named after the fragment it replaces (`shot-12`, `exports`) and carries
its HTML; htmx's SSE extension swaps it in. An event is sent only when its fragment
changed. A stream ends after a few minutes and the browser reconnects, so a server
restart or a revoked share link takes effect without anybody reloading.
"""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.template.loader import render_to_string

from .access import Viewer, project_for_member, project_for_share
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
    deadline = time.monotonic() + STREAM_SECONDS
    while time.monotonic() < deadline:
        for name, html in (await sync_to_async(fragments)(viewer)).items():
            if sent.get(name) != html:
                sent[name] = html
                yield event(name, html)
        await asyncio.sleep(TICK)


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
