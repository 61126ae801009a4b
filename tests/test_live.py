"""The live timeline: changes found once per project, rendered once per audience, fanned
out to every stream; what changed since a page, for a browser that (re)connects."""

import asyncio
import contextlib
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from projects import pipeline
from projects.access import Viewer
from projects.live import hub as hubs
from projects.live import stream as streams
from projects.live.hub import Hub, HubUnavailable, RedisHub
from projects.live.render import Event, render
from projects.live.watch import Watcher
from projects.models import Link, Project, Role, Shot, Take
from tests.factories import make_project, make_take

# What runs in the test's own thread sees its rolled-back transaction; a test whose
# streams read the database on the live threads (catch-ups, access checks, producers)
# needs its rows committed (`threaded`), and pays for a flush of every table after it.
pytestmark = pytest.mark.django_db
threaded = pytest.mark.django_db(transaction=True)


def chain(user, *openings):
    """A project of shots with these openings, last changed a while ago."""
    shots = [(f"Shot {n}", opening) for n, opening in enumerate(openings, start=1)]
    project = make_project(user, shots=shots)
    earlier = timezone.now() - timedelta(minutes=5)
    Project.objects.filter(pk=project.pk).update(updated_at=earlier)
    Shot.objects.filter(project=project).update(updated_at=earlier)
    project.refresh_from_db()
    return project


def shot_ids(project):
    return list(project.shots.in_order().values_list("pk", flat=True))


def test_a_first_look_knows_the_project_and_reports_only_what_was_just_written(user):
    project = chain(user, "cut", "continue")
    Project.objects.filter(pk=project.pk).update(
        updated_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    Shot.objects.filter(project=project).update(
        updated_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    watcher = Watcher(project.pk)
    assert not watcher.look()
    assert not watcher.look()  # nothing changed since


def test_a_take_that_changes_re_renders_its_card_and_the_rest_of_its_chain_only(user):
    project = chain(user, "cut", "continue", "continue", "cut")
    first, second, third, fourth = shot_ids(project)
    watcher = Watcher(project.pk)
    watcher.look()

    pipeline.queue_takes(project, shots=[project.shots.get(pk=first)])
    changes = watcher.look()

    assert changes.cards == {first, second, third}  # not shot 4, another chain
    assert not changes.timeline and changes.estimate


def test_progress_alone_moves_as_a_small_event_not_a_card(user):
    project = chain(user, "cut", "continue")
    (take,) = pipeline.queue_takes(project, shots=[project.shots.first()])
    Take.objects.filter(pk=take.pk).update(
        status=Take.Status.RUNNING, remote_id="cgt-1", progress=0.1
    )
    watcher = Watcher(project.pk)
    watcher.look()

    Take.objects.filter(pk=take.pk).update(progress=0.42)
    changes = watcher.look()
    assert changes.progress == {take.shot_id: 42} and not changes.cards

    events = render(project.pk, changes)
    assert [event.name for event in events] == [f"progress-{take.shot_id}"]
    assert 'value="42"' in events[0].html and len(events[0].html) < 300

    Take.objects.filter(pk=take.pk).update(next_look_at=timezone.now())  # no visible change
    assert not watcher.look()


def test_progress_and_heartbeats_leave_when_a_takes_card_last_changed(user):
    project = chain(user, "cut")
    (take,) = pipeline.queue_takes(project, shots=[project.shots.first()])
    Take.objects.filter(pk=take.pk).update(changed_at=timezone.now() - timedelta(minutes=5))
    take.refresh_from_db()
    shown = take.changed_at

    Take.objects.filter(pk=take.pk).update(
        progress=0.3, heartbeat_at=timezone.now(), worker="host:1", next_look_at=timezone.now()
    )
    take.progress = 0.4
    take.save(update_fields=["progress"])
    take.refresh_from_db()
    assert take.changed_at == shown and take.updated_at > shown and take.progress == 0.4

    Take.objects.filter(pk=take.pk).update(progress=0.5, note="Queued at the provider")
    take.refresh_from_db()
    assert take.changed_at == take.updated_at > shown
    take.note, shown = "", take.changed_at
    take.save(update_fields=["note"])
    take.refresh_from_db()
    assert take.changed_at > shown


def test_takes_from_before_changed_at_count_as_changed_when_last_written(user):
    import importlib

    from django.apps import apps

    project = chain(user, "cut")
    (take,) = pipeline.queue_takes(project, shots=[project.shots.first()])
    written = timezone.now() - timedelta(hours=1)
    Take.objects.filter(pk=take.pk).update(updated_at=written, changed_at=timezone.now())
    migration = importlib.import_module("projects.migrations.0023_take_changed_at")
    migration.changed_when_updated(apps, None)
    take.refresh_from_db()
    assert take.changed_at == take.updated_at == written


def running(user, shots):
    """A project of `shots` shots in one chain whose first take runs, all written a while
    ago, and the take."""
    project = chain(user, "cut", *["continue"] * (shots - 1))
    (take,) = pipeline.queue_takes(project, shots=[project.shots.first()])
    earlier = timezone.now() - timedelta(minutes=5)
    Take.objects.filter(pk=take.pk).update(
        status=Take.Status.RUNNING, progress=0.1, updated_at=earlier, changed_at=earlier
    )
    return project, take


def test_a_page_that_reconnects_gets_progress_alone_as_bars_reading_no_timeline(user):
    project, take = running(user, 30)
    rendered_at = time.time() - 2
    Take.objects.filter(pk=take.pk).update(progress=0.42)
    viewer = Viewer(project, role=Role.OWNER)

    with CaptureQueriesContext(connection) as queries:
        events = streams.catch_up(viewer, rendered_at)
    assert [event.name for event in events] == [f"progress-{take.shot_id}"]
    assert 'value="42"' in events[0].html
    assert len(queries) <= 4  # the project, and what was written since: no timeline

    # A change the card shows is its card again, and the rest of its chain's.
    Take.objects.filter(pk=take.pk).update(note="Queued at the provider")
    names = {event.name for event in streams.catch_up(viewer, rendered_at)}
    assert {f"shot-{pk}" for pk in shot_ids(project)} <= names
    assert f"progress-{take.shot_id}" not in names


def test_a_first_look_sends_progress_written_just_before_it_as_a_bar(user):
    project, take = running(user, 3)
    Take.objects.filter(pk=take.pk).update(progress=0.42)
    changes = Watcher(project.pk).look()
    assert changes.progress == {take.shot_id: 42} and not changes.cards

    Take.objects.filter(pk=take.pk).update(status=Take.Status.QUEUED)
    assert Watcher(project.pk).look().cards == set(shot_ids(project))


def test_progress_estimated_from_time_moves_without_any_write(user, settings):
    settings.SEEDANCE_BASE_URL = ""
    settings.SIMULATOR_DELAY = 4.0
    project = chain(user, "cut")
    (take,) = pipeline.queue_takes(project)
    Take.objects.filter(pk=take.pk).update(
        status=Take.Status.RUNNING, remote_id="cgt-1", submitted_at=timezone.now()
    )
    watcher = Watcher(project.pk)
    watcher.look()
    time.sleep(0.2)
    changes = watcher.look()
    assert set(changes.progress) == {take.shot_id} and 0 < changes.progress[take.shot_id] < 95


def test_a_shot_added_moved_or_deleted_sends_the_whole_timeline(user):
    project = chain(user, "cut", "continue")
    watcher = Watcher(project.pk)
    watcher.look()

    Shot.objects.create(project=project, position=2, prompt="Shot 3")
    project.touch()
    assert watcher.look().timeline
    Shot.objects.filter(project=project, position=2).delete()
    project.touch()
    assert watcher.look().timeline


def test_revoking_a_link_ends_its_streams_and_deleting_ends_all(user):
    project = chain(user, "cut")
    link = project.view_link()
    watcher = Watcher(project.pk)
    watcher.look()

    link.revoke()
    changes = watcher.look()
    assert changes.revoked == {link.pk}
    assert Event("end", audience=f"link:{link.pk}") in render(project.pk, changes)

    project.delete()
    changes = watcher.look()
    assert changes.gone and render(project.pk, changes) == [Event("end")]


def test_each_audience_gets_its_own_cards_rendered_once(user):
    project = chain(user, "cut")
    view, review = project.view_link(), Link.make(project, Link.Kind.REVIEW)
    watcher = Watcher(project.pk)
    watcher.look()
    make_take(project.shots.get())

    events = render(project.pk, watcher.look())
    cards = {event.audience: event.html for event in events if event.name.startswith("shot-")}
    assert set(cards) == {"editors", "viewers", f"link:{view.pk}", f"link:{review.pk}"}
    assert "Regenerate" in cards["editors"] and 'data-status="done"' in cards["editors"]
    for audience in ("viewers", f"link:{view.pk}", f"link:{review.pk}"):
        assert "Regenerate" not in cards[audience] and "Delete" not in cards[audience]
    assert "Comment" in cards["viewers"] and "Comment" in cards[f"link:{review.pk}"]
    assert "<textarea" not in cards[f"link:{view.pk}"]
    assert "Approve take 1" in cards[f"link:{review.pk}"]
    assert view.token in cards[f"link:{view.pk}"] and view.token not in cards["editors"]
    # What it cost is the team's: a link shows it only when set to.
    assert "tokens billed" in cards["editors"] and "tokens billed" in cards["viewers"]
    assert "tokens billed" not in cards[f"link:{view.pk}"]
    assert "tokens billed" not in cards[f"link:{review.pk}"]


def test_a_link_set_to_show_costs_gets_cards_with_them(user):
    project = chain(user, "cut")
    link = Link.make(project, Link.Kind.REVIEW, shows_details=True)
    watcher = Watcher(project.pk)
    watcher.look()
    make_take(project.shots.get(), tokens=20_757)

    events = render(project.pk, watcher.look())
    cards = {event.audience: event.html for event in events if event.name.startswith("shot-")}
    assert "20,757 tokens billed" in cards[f"link:{link.pk}"]


def look_and_render(user, shots):
    """The queries of a look that finds ten takes started, and of rendering its events."""
    project = make_project(user, shots=[(f"Shot {n}", "continue") for n in range(shots)])
    made = list(project.shots.in_order())
    for shot in made[:5]:
        make_take(shot)
    project.view_link()
    watcher = Watcher(project.pk)
    watcher.look()
    for shot in made[5:15]:
        Take.objects.create(shot=shot, status=Take.Status.RUNNING, remote_id=f"cgt-{shot.pk}")
    with CaptureQueriesContext(connection) as queries:
        events = render(project.pk, watcher.look(), watcher.expectations)
    with CaptureQueriesContext(connection) as idle:
        assert not watcher.look()
    cards = {e.name for e in events if e.name.startswith("shot-")}
    return len(queries), len(idle), len(cards)


def test_a_look_and_its_events_cost_the_same_queries_at_any_size(user):
    small = look_and_render(user, 20)
    large = look_and_render(user, 200)
    assert small[2] == 15 and large[2] == 195  # the changed chain's cards, shot 6 on
    assert small[:2] == large[:2], f"queries grew with the project: {small} -> {large}"
    assert large[1] <= 6  # a look that finds nothing: a few small queries


def test_the_timeline_page_costs_at_most_ten_queries_at_any_size(
    client_of, user, django_assert_max_num_queries
):
    project = make_project(user, shots=[(f"Shot {n}", "continue") for n in range(200)])
    shots = list(project.shots.in_order())
    for shot in shots[:50]:
        make_take(shot)
    # Takes of a model never timed: each would have asked for its own expectation.
    for shot in shots[50:60]:
        Take.objects.create(
            shot=shot, status=Take.Status.RUNNING, remote_id=f"cgt-{shot.pk}", inputs={"model": "m"}
        )
    Take.objects.create(shot=shots[60], status=Take.Status.WAITING)
    with django_assert_max_num_queries(10):
        response = client_of.get(project.get_absolute_url())
    assert response.status_code == 200
    assert response.content.decode().count('class="shot-card') == 200


def run(coroutine):
    """Run a coroutine on a fresh loop, closing the database connections its threads made."""

    async def wrapped():
        try:
            return await coroutine
        finally:
            await sync_to_async(connections.close_all)()

    try:
        return asyncio.run(wrapped())
    finally:  # the live threads keep their connections between jobs
        hubs.close_connections(hubs.PRODUCERS)
        hubs.close_connections(streams.CATCH_UPS)
        hubs.close_connections(streams.ACCESS_CHECKS)


async def read(stream, until, timeout=10.0):
    """Chunks of a stream until one contains `until`."""
    chunks = []
    async with asyncio.timeout(timeout):
        async for chunk in stream:
            chunks.append(chunk)
            if until in chunk:
                return chunks
    return chunks


@threaded
def test_every_viewer_gets_each_change_from_one_producer(user, monkeypatch):
    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut", "continue")
    looks = []
    look = Watcher.look
    monkeypatch.setattr(Watcher, "look", lambda self: looks.append(self) or look(self))

    async def watch():
        viewers = [streams.stream(Viewer(project, role=Role.OWNER), time.time()) for _ in range(5)]
        for viewer in viewers:
            await read(viewer, "live-status")
        await sync_to_async(pipeline.queue_takes)(project)
        got = [await read(viewer, "shot-") for viewer in viewers]
        for viewer in viewers:
            await viewer.aclose()
        return got

    got = run(watch())
    first = shot_ids(project)[0]
    assert all(any(f"event: shot-{first}" in chunk for chunk in chunks) for chunks in got)
    assert len({id(watcher) for watcher in looks}) == 1  # one producer for five viewers


@threaded
def test_a_browser_that_reconnects_gets_what_changed_meanwhile(user, monkeypatch):
    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut", "continue")
    rendered_at = time.time() - 30  # the page is older than the change below
    pipeline.queue_takes(project)

    async def reconnect(since):
        stream = streams.stream(Viewer(project, role=Role.OWNER), since)
        chunks = await read(stream, "live-status")
        await stream.aclose()
        return "".join(chunks)

    caught = run(reconnect(rendered_at))
    assert all(f"event: shot-{pk}" in caught for pk in shot_ids(project))
    assert 'data-status="waiting"' in caught
    # A page rendered after the change needs nothing more than the live status.
    assert "event: shot-" not in run(reconnect(time.time() + 10))
    # A browser that says nothing gets the whole timeline.
    assert "event: timeline" in run(reconnect(None))


@threaded
def test_a_revoked_link_ends_its_stream(user, monkeypatch):
    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut")
    link = project.view_link()

    async def watch():
        stream = streams.stream(Viewer(project, link=link), time.time())
        await read(stream, "live-status")
        await sync_to_async(link.revoke)()
        return [chunk async for chunk in stream]

    ended = run(asyncio.wait_for(watch(), 10))
    assert not any("event: shot-" in chunk for chunk in ended)


def test_the_stream_is_closed_to_strangers(client, user):
    project = make_project(user)
    assert client.get(reverse("project-events", args=[project.pk])).status_code == 404
    shared = client.get(reverse("shared-project-events", args=[project.view_link().token]))
    assert shared.status_code == 200
    assert shared["Content-Type"] == "text/event-stream"
    shared.close()


@pytest.fixture
def redis_url(settings):
    """A Redis database of its own (this machine runs Redis on localhost:6379)."""
    settings.REDIS_URL = "redis://localhost:6379/13"
    return settings.REDIS_URL


@threaded
def test_through_redis_two_web_processes_share_one_producer(user, monkeypatch, redis_url):
    """Two hubs stand for two web processes: each has its own viewers, one produces."""
    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut")
    looks = []
    look = Watcher.look
    monkeypatch.setattr(Watcher, "look", lambda self: looks.append(self) or look(self))

    async def watch():
        one, two = RedisHub(redis_url), RedisHub(redis_url)
        subscriptions = [
            await one.subscribe(project.pk, "editors"),
            await two.subscribe(project.pk, "editors"),
        ]
        await asyncio.sleep(0.3)  # both producers started; one holds the lease
        await sync_to_async(pipeline.queue_takes)(project)
        got = [await asyncio.wait_for(s.next(5.0), 6.0) for s in subscriptions]
        for subscription in subscriptions:
            await subscription.close()
        for hub in (one, two):
            for task in hub.producers.values():
                task.cancel()
            hub.reader.cancel()
            await hub._reset()
        return got

    got = run(watch())
    card = f"shot-{shot_ids(project)[0]}"
    assert all(any(event.name == card for event in batch) for batch in got)
    assert len({id(watcher) for watcher in looks if watcher.project is not None}) == 1


@threaded
def test_a_producer_stops_when_cancelled_though_redis_let_the_cancellation_go(
    user, monkeypatch, redis_url
):
    """A cancellation that reaches redis-py in the middle of a command can be lost: the
    command answers as usual. The producer stops anyway, at once, and does not keep its
    closing event loop (a server shutting down) waiting until LINGER has passed."""
    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut")
    may_produce = RedisHub.may_produce
    asking = []

    async def losing_the_cancellation(self, project_id):
        answer = await may_produce(self, project_id)
        if not asking[0].is_set():
            asking[0].set()
            # Its answer on the way back, until the cancellation lands there and is lost.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
        return answer

    monkeypatch.setattr(RedisHub, "may_produce", losing_the_cancellation)

    async def cancel_the_producer():
        asking.append(asyncio.Event())
        hub = RedisHub(redis_url)
        subscription = await hub.subscribe(project.pk, "editors")
        producer = hub.producers[project.pk]
        await asyncio.wait_for(asking[0].wait(), 5)
        await subscription.close()  # with no viewer left, it would linger LINGER seconds
        producer.cancel()
        try:
            await asyncio.wait_for(asyncio.gather(producer, return_exceptions=True), 5)
        finally:
            hub.reader.cancel()
        await hub._reset()
        return producer.cancelled()

    assert run(cancel_the_producer())


@threaded
def test_streams_that_open_together_ask_redis_once(user, redis_url):
    """Fifty streams of one web process opening at once (a team opening the page) share
    one ping and one subscription to the project's channel, not fifty of each."""
    project = chain(user, "cut")

    async def crowd():
        hub = RedisHub(redis_url)
        redis, pubsub = await hub._connect()
        pings, subscribes = [], []
        ping, subscribe = redis.ping, pubsub.subscribe

        async def counted_ping():
            pings.append(1)
            await asyncio.sleep(0.05)  # the others ask meanwhile
            return await ping()

        async def counted_subscribe(*channels):
            subscribes.append(channels)
            return await subscribe(*channels)

        redis.ping, pubsub.subscribe = counted_ping, counted_subscribe
        opened = await asyncio.gather(*(hub.subscribe(project.pk, "editors") for _ in range(50)))
        for task in hub.producers.values():
            task.cancel()
        for subscription in opened:
            await subscription.close()
        hub.reader.cancel()
        await hub._reset()
        return len(opened), pings, subscribes, getattr(hub, "running", {})

    opened, pings, subscribes, running = run(crowd())
    assert opened == 50 and len(pings) == 1
    assert subscribes == [(RedisHub.channel(project.pk),)]
    assert not running  # nothing kept once answered


@threaded
def test_without_redis_the_stream_says_so_and_the_page_polls(user, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    project = chain(user, "cut")

    async def watch():
        return [
            chunk async for chunk in streams.stream(Viewer(project, role=Role.OWNER), time.time())
        ]

    said = "".join(run(watch()))
    assert 'data-live="off"' in said and "Live updates are paused" in said
    assert "retry: 15000" in said


def test_an_in_process_hub_hands_each_audience_its_own_events():
    async def deliver():
        hub = Hub()
        members = await hub.subscribe(1, "editors")
        shared = await hub.subscribe(1, "link:7")
        hub.producers.pop(1).cancel()
        hub.dispatch(1, [Event("a", "x", "editors"), Event("b", "y", "link:7"), Event("c", "z")])
        return await members.next(1), await shared.next(1)

    members, shared = asyncio.run(deliver())
    assert [e.name for e in members] == ["a", "c"]
    assert [e.name for e in shared] == ["b", "c"]


def test_redis_that_cannot_be_reached_makes_the_hub_unavailable():
    async def subscribe():
        hub = RedisHub("redis://127.0.0.1:1/0")
        with pytest.raises(HubUnavailable):
            await hub.subscribe(1, "editors")

    asyncio.run(subscribe())


def events_by_name(events, audience="editors"):
    return {event.name: event.html for event in events if event.audience in (None, audience)}


def test_a_seam_guard_hold_and_its_release_reach_the_open_pages(user):
    """The guard writes only the take's hold (its status stays waiting): the watcher must
    see it, and the card, the head and the estimate say it."""
    project = chain(user, "cut", "continue")
    first, second = project.shots.in_order()
    upstream = make_take(first)
    waiting = Take.objects.create(
        shot=second, inputs=second.inputs(), status=Take.Status.WAITING, upstream_take=upstream
    )
    watcher = Watcher(project.pk)
    watcher.look()

    reason = "Held: shot 2 would start on a near-black frame from shot 1."
    Take.objects.filter(pk=waiting.pk).update(held=reason, held_check="blank")
    changes = watcher.look()
    assert changes.cards == {second.pk}
    events = events_by_name(render(project.pk, changes, watcher.expectations))
    card = events[f"shot-{second.pk}"]
    assert reason in card and 'data-role="held"' in card
    assert '<span class="status" data-role="status">Held</span>' in card
    assert "waiting for shot 1" not in card
    assert "1 shot held at a seam" in events["estimate"]
    assert "Making" not in events["estimate"]
    assert "project-head" in events["head"]

    Take.objects.filter(pk=waiting.pk).update(held="", held_check="")  # released
    changes = watcher.look()
    assert changes.cards == {second.pk}
    events = events_by_name(render(project.pk, changes, watcher.expectations))
    assert 'data-role="held"' not in events[f"shot-{second.pk}"]
    assert "Making 1 shot now." in events["estimate"]


def test_the_header_counts_held_shots_apart_from_those_being_made(user):
    project = chain(user, "cut", "continue", "continue", "cut")
    first, second, third, fourth = project.shots.in_order()
    upstream = make_take(first)
    Take.objects.create(
        shot=second,
        inputs=second.inputs(),
        status=Take.Status.WAITING,
        upstream_take=upstream,
        held="Held: shot 2 would start on a near-black frame from shot 1.",
        held_check="blank",
    )
    Take.objects.create(shot=third, inputs=third.inputs(), status=Take.Status.WAITING)
    Take.objects.create(shot=fourth, inputs=fourth.inputs(), status=Take.Status.RUNNING)
    watcher = Watcher(project.pk)
    events = events_by_name(render(project.pk, watcher.look(), watcher.expectations))
    assert (
        '<span data-role="making">Making 1 shot now · <span data-role="held-count">1 held at a '
        "seam</span> · 1 waiting behind a hold.</span>" in events["estimate"]
    )


def test_the_head_follows_deleting_moving_and_adding_and_spend_never_goes_down(user):
    from projects import arrange

    project = chain(user, "cut", "continue", "continue")
    for shot in project.shots.in_order():
        make_take(shot)  # 1,000 tokens each, in the ledger
    watcher = Watcher(project.pk)
    watcher.look()

    arrange.remove(project.shots.in_order().last())
    events = events_by_name(render(project.pk, watcher.look(), watcher.expectations))
    assert "2 shots in 1 chain · 8 s" in events["head"]
    assert "Billed so far: 3,000 tokens" in events["estimate"]
    link = project.view_link()
    for audience in ("viewers", f"link:{link.pk}"):
        shown = events_by_name(render(project.pk, _timeline(), watcher.expectations), audience)
        assert "2 shots" in shown["head"] and "8 s" in shown["head"]
        assert 'id="generate-button"' not in shown["head"]  # only for who may generate

    arrange.forget_removed(project)  # gone for good, takes and all: the ledger keeps them
    assert not Take.objects.filter(shot__project=project, shot__removed_at__isnull=False)
    events = events_by_name(render(project.pk, _timeline(), watcher.expectations))
    assert "Billed so far: 3,000 tokens" in events["estimate"]

    shot = Shot.objects.create(project=project, position=2, prompt="Shot 4", duration=6)
    project.touch()
    events = events_by_name(render(project.pk, watcher.look(), watcher.expectations))
    assert "3 shots in 1 chain · 14 s" in events["head"]

    Shot.objects.filter(pk=shot.pk).update(duration=10)  # edited: a card, not the timeline
    changes = watcher.look()
    assert not changes.timeline and shot.pk in changes.cards
    events = events_by_name(render(project.pk, changes, watcher.expectations))
    assert "3 shots in 1 chain · 18 s" in events["head"]


def _timeline():
    from projects.live.watch import Changes

    return Changes(timeline=True, estimate=True)


def test_the_export_forms_default_follows_finals_that_finish(user):
    from projects.models import Kind

    project = chain(user, "cut", "continue")
    shots = list(project.shots.in_order())
    for shot in shots:
        make_take(shot)
    finals = [
        Take.objects.create(
            shot=shot, number=2, kind=Kind.FINAL, inputs=shot.inputs(Kind.FINAL), status="running"
        )
        for shot in shots
    ]
    watcher = Watcher(project.pk)
    watcher.look()

    upstream = None
    for shot, final in zip(shots, finals, strict=True):
        Take.objects.filter(pk=final.pk).delete()
        inputs = shot.inputs(Kind.FINAL)
        upstream = make_take(shot, kind=Kind.FINAL, inputs=inputs, upstream=upstream)
    events = events_by_name(render(project.pk, watcher.look(), watcher.expectations))
    assert '<option value="final" selected>' in events["export-kind"]
    assert "export-kind" not in events_by_name(
        render(project.pk, _cards(shots), watcher.expectations), "viewers"
    )  # viewers do not export


def _cards(shots):
    from projects.live.watch import Changes

    return Changes(cards={shot.pk for shot in shots}, estimate=True)


def test_the_ledger_is_read_with_the_project_and_priced_per_model(user, settings):
    from projects import costs

    settings.SEEDANCE_PRICES = {"priced": 10.0}
    project = chain(user, "cut", "cut")
    first, second = project.shots.in_order()
    make_take(first, tokens=300_000, inputs={**first.inputs(), "model": "priced"})
    make_take(second, tokens=200_000, inputs={**second.inputs(), "model": "priced"})
    loaded = Project.objects.with_billed().get(pk=project.pk)
    assert costs.billed(loaded) == costs.billed(project) == (500_000, pytest.approx(5.0))
    Shot.objects.filter(pk=second.pk).delete()  # the ledger keeps what it cost
    assert costs.billed(Project.objects.with_billed().get(pk=project.pk))[0] == 500_000

    make_take(first, tokens=100_000, inputs={**first.inputs(), "model": "unpriced"})
    loaded = Project.objects.with_billed().get(pk=project.pk)
    assert costs.billed(loaded) == costs.billed(project) == (600_000, None)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "-1", "1e12"])
def test_a_since_no_page_was_rendered_at_is_refused_before_the_stream_starts(client, user, value):
    client.force_login(user)
    project = make_project(user)
    url = reverse("project-events", args=[project.pk])
    by_query = client.get(f"{url}?since={value}")
    by_header = client.get(url, HTTP_LAST_EVENT_ID=value)
    shared = client.get(
        reverse("shared-project-events", args=[project.view_link().token]) + f"?since={value}"
    )
    for response in (by_query, by_header, shared):
        assert response.status_code == 400
        assert response["Content-Type"] != "text/event-stream"
    # A real time is streamed as before.
    fine = client.get(f"{url}?since={time.time():.3f}")
    assert fine.status_code == 200 and fine["Content-Type"] == "text/event-stream"
    fine.close()


def test_the_in_process_hub_forgets_a_project_when_its_last_viewer_leaves():
    async def come_and_go():
        hub = Hub()
        kept = []
        for project_id in range(1, 51):
            one = await hub.subscribe(project_id, "editors")
            two = await hub.subscribe(project_id, "viewers")
            hub.producers.pop(project_id).cancel()
            await one.close()
            kept.append(project_id in hub.subscribers)  # one viewer is still there
            await two.close()
        return kept, hub.subscribers

    kept, left = asyncio.run(come_and_go())
    assert all(kept)
    assert left == {}


@threaded
def test_a_stream_that_stops_reading_holds_one_resync_not_every_batch(user, monkeypatch):
    """A client whose send blocks reads nothing: what piles up for it is bounded, and
    collapses to one "resync" (the page fetches its timeline), then events flow again."""
    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut")
    card = f"shot-{shot_ids(project)[0]}"

    async def stall():
        stream = streams.stream(Viewer(project, role=Role.OWNER), time.time())
        await read(stream, "live-status")
        (subscription,) = hubs.hub().subscribers[project.pk]
        for n in range(5000):  # the stream is not read meanwhile, as when send blocks
            hubs.hub().dispatch(project.pk, [Event(card, f"<p>{n}</p>", "editors")])
        waiting = subscription.queue.qsize()
        caught_up = await read(stream, "event: ")
        hubs.hub().dispatch(project.pk, [Event(card, "<p>after</p>", "editors")])
        after = await read(stream, "after")
        await stream.aclose()
        return waiting, "".join(caught_up), "".join(after)

    waiting, caught_up, after = run(stall())
    assert waiting == 1
    assert "event: resync" in caught_up and "<p>" not in caught_up
    assert f"event: {card}" in after and "<p>after</p>" in after


def test_a_revoked_link_ends_a_stream_that_fell_behind():
    async def behind():
        hub = Hub()
        subscription = await hub.subscribe(1, "link:7")
        hub.producers.pop(1).cancel()
        for n in range(200):
            hub.dispatch(1, [Event("shot-1", str(n))])
        hub.dispatch(1, [Event("end", audience="link:7")])
        for n in range(200):
            hub.dispatch(1, [Event("shot-1", str(n))])
        return await subscription.next(1)

    assert [event.name for event in asyncio.run(behind())] == ["end"]


class RedisServer:
    """A redis-server of the test's own on a free port, stopped and started again at will
    (never the machine's own); stopped at the end."""

    def __init__(self, folder):
        from tests.live import free_port

        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        import subprocess

        self.process = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@threaded
def test_live_viewers_outlive_a_redis_that_stops_and_starts_again(
    user, monkeypatch, settings, own_redis
):
    """Redis stops under two viewers: their streams say so and end; every path of the
    hub meanwhile (lease, publish, read) copes with no connection; Redis comes back and
    the next viewer gets live events again."""
    monkeypatch.setattr(hubs, "TICK", 0.02)
    settings.REDIS_URL = own_redis.url
    project = chain(user, "cut")
    card = f"shot-{shot_ids(project)[0]}"
    errors = []

    async def through_a_restart():
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: errors.append(context)
        )
        hub = hubs.hub()
        viewers = [streams.stream(Viewer(project, role=Role.OWNER), time.time()) for _ in range(2)]
        for viewer in viewers:
            await read(viewer, "live-status")
        producer = hub.producers[project.pk]
        await sync_to_async(own_redis.stop)()
        ended = [[chunk async for chunk in viewer] for viewer in viewers]
        while hub.redis is not None:
            await asyncio.sleep(0.05)
        # The state after the failure: no connection, and every path copes with it.
        assert await hub.may_produce(project.pk) is False
        await hub.publish(project.pk, [Event(card, "lost")])
        await hub.released(project.pk)
        await asyncio.sleep(hubs.TICK * 5)  # the producer and the reader meet it too
        alive = not producer.done() or producer.exception() is None
        await sync_to_async(own_redis.start)()
        again = streams.stream(Viewer(project, role=Role.OWNER), time.time())
        back = await read(again, "live-status")
        await sync_to_async(pipeline.queue_takes)(project)
        news = await read(again, f"event: {card}")
        await again.aclose()
        for task in list(hub.producers.values()):
            task.cancel()
        if hub.reader:
            hub.reader.cancel()
        await hub._reset()
        return ended, alive, "".join(back), "".join(news)

    ended, alive, back, news = run(through_a_restart())
    for chunks in ended:
        assert 'data-live="off"' in "".join(chunks)
    assert alive
    assert 'data-live="on"' in back
    assert f"event: {card}" in news
    assert not [
        e
        for e in errors
        if "exception" in e and not isinstance(e["exception"], asyncio.CancelledError)
    ], errors


@threaded
def test_a_person_whose_access_changes_loses_their_streams_and_no_one_else(user, monkeypatch):
    """Removed from the team, given another role, left behind when the project moves to
    another team: that person's streams end; the others' go on."""
    from projects.models import Membership, Team
    from tests.factories import make_user

    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut")
    team = project.team
    removed, promoted, behind = make_user("bea"), make_user("cid"), make_user("dee")
    for person, role in ((removed, Role.EDITOR), (promoted, Role.VIEWER), (behind, Role.VIEWER)):
        Membership.objects.create(team=team, user=person, role=role)
    other = Team.objects.create(name="Elsewhere")
    Membership.objects.create(team=other, user=user, role=Role.OWNER)
    link = project.view_link()
    card = f"shot-{shot_ids(project)[0]}"
    looked, look = [], Watcher.look

    def counted_look(self):
        changes = look(self)
        looked.append(self)
        return changes

    monkeypatch.setattr(Watcher, "look", counted_look)

    def open_stream(person, role):
        return streams.stream(Viewer(project, role=role, user=person), time.time())

    async def ended(stream):
        return "".join([chunk async for chunk in stream])

    async def watch():
        owner = open_stream(user, Role.OWNER)
        shared = streams.stream(Viewer(project, link=link), time.time())
        others = [
            open_stream(removed, Role.EDITOR),
            open_stream(promoted, Role.VIEWER),
            open_stream(behind, Role.VIEWER),
        ]
        for stream in [owner, shared, *others]:
            await read(stream, "live-status")
        # The producer's first look learns who may watch; a change before it would be
        # what it starts from, not news (on a busy machine the streams can get here first).
        while not looked:
            await asyncio.sleep(0.01)
        await sync_to_async(Membership.objects.filter(user=removed).delete)()
        gone = [await asyncio.wait_for(ended(others[0]), 30)]
        await sync_to_async(Membership.objects.filter(user=promoted).update)(role=Role.EDITOR)
        gone.append(await asyncio.wait_for(ended(others[1]), 30))
        await sync_to_async(Project.objects.filter(pk=project.pk).update)(team=other)
        gone.append(await asyncio.wait_for(ended(others[2]), 30))
        await sync_to_async(pipeline.queue_takes)(project)
        kept = [await read(stream, f"event: {card}") for stream in (owner, shared)]
        for stream in (owner, shared):
            await stream.aclose()
        return gone, ["".join(chunks) for chunks in kept]

    gone, kept = run(watch())
    assert all(f"event: {card}" not in said for said in gone)
    assert all(f"event: {card}" in said for said in kept)  # the owner moved with it


@threaded
def test_a_stream_opened_as_access_changed_ends_at_once(user):
    from projects.models import Membership
    from tests.factories import make_user

    project = chain(user, "cut")
    removed = make_user("bea")
    Membership.objects.create(team=project.team, user=removed, role=Role.EDITOR)
    viewer = Viewer(project, role=Role.EDITOR, user=removed)  # decided when it asked
    Membership.objects.filter(user=removed).delete()

    async def watch():
        return "".join([chunk async for chunk in streams.stream(viewer, time.time())])

    said = run(asyncio.wait_for(watch(), 10))
    assert "live-status" not in said


@threaded
def test_viewers_who_join_together_share_one_catch_up_off_the_producers_threads(user, monkeypatch):
    """Twenty viewers open the page at once while a producer runs: their catch-ups are
    read once or twice, not twenty times, on threads that are not the producer's; an
    earlier viewer meanwhile gets the producer's events."""
    import threading

    monkeypatch.setattr(hubs, "TICK", 0.02)
    project = chain(user, "cut", "continue")
    # Pages rendered within one moment (streams.MOMENT) of each other, before the change.
    rendered_at = (time.time() - 30) // streams.MOMENT * streams.MOMENT + 1
    pipeline.queue_takes(project)  # changed since the pages were rendered
    first = shot_ids(project)[0]
    catch_ups, looks = [], []
    catch_up, look = streams.catch_up, Watcher.look
    release = threading.Event()

    def counted_catch_up(viewer, since):
        catch_ups.append(threading.current_thread().name)
        release.wait(10)  # all twenty have joined before the first one reads
        return catch_up(viewer, since)

    def counted_look(self):
        looks.append(threading.current_thread().name)
        return look(self)

    joined = []
    events = streams.catch_ups.events

    async def counted_events(viewer, since):
        joined.append(viewer)
        return await events(viewer, since)

    monkeypatch.setattr(streams, "catch_up", counted_catch_up)
    monkeypatch.setattr(Watcher, "look", counted_look)
    monkeypatch.setattr(streams.catch_ups, "events", counted_events)

    async def join():
        earlier = streams.stream(Viewer(project, role=Role.OWNER), time.time())
        reading = asyncio.ensure_future(read(earlier, "live-status"))
        while not catch_ups:
            await asyncio.sleep(0.01)
        crowd = [
            streams.stream(Viewer(project, role=Role.OWNER, user=user), rendered_at + n / 20)
            for n in range(20)
        ]
        caught = [asyncio.ensure_future(read(stream, "live-status")) for stream in crowd]
        while len(joined) < 21:  # the crowd has subscribed and waits for its catch-up
            await asyncio.sleep(0.01)
        # Meanwhile the producer goes on: a change reaches the viewer already here.
        await sync_to_async(Take.objects.filter(shot_id=first).update)(progress=0.5)
        release.set()
        await reading
        live = await read(earlier, f"event: shot-{first}")
        got = ["".join(await chunks) for chunks in caught]
        for stream in [earlier, *crowd]:
            await stream.aclose()
        return got, "".join(live)

    got, live = run(join())
    assert all(f"event: shot-{first}" in said for said in got)
    assert len(catch_ups) <= 3  # the earlier viewer's, and the crowd's one or two
    assert all(name.startswith("live-catch-up") for name in catch_ups)
    assert looks and all(name.startswith("live-producer") for name in looks)
    assert f"event: shot-{first}" in live or "progress-" in live


def test_a_server_is_ready_for_the_streams_that_reconnect_after_a_restart():
    """Before its first request a server has imported its views and compiled the live
    events' templates: the first of many reconnecting streams does not do it while the
    others wait."""
    import subprocess
    import sys

    from django.conf import settings

    probe = (
        "import sys\n"
        "import storyboard.asgi\n"
        "from django.template import engines\n"
        "cached = engines['django'].engine.template_loaders[0].loaders[0]\n"
        "print('projects.live.stream' in sys.modules, sorted(cached.get_template_cache))\n"
    )
    said = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert said.returncode == 0, said.stderr
    imported, compiled = said.stdout.split(" ", 1)
    assert imported == "True"
    assert "'projects/timeline.html'" in compiled and "'projects/live_status.html'" in compiled
