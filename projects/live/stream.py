"""A viewer's event stream: what changed since their page, then every change as it comes.

The page says when it was rendered (`?since=`); a browser that reconnects says which
event it saw last (Last-Event-ID). Either way the stream first sends what changed
since, read from the database, then what the project's producer publishes. A stream
ends after a few minutes, when its share link is revoked or its project deleted; the
browser reconnects and is asked again who it is.
"""

import asyncio
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.loader import render_to_string

from ..access import Viewer, project_for, project_for_link
from ..models import Export, Membership, Project, Role, Shot, Take
from ..pace import Expectations
from .hub import HubUnavailable, hub
from .render import Event, fragments, person, progress
from .watch import OVERLAP, Changes, as_percent

STREAM_SECONDS = 300
KEEPALIVE = 15.0
# How long a browser waits before asking again when live events are unavailable.
RETRY_LATER_MS = 15000
# Catch-ups run on threads of their own, never the producers' (hub.PRODUCERS).
CATCH_UPS = ThreadPoolExecutor(2, thread_name_prefix="live-catch-up")
# The one-row check of a member's access when their stream opens: apart from catch-ups,
# so that viewers arriving while catch-ups read reach theirs (and share it) at once.
ACCESS_CHECKS = ThreadPoolExecutor(2, thread_name_prefix="live-access")
# Viewers whose pages are this close in time share one catch-up: its `since` is rounded
# down to a multiple of it, which sends a little more, never less.
MOMENT = 5.0
# How far ahead of this server's clock a page may say it was rendered (a `since`).
FUTURE_SECONDS = 24 * 3600.0


async def project_events(request, pk=None, token=None):
    if token is None:
        # The session, the user and their access, read in one trip to a thread, not three:
        # fifty streams that reconnect at once wait on each other's trips.
        viewer = await sync_to_async(project_for)(request.user, pk)
    else:
        viewer = await sync_to_async(project_for_link)(token)
    try:
        since = _since(request)
    except ValueError as error:  # refused before any header of the stream is sent
        return HttpResponseBadRequest(str(error))
    response = StreamingHttpResponse(stream(viewer, since), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _since(request):
    """Unix seconds from which the browser needs changes; None: it needs everything.

    ValueError for a number no page was rendered at: not finite, before 1970 or far
    ahead of now (nan, inf, 1e300), which the catch-up could not turn into a date.
    """
    for value in (request.headers.get("Last-Event-ID"), request.GET.get("since")):
        try:
            since = float(value)
        except (TypeError, ValueError):  # absent, or no number: the next one says
            continue
        if not math.isfinite(since) or not 0 <= since <= time.time() + FUTURE_SECONDS:
            raise ValueError(f"{value[:40]!r} is not a time a page was rendered at")
        return since
    return None


async def stream(viewer, since, seconds=STREAM_SECONDS):
    yield "retry: 2000\n\n"
    try:
        member = person(viewer.user.pk) if viewer.link is None and viewer.user else None
        subscription = await hub().subscribe(viewer.project.pk, viewer.audience, member)
    except HubUnavailable as error:
        yield _live_status(False, str(error)).encode()
        yield f"retry: {RETRY_LATER_MS}\n\n"
        return
    try:
        loop = asyncio.get_running_loop()
        # Access that changed before the producer's first look at the team is seen here.
        if not await loop.run_in_executor(ACCESS_CHECKS, _closing(still_allowed), viewer):
            return
        now = time.time()
        events = await catch_ups.events(viewer, since)
        yield "".join(event.encode(now) for event in [_live_status(True), *events])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = await subscription.next(KEEPALIVE)
            if batch is None:  # the hub lost Redis: say so; the page polls meanwhile
                yield _live_status(False, "the event service stopped").encode()
                yield f"retry: {RETRY_LATER_MS}\n\n"
                return
            if any(event.name == "end" for event in batch):
                return
            if batch:
                now = time.time()
                yield "".join(event.encode(now) for event in batch)
            else:
                yield ": keep-alive\n\n"
    finally:
        await subscription.close()


class CatchUps:
    """Catch-ups shared by the viewers of one audience and moment that wait for one.

    A viewer joins a catch-up that has not started yet, never one that already reads:
    it subscribed first, so what the catch-up reads after that, and the producer's
    events after it, leave no gap. However many join at once, each audience and moment
    of a project costs one or two reads.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.waiting = {}  # (project id, audience, moment): a future not started yet

    async def events(self, viewer, since):
        loop = asyncio.get_running_loop()
        moment = None if since is None else math.floor(since / MOMENT) * MOMENT
        key = (viewer.project.pk, viewer.audience, moment, loop)
        with self.lock:
            future = self.waiting.get(key)
            if future is None:
                future = self.waiting[key] = loop.create_future()
                loop.run_in_executor(CATCH_UPS, self._run, key, future, viewer, moment)
        return list(await asyncio.shield(future))

    def _run(self, key, future, viewer, since):
        with self.lock:  # from now on, viewers who come wait for the next one
            if self.waiting.get(key) is future:
                del self.waiting[key]
        loop = future.get_loop()
        try:
            events = _closing(catch_up)(_audience(viewer), since)
        except Exception as error:
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, events, None)


def _settle(future, result, error):
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _audience(viewer):
    """The one Viewer whose cards every viewer of this audience sees (as render does)."""
    if viewer.link is not None:
        return Viewer(viewer.project, link=viewer.link)
    return Viewer(viewer.project, role=Role.EDITOR if viewer.editable else Role.VIEWER)


def _closing(function):
    """`function` for a catch-up thread: its connection closed when it broke."""

    def run(*args):
        try:
            return function(*args)
        except Exception:
            connection.close()
            raise

    return run


catch_ups = CatchUps()


def still_allowed(viewer):
    """Whether a member still has the role their stream was opened with (a link's holder:
    the producer ends its streams when the link stops working)."""
    if viewer.link is not None or viewer.user is None:
        return True
    project = viewer.project.pk
    return Membership.objects.filter(
        team__projects=project, user=viewer.user, role=viewer.role
    ).exists()


def catch_up(viewer, since):
    """The events that bring a page rendered at `since` up to date now.

    Only what was written since is read. A take whose progress alone moved (its
    `changed_at` is older: Take.QUIET) is a small progress event; the whole timeline is
    read and cards rendered only when a card, the timeline or the exports changed.
    """
    project = Project.objects.filter(pk=viewer.project.pk).first()
    if project is None:
        return []
    viewer.project = project
    changes = Changes(timeline=since is None)
    if since is not None:
        after = datetime.fromtimestamp(since, UTC) - OVERLAP
        changes.timeline = project.updated_at >= after
        changes.cards = set(
            Shot.objects.filter(project=project, updated_at__gte=after).values_list("pk", flat=True)
        )
        takes = Take.objects.filter(shot__project=project, updated_at__gte=after)
        for shot, changed_at, moved in takes.values_list("shot_id", "changed_at", "progress"):
            if changed_at >= after:
                changes.cards.add(shot)
            elif moved is not None:
                changes.progress[shot] = as_percent(moved)
        changes.exports = Export.objects.filter(project=project, updated_at__gte=after).exists()
        changes.estimate = bool(changes.cards)
    events = []
    if changes.timeline or changes.cards or changes.exports:
        shots = project.timeline()
        if changes.cards:  # a change upstream alters the later cards of its chain
            first = {s.chain: s.position for s in reversed(shots) if s.pk in changes.cards}
            changes.cards = {s.pk for s in shots if s.position >= first.get(s.chain, 1e9)}
        events = fragments(viewer, shots, Expectations.recent(), changes)
    if changes.timeline:  # every card again, with its bar
        return events
    bars = [(pk, moved) for pk, moved in changes.progress.items() if pk not in changes.cards]
    return [Event(f"progress-{pk}", progress(pk, moved)) for pk, moved in bars] + events


def _live_status(live, why=""):
    html = render_to_string("projects/live_status.html", {"live": live, "why": why})
    return Event("live-status", html)
