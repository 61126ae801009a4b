"""The live event stream: fragments named after the cards they replace, sent on change."""

import asyncio
import contextlib

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.urls import reverse

from projects import events, pipeline
from projects.access import Viewer
from projects.models import Opening, Project
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_event_is_a_card_fragment_named_after_its_shot(user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    pipeline.queue_takes(project)
    fragments = events.fragments(Viewer(project))

    shot_ids = list(project.shots.in_order().values_list("pk", flat=True))
    assert set(fragments) == {f"shot-{pk}" for pk in shot_ids} | {"exports", "estimate"}
    card = fragments[f"shot-{shot_ids[1]}"]
    assert f'sse-swap="shot-{shot_ids[1]}"' in card
    assert 'data-status="waiting"' in card


def test_an_event_spans_lines_as_the_protocol_wants():
    assert events.event("shot-1", "<a>\n<b>\n") == "event: shot-1\ndata: <a>\ndata: <b>\n\n"


def test_the_stream_sends_a_card_again_only_when_it_changed(user, monkeypatch):
    monkeypatch.setattr(events, "TICK", 0.01)
    project = make_project(user, shots=[("A", Opening.CUT)])
    viewer = Viewer(project)

    async def first_events(count):
        stream = events._stream(viewer)
        out = [await anext(stream) for _ in range(count)]
        await stream.aclose()
        await sync_to_async(connections.close_all)()  # the thread that rendered them
        return out

    opening = asyncio.run(first_events(3))
    assert opening[0].startswith("retry:")
    assert {e.split("\n")[0] for e in opening[1:]} == {
        f"event: shot-{project.shots.get().pk}",
        "event: exports",
    }

    async def after_a_change():
        stream = events._stream(viewer)
        for _ in range(4):
            await anext(stream)
        await sync_to_async(pipeline.queue_takes)(project)
        change = await anext(stream)
        await stream.aclose()
        await sync_to_async(connections.close_all)()
        return change

    change = asyncio.run(after_a_change())
    assert change.startswith(f"event: shot-{project.shots.get().pk}")
    assert 'data-status="waiting"' in change


def test_the_stream_is_closed_to_strangers(client, user):
    project = make_project(user)
    assert client.get(reverse("project-events", args=[project.pk])).status_code == 404
    project.enable_sharing()
    shared = client.get(reverse("shared-project-events", args=[project.share_token]))
    assert shared.status_code == 200
    assert shared["Content-Type"] == "text/event-stream"
    shared.close()


def test_an_idle_timeline_is_rendered_again_only_after_a_change(user, monkeypatch):
    monkeypatch.setattr(events, "TICK", 0.01)
    project = make_project(user, shots=[("A", Opening.CUT)])
    renders = []
    render = events.fragments
    monkeypatch.setattr(events, "fragments", lambda viewer: renders.append(1) or render(viewer))

    async def watch(ticks, change=None):
        stream = events._stream(Viewer(project))
        task = asyncio.ensure_future(_drain(stream))
        await asyncio.sleep(ticks * 0.01)
        if change:
            await sync_to_async(change)()
            await asyncio.sleep(ticks * 0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stream.aclose()
        await sync_to_async(connections.close_all)()

    asyncio.run(watch(20))
    assert len(renders) == 1  # nothing runs, nothing changed: rendered once

    renders.clear()
    asyncio.run(watch(20, change=lambda: project.shots.get().save()))
    assert len(renders) == 2  # once, and once more after the shot changed

    renders.clear()
    asyncio.run(watch(20, change=lambda: pipeline.queue_takes(project)))
    assert len(renders) > 5  # a waiting take is unfinished: rendered every tick


def test_the_stream_ends_when_its_project_is_deleted(user, monkeypatch):
    monkeypatch.setattr(events, "TICK", 0.01)
    project = make_project(user, shots=[("A", Opening.CUT)])

    async def run():
        stream = events._stream(Viewer(project))
        await anext(stream)
        await sync_to_async(Project.objects.filter(pk=project.pk).delete)()
        rest = [event async for event in stream]
        await sync_to_async(connections.close_all)()
        return rest

    assert len(asyncio.run(run())) <= 2  # at most the first fragments, then the end


async def _drain(stream):
    async for _ in stream:
        pass
