"""/healthz: whether this process reaches the database, the task broker and media storage.

For load balancers and orchestrators: no sign-in, JSON, 200 when all three answer and 503
otherwise, within a few seconds whatever hangs.
"""

import logging
import threading
import time
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Seconds the three checks have, together (they run side by side).
TIMEOUT = 5.0


def database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker():
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
    # Written and removed: reading alone would miss a full disk or a read-only key.
    name = default_storage.save(f"healthz/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


CHECKS = {"database": database, "broker": broker, "storage": storage}


def _run(check, results, key):
    try:
        check()
        results[key] = "ok"
    except Exception as exc:
        logger.warning("healthz: %s failed", key, exc_info=True)
        results[key] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        connections.close_all()  # this thread's own, opened by the check


@never_cache
@require_safe
def healthz(request):
    results = {}
    threads = [
        threading.Thread(target=_run, args=(check, results, key), daemon=True)
        for key, check in CHECKS.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    answer = {key: results.get(key, f"no answer within {TIMEOUT:g} s") for key in CHECKS}
    healthy = all(value == "ok" for value in answer.values())
    return JsonResponse(answer, status=200 if healthy else 503)
