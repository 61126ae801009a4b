"""/healthz: whether this process reaches the database, the task broker and media storage.

For load balancers and orchestrators: no sign-in, JSON, 200 when all three answer and 503
otherwise, within a few seconds whatever hangs. However often it is asked, each dependency
has at most one check in flight, and a check gives up connecting after a few seconds.
"""

import gc
import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Seconds the three checks have, together (they run side by side).
TIMEOUT = 5.0


# Seconds a check may spend connecting to its dependency: a check ends by itself soon
# after the probe gave up on it, and leaves no thread behind.
CONNECT_TIMEOUT = 3


def database():
    # PostgreSQL connects within CONNECT_TIMEOUT (settings: OPTIONS connect_timeout).
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker():
    url = settings.Q_CLUSTER.get("redis")
    if isinstance(url, str):  # Redis: asked with timeouts of its own, not the broker's
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
        try:
            if not client.ping():
                raise ConnectionError("the broker did not answer")
        finally:
            client.close()
        return
    from django_q.brokers import get_broker

    queue = get_broker()
    try:
        if not queue.ping():
            raise ConnectionError("the broker did not answer")
        # The ORM broker's ping() answers True without asking anything: count its queue.
        queue.queue_size()
    finally:
        close = getattr(queue.connection, "close", None)  # a Redis client; a QuerySet has none
        if close is not None:
            close()


def storage():
    """S3: a head of the bucket (it exists, and these keys reach it), nothing written per
    probe. A folder: it exists and this process may write in it."""
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket is not None:
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)
        return
    location = Path(default_storage.location)
    existing = next(folder for folder in (location, *location.parents) if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"media storage {location} cannot be written")


CHECKS = {"database": database, "broker": broker, "storage": storage}


class _Check:
    """One run of a check in a thread of its own; probes that come while it runs wait for
    it rather than start another: at most one in flight per dependency."""

    def __init__(self, key):
        self.key = key
        self.result = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"healthz-{key}", daemon=True)

    def _run(self):
        try:
            self.result = _outcome(self.key)
            if self.result != "ok":
                # psycopg's connect timeout leaves its socket in a reference cycle of
                # the traceback: freed now, not whenever the collector next runs. One
                # collection at a time: CPython skips one asked for during another.
                with _collecting:
                    gc.collect()
        finally:
            with _lock:
                if _running.get(self.key) is self:
                    del _running[self.key]
            self.done.set()


def _outcome(key):
    try:
        CHECKS[key]()
        return "ok"
    except Exception as exc:
        logger.warning("healthz: %s failed", key, exc_info=True)
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        connections.close_all()  # this thread's own, opened by the check


_lock = threading.Lock()
_collecting = threading.Lock()
_running = {}  # check name: its _Check in flight


def _check(key):
    """The check of `key` in flight, started if none is."""
    with _lock:
        check = _running.get(key)
        if check is None:
            check = _running[key] = _Check(key)
            check.thread.start()
        return check


@never_cache
@require_safe
def healthz(request):
    checks = {key: _check(key) for key in CHECKS}
    deadline = time.monotonic() + TIMEOUT
    for check in checks.values():
        check.done.wait(max(0.0, deadline - time.monotonic()))
    answer = {
        key: check.result if check.done.is_set() else f"no answer within {TIMEOUT:g} s"
        for key, check in checks.items()
    }
    healthy = all(value == "ok" for value in answer.values())
    return JsonResponse(answer, status=200 if healthy else 503)
