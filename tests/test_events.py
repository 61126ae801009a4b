"""The live event stream: fragments named after the cards they replace, sent on change."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.urls import reverse

from projects import events, pipeline
from projects.access import Viewer
from projects.models import Opening
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
