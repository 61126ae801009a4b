"""Who works on a take or an export, and whether that worker still lives.

A worker stamps the rows it works on with "host:pid" and a heartbeat. A row whose
heartbeat is older than PIPELINE_LEASE_SECONDS, or whose process no longer exists on
this host, is an orphan that another worker may take over.
"""

import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

HOST = socket.gethostname()


class LeaseLost(Exception):
    """Another worker took this row over: stop working on it, write nothing more."""


def me():
    # Read each time: worker processes are forked after this module loads.
    return f"{HOST}:{os.getpid()}"


def beat():
    """The fields that say who works on a row, and that it is alive."""
    return {"heartbeat_at": timezone.now(), "worker": me()}


def expired_before():
    """Rows whose heartbeat is older than this have lost their lease."""
    return timezone.now() - timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


def orphaned(row):
    """Whether the worker stamped on `row` is gone: silent too long, or dead on this host."""
    if row.heartbeat_at is None or row.heartbeat_at < expired_before():
        return True
    host, _, pid = row.worker.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Heartbeat:
    """Refreshes a row's lease during long work, at most every sixth of the lease.

    `queryset` selects the row only while this worker holds it; when that selects
    nothing any more, the lease was lost and LeaseLost is raised.
    """

    def __init__(self, queryset):
        self.queryset = queryset
        self.every = settings.PIPELINE_LEASE_SECONDS / 6
        self.last = time.monotonic()

    def __call__(self, *_):
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        if not self.queryset.update(heartbeat_at=timezone.now()):
            raise LeaseLost
