"""Request-rate limits per style, as a gateway enforces them; none unless asked for."""

from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass

# (setting, window in seconds, how a refusal words it)
WINDOWS = (("rpm", 60, "a minute"), ("per_day", 86400, "a day"))


@dataclass(frozen=True)
class Limit:
    rpm: int | None = None
    per_day: int | None = None
    concurrency: int | None = None  # unfinished tasks; the engine checks it at create


class RateLimited(Exception):
    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class Limits:
    """Sliding-window request counts per style.

    Every API request that reaches the service counts, refused or not, except one refused
    for the rate itself: so a client that waits out Retry-After gets in.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._limits = {}  # style -> Limit
        self._seen = {}  # style -> deque of monotonic times of counted requests

    def set(self, style, *, rpm=None, per_day=None, concurrency=None):
        for name, value in (("rpm", rpm), ("per_day", per_day), ("concurrency", concurrency)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number or None")
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        with self._lock:
            self._limits[style] = Limit(rpm, per_day, concurrency)

    def concurrency(self, style):
        with self._lock:
            return self._limits.get(style, Limit()).concurrency

    def admit(self, style):
        """Count one request of `style`, or raise RateLimited when it is over a limit."""
        now = time.monotonic()
        with self._lock:
            limit = self._limits.get(style, Limit())
            if limit.rpm is None and limit.per_day is None:
                return
            seen = self._seen.setdefault(style, collections.deque())
            while seen and seen[0] <= now - WINDOWS[-1][1]:
                seen.popleft()
            for name, window, wording in WINDOWS:
                allowed = getattr(limit, name)
                if allowed is None:
                    continue
                inside = [at for at in seen if at > now - window]
                if len(inside) >= allowed:
                    # Room comes back when the request `allowed` places from the end leaves.
                    wait = inside[len(inside) - allowed] + window - now
                    raise RateLimited(
                        f"Rate limit reached: {allowed} requests {wording}.",
                        max(1, math.ceil(wait)),
                    )
            seen.append(now)

    def reset(self):
        with self._lock:
            self._seen.clear()
