"""Fan-out of a project's live events: one producer per project, however many watch.

The producer looks for changes (watch.Watcher), renders what changed once per audience
(render.render) and publishes the events. In one process (no REDIS_URL) the hub hands
them straight to the streams of that process. With REDIS_URL, every web process
subscribes to the project's Redis channel for its own viewers, and one process at a
time, holding a lease in Redis, produces for all of them.
"""

import asyncio
import json
import logging
import os
import secrets
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

from .render import Event, render
from .watch import Watcher

log = logging.getLogger(__name__)
# Seconds between two looks for changes: every viewer sees a change within about this.
TICK = 0.3
# A producer whose last viewer left keeps going this long, for a browser that reconnects.
LINGER = 10.0
END = Event("end")
# The producers' looks and renders run here, and nothing else does: a crowd of viewers
# catching up (stream.CATCH_UPS) cannot hold up the events of those already watching.
PRODUCERS = ThreadPoolExecutor(2, thread_name_prefix="live-producer")


def close_connections(executor, threads=2):
    """Close the database connection of each of `executor`'s `threads` threads (they keep
    theirs between looks): for tests that drop their database afterwards."""
    import threading

    from django.db import connections

    meet = threading.Barrier(threads, timeout=10)

    def close():
        meet.wait()  # every thread takes one
        connections.close_all()

    for done in [executor.submit(close) for _ in range(threads)]:
        done.result()


# Sent in place of what a stream could not keep up with: the page fetches its timeline.
RESYNC = Event("resync")
# Batches a stream may have waiting. A client that stops reading blocks its stream in
# the server's send; past this, what waits collapses to one RESYNC.
QUEUE_BATCHES = 64


class HubUnavailable(Exception):
    """Live events cannot be had now (Redis is down): the page polls instead."""


class Subscription:
    """One stream's view of a project's events: batches of Events, in order."""

    def __init__(self, hub, project_id, audience, person=None):
        self.hub = hub
        self.project_id = project_id
        self.audience = audience
        self.person = person  # a member's own audience (render.person); None for links
        self.queue = asyncio.Queue(QUEUE_BATCHES)
        self.behind = False  # a RESYNC waits: until it is read, the refetch covers all

    def deliver(self, events):
        mine = [e for e in events if e.audience in (None, self.audience, self.person)]
        if not mine:
            return
        if self.behind:  # a resync waits: it covers the rest, but not an end
            if _ends(mine):
                self._collapse(mine)
            return
        try:
            self.queue.put_nowait(mine)
        except asyncio.QueueFull:  # its reader is stuck: all that waits becomes one resync
            self._collapse(mine)

    def stop(self):
        """Live events stopped (Redis is gone): the stream reads None next, and ends."""
        self._collapse(None)

    def _collapse(self, batch):
        waiting = [batch]
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait())
        if any(batch is None for batch in waiting):
            self.queue.put_nowait(None)
        elif any(_ends(batch) for batch in waiting):  # an end is never lost
            self.queue.put_nowait([END])
            self.behind = False
        else:
            self.queue.put_nowait([RESYNC])
            self.behind = True

    async def next(self, timeout):
        """The next batch of events, or [] when none came within `timeout` seconds."""
        try:
            batch = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return []
        if batch == [RESYNC]:
            self.behind = False  # what comes next, the page has not fetched
        return batch

    async def close(self):
        await self.hub.unsubscribe(self)


def _ends(batch):
    return any(event.name == "end" for event in batch)


def _stop_if_cancelled():
    """Raise CancelledError if this task was asked to stop.

    A cancellation that reaches redis-py in the middle of a command can be lost there: the
    command answers as usual, or fails as if Redis had. A producer or reader that went on
    would keep a closing event loop (a server shutting down) waiting: the producer until
    LINGER had passed without viewers, the reader until it failed the streams for nothing.
    So they ask after each round trip, and stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Hub:
    """The in-process hub: producers and streams in this process only."""

    def __init__(self):
        self.subscribers = {}  # project id: set of Subscriptions
        self.producers = {}  # project id: asyncio.Task

    async def subscribe(self, project_id, audience, person=None):
        subscription = Subscription(self, project_id, audience, person)
        self.subscribers.setdefault(project_id, set()).add(subscription)
        self._ensure_producer(project_id)
        return subscription

    async def unsubscribe(self, subscription):
        watching = self.subscribers.get(subscription.project_id, set())
        watching.discard(subscription)
        if not watching:  # the last viewer left: nothing kept for a project nobody watches
            self.subscribers.pop(subscription.project_id, None)

    def _ensure_producer(self, project_id):
        task = self.producers.get(project_id)
        if task is None or task.done():
            self.producers[project_id] = asyncio.get_running_loop().create_task(
                self._produce(project_id)
            )

    async def _produce(self, project_id):
        """Look for changes every TICK while anyone here watches, and hand them out."""
        watcher = Watcher(project_id)
        idle_since = None
        try:
            while True:
                _stop_if_cancelled()
                if self.subscribers.get(project_id):
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > LINGER:
                    return
                producing = await self.may_produce(project_id)
                _stop_if_cancelled()
                if not producing:
                    await asyncio.sleep(1.0)
                    watcher = Watcher(project_id)  # another process produced meanwhile
                    continue
                events = await produce_once(watcher)
                if events:
                    await self.publish(project_id, events)
                if watcher.project is None:  # gone
                    return
                _stop_if_cancelled()
                await asyncio.sleep(TICK)
        finally:
            self.producers.pop(project_id, None)
            await self.released(project_id)

    async def may_produce(self, project_id):
        return True

    async def released(self, project_id):
        pass

    async def publish(self, project_id, events):
        self.dispatch(project_id, events)

    def dispatch(self, project_id, events):
        for subscription in list(self.subscribers.get(project_id, ())):
            subscription.deliver(events)


class RedisHub(Hub):
    """Many web processes: events travel through Redis pub/sub; the producer of each
    project is whichever process holds its lease."""

    LEASE_MS = 3000

    def __init__(self, url):
        super().__init__()
        self.url = url
        self.me = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.redis = None
        self.pubsub = None
        self.reader = None
        self.running = {}  # (connection, command): its answer, shared by all who wait

    @staticmethod
    def channel(project_id):
        return f"storyboard:live:{project_id}"

    async def _connect(self):
        """This process's connection and pub/sub to Redis, made anew after a failure; a
        reader of its messages running."""
        import redis.asyncio as redis

        if self.redis is None:
            self.redis = redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        if self.reader is None or self.reader.done():
            self.reader = asyncio.get_running_loop().create_task(self._read())
        return self.redis, self.pubsub

    # Every path below holds on to the connection it started with: after a failure
    # (_fail_all), self.redis and self.pubsub are None until a viewer connects again, and
    # a late failure of the old connection must not end the streams of the new one.

    async def subscribe(self, project_id, audience, person=None):
        redis = None
        try:
            redis, pubsub = await self._connect()
            await self._shared((redis, "ping"), redis.ping)
            if not self.subscribers.get(project_id):
                channel = self.channel(project_id)
                await self._shared((pubsub, channel), lambda: pubsub.subscribe(channel))
        except (RedisError, OSError) as error:  # Redis cannot be reached: the page polls
            self._fail(redis)
            raise HubUnavailable(str(error) or type(error).__name__) from error
        if redis is not self.redis:  # it failed meanwhile, for another stream
            raise HubUnavailable("the event service stopped")
        return await super().subscribe(project_id, audience, person)

    async def _shared(self, key, command):
        """`command()`'s answer, asked once for every stream that waits for it meanwhile:
        fifty streams opening at once ping Redis once, not each on a connection of its
        own, and subscribe to their project's channel once."""
        running = self.running.get(key)
        if running is None:
            running = self.running[key] = asyncio.ensure_future(command())
            running.add_done_callback(lambda done: self._answered(key, done))
        return await asyncio.shield(running)

    def _answered(self, key, done):
        if self.running.get(key) is done:
            del self.running[key]
        if not done.cancelled():
            done.exception()  # retrieved, even when everyone who waited has gone

    async def unsubscribe(self, subscription):
        await super().unsubscribe(subscription)
        project_id = subscription.project_id
        pubsub = self.pubsub
        if not self.subscribers.get(project_id) and pubsub is not None:
            try:
                await pubsub.unsubscribe(self.channel(project_id))
            except (RedisError, OSError):  # gone with Redis: nothing left to unsubscribe
                log.debug("unsubscribing from %s failed", project_id, exc_info=True)

    async def may_produce(self, project_id):
        """Take or keep the project's lease; True while this process holds it."""
        redis = self.redis
        if redis is None:  # failed, and no viewer here since: nothing to produce for
            return False
        key = f"{self.channel(project_id)}:producer"
        try:
            if await redis.set(key, self.me, nx=True, px=self.LEASE_MS):
                return True
            if (await redis.get(key) or b"").decode() == self.me:
                await redis.pexpire(key, self.LEASE_MS)
                return True
        except (RedisError, OSError):  # Redis is gone: the streams end and the pages poll
            _stop_if_cancelled()  # or this producer was stopped in the middle of asking
            log.warning("the live lease of project %s could not be read", project_id)
            self._fail(redis)
        return False

    async def released(self, project_id):
        redis = self.redis
        key = f"{self.channel(project_id)}:producer"
        try:
            if redis is not None and (await redis.get(key) or b"").decode() == self.me:
                await redis.delete(key)
        except (RedisError, OSError):
            log.debug("releasing the live lease of %s failed", project_id, exc_info=True)

    async def publish(self, project_id, events):
        redis = self.redis
        if redis is None:  # failed: the streams here ended, the others' hubs produce
            return
        message = json.dumps([event.to_json() for event in events])
        try:
            await redis.publish(self.channel(project_id), message)
        except (RedisError, OSError):
            _stop_if_cancelled()
            log.warning("publishing live events of project %s failed", project_id)
            self._fail(redis)

    async def _read(self):
        """Hand every message of the subscribed channels to this process's streams. It
        follows the hub's pub/sub as it is made anew after a failure, and ends when there
        is none (the next viewer starts another)."""
        while True:
            _stop_if_cancelled()
            pubsub = self.pubsub
            if pubsub is None:
                return
            try:
                if not pubsub.subscribed:
                    await asyncio.sleep(0.2)
                    continue
                message = await pubsub.get_message(timeout=1.0)
            except (RedisError, OSError):
                _stop_if_cancelled()  # the error is the cancellation's, not Redis's
                if pubsub is not self.pubsub:
                    continue  # the connection closed after a failure: read the new one
                log.warning("reading live events from Redis failed; streams fall back to polling")
                self._fail_all()
                return
            if message is None or message["type"] != "message":
                continue
            project_id = int(message["channel"].decode().rsplit(":", 1)[1])
            events = [Event.from_json(value) for value in json.loads(message["data"])]
            self.dispatch(project_id, events)

    def _fail(self, redis):
        """`redis` failed: if it is still this hub's connection, fail all (a connection
        already replaced has no streams left to end)."""
        if redis is not None and redis is self.redis:
            self._fail_all()

    def _fail_all(self):
        """Tell every stream here that live events stopped; they end, and pages poll.
        The connection is dropped at once; the next viewer makes a new one."""
        for watching in self.subscribers.values():
            for subscription in watching:
                subscription.stop()
        self.subscribers.clear()
        redis, pubsub, self.redis, self.pubsub = self.redis, self.pubsub, None, None
        asyncio.get_running_loop().create_task(self._close(redis, pubsub))

    async def _reset(self):
        redis, pubsub, self.redis, self.pubsub = self.redis, self.pubsub, None, None
        await self._close(redis, pubsub)

    @staticmethod
    async def _close(redis, pubsub):
        for client in (pubsub, redis):
            if client is None:
                continue
            try:
                await client.aclose()
            except (RedisError, OSError):
                log.debug("closing the Redis connection failed", exc_info=True)


async def produce_once(watcher):
    """One look for changes and their events, in a producers' thread (the ORM is
    synchronous)."""
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(PRODUCERS, _look_and_render, watcher)
    except Exception:
        log.exception("the live producer of project %s failed a look", watcher.project_id)
        return []


def _look_and_render(watcher):
    try:
        changes = watcher.look()
        return render(watcher.project_id, changes, watcher.expectations) if changes else []
    except Exception:
        connection.close()  # a broken connection is made anew next time
        raise


_hubs = weakref.WeakKeyDictionary()


def hub():
    """The hub of this process's event loop: through Redis when REDIS_URL is set, else
    in-process."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = RedisHub(settings.REDIS_URL) if settings.REDIS_URL else Hub()
    return _hubs[loop]
