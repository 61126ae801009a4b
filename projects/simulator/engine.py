"""The simulator's task store and lifecycle, shared by every wire style: queue, render, finish."""

from __future__ import annotations

import copy
import enum
import heapq
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .render import FPS, render_clip

logger = logging.getLogger(__name__)

# Signed file links live this long after a task succeeds.
FILE_LIFETIME = 24 * 3600
# A quarter of the simulated delay is spent queued, the rest running.
QUEUED_SHARE = 0.25


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def finished(self):
        return self not in (Status.QUEUED, Status.RUNNING)


@dataclass(frozen=True)
class TaskError:
    """Why a task ended badly, in neutral terms; each style names `kind` with its own code."""

    kind: str  # "moderation", "server_error" or "expired"
    message: str


MODERATED = TaskError("moderation", "The output video was withheld by content moderation.")
BROKEN = TaskError("server_error", "The video could not be generated.")
EXPIRED = TaskError("expired", "The task did not finish before it expired.")


@dataclass
class Task:
    """One generation, in the simulator's own terms; each style maps it to and from its wire."""

    id: str
    style: str
    model: str
    prompt: str
    width: int
    height: int
    resolution: str
    ratio: str
    duration: int
    generate_audio: bool
    watermark: bool
    seed: int
    return_last_frame: bool
    callback_url: str | None
    expires_after: int
    delay: float
    first_frame: Image.Image | None = field(default=None, repr=False)
    last_frame: Image.Image | None = field(default=None, repr=False)
    reference: Image.Image | None = field(default=None, repr=False)
    # How the task must end instead of succeeding (a fault or a prompt directive), if at all.
    fate: TaskError | None = None
    # How its clip's last moments are spoiled, if at all (render.ENDINGS: [sim:end=...]).
    ending: str | None = None
    fps: int = FPS  # its clip's frame rate: the simulator's (render.RATES)
    status: Status = Status.QUEUED
    error: TaskError | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = 0.0
    # Unix time after which the signed file links stop working; set when it succeeds.
    files_expire_at: int | None = None
    # The engine's bookkeeping: whether the clip exists (or why not), and whether the
    # delay ran out before it did.
    rendered: bool = False
    render_error: TaskError | None = None
    finish_due: bool = False

    def __post_init__(self):
        self.updated_at = self.updated_at or self.created_at

    @property
    def expiring(self):
        return self.fate is not None and self.fate.kind == EXPIRED.kind

    @property
    def lifetime(self):
        """Seconds from creation to the end: its delay, unless it expires first."""
        return min(self.delay, self.expires_after)

    @property
    def progress(self):
        """Percent done, 0-100, as the gateway styles report it."""
        if self.status is Status.QUEUED:
            return 0
        if self.status is Status.RUNNING:
            share = (time.time() - self.created_at) / self.lifetime if self.lifetime else 1
            # A running task is neither untouched nor done, however slow its render.
            return min(99, max(1, int(100 * share)))
        return 100

    @property
    def tokens(self):
        # Billing counts one frame more than a 24 fps clip holds (1280x720x121/1024 =
        # 108900), whatever the rate the clip is rendered at.
        return self.width * self.height * (FPS * self.duration + 1) // 1024

    @property
    def video_name(self):
        return f"{self.id}.mp4"

    @property
    def frame_name(self):
        return f"{self.id}.png"


class CannotCancel(Exception):
    """Raised for a running task: the service lets it finish."""


class Busy(Exception):
    """Raised by create when the style already runs as many tasks as it may."""

    def __init__(self, limit, retry_after):
        super().__init__(f"at most {limit} tasks may be unfinished at once")
        self.limit, self.retry_after = limit, retry_after


class _Abandoned(Exception):
    """The task went away (cancelled, deleted, reset, shutdown) while its clip was rendering."""


class Engine:
    """Holds the tasks and moves them along; every method is safe to call from any thread.

    Rendering starts as soon as a task is created, on at most two worker threads; the
    scheduler thread flips a task to running after a quarter of its delay and to succeeded
    once the delay is over and its clip exists. A task with a fate renders nothing and ends
    as its fate says instead. `on_change(task)` gets a copy of the task after every status
    change, outside the lock. With `small`, clips are rendered small (see render_clip);
    the tasks keep the size they were asked for. Clips are rendered at `fps` frames a
    second (render.RATES).
    """

    def __init__(self, data_dir, *, on_change=None, render_workers=2, small=False, fps=FPS):
        self.data_dir = Path(data_dir)
        self.small = small
        self.fps = fps
        self._on_change = on_change or (lambda task: None)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._tasks = {}
        self._timers = []  # heap of (monotonic due time, sequence, task id, next status)
        self._sequence = 0
        self._creates = {}  # style -> accepted creates
        self._closing = False
        self._renders = ThreadPoolExecutor(render_workers, thread_name_prefix="simulator-render")
        self._scheduler = threading.Thread(
            target=self._schedule, name="simulator-scheduler", daemon=True
        )

    def start(self):
        self._scheduler.start()

    def close(self):
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if self._scheduler.is_alive():
            self._scheduler.join()
        # Running renders notice _closing at their next frame and stop.
        self._renders.shutdown(wait=True, cancel_futures=True)

    @property
    def create_count(self):
        with self._lock:
            return sum(self._creates.values())

    @property
    def creates_by_style(self):
        with self._lock:
            return dict(self._creates)

    def create(self, *, new_id, max_active=None, **fields):
        """Store a new queued task built from Task's fields (all but id and status).

        `new_id()` proposes ids in the style's format. With `max_active`, raises Busy when
        the style already has that many unfinished tasks; the check and the insert share
        the lock, so parallel creates cannot both slip under the limit.
        """
        with self._wake:
            if max_active is not None:
                self._check_room(fields["style"], max_active)
            task_id = new_id()
            while task_id in self._tasks:
                task_id = new_id()
            task = Task(id=task_id, fps=self.fps, **fields)
            if task.expires_after < task.delay and not task.fate:
                task.fate = EXPIRED
            self._tasks[task.id] = task
            self._creates[task.style] = self._creates.get(task.style, 0) + 1
            now = time.monotonic()
            # An expiring task never got to run: it goes straight from queued to expired.
            if not task.expiring:
                self._at(now + task.lifetime * QUEUED_SHARE, task.id, Status.RUNNING)
            self._at(now + task.lifetime, task.id, Status.SUCCEEDED)
            snapshot = copy.copy(task)
        if not task.fate:
            self._renders.submit(self._render, task.id)
        return snapshot

    def get(self, task_id):
        with self._lock:
            task = self._tasks.get(task_id)
            return copy.copy(task) if task else None

    def tasks(self, style=None):
        """All tasks (of one style, if given), newest first."""
        with self._lock:
            return [
                copy.copy(task)
                for task in reversed(self._tasks.values())
                if style is None or task.style == style
            ]

    def finish(self, task_id, error):
        """End an unfinished task now as `error` says; return the task as it now is, or None."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            changed = not task.status.finished
            if changed:
                self._end(task, error)
            snapshot = copy.copy(task)
        if changed:
            self._on_change(snapshot)
        return snapshot

    def cancel(self, task_id):
        """Cancel a queued task or delete a finished one.

        Returns the task as it now is (None once deleted); raises KeyError for an unknown
        id and CannotCancel for a running task.
        """
        with self._lock:
            task = self._tasks[task_id]
            if task.status is Status.RUNNING:
                raise CannotCancel(task_id)
            if task.status is Status.QUEUED:
                self._set(task, Status.CANCELLED)
                snapshot = copy.copy(task)
            else:
                del self._tasks[task_id]
                snapshot = None
            self._remove_files(task)
        if snapshot:
            self._on_change(snapshot)
        return snapshot

    def stats(self):
        with self._lock:
            counts = {}
            for task in self._tasks.values():
                counts[task.status.value] = counts.get(task.status.value, 0) + 1
            return {
                "creates": sum(self._creates.values()),
                "creates_by_style": dict(self._creates),
                "tasks": counts,
            }

    def reset(self):
        """Forget every task and its files; renders in flight stop at their next frame."""
        with self._lock:
            for task in self._tasks.values():
                self._remove_files(task)
            self._tasks.clear()
            self._timers.clear()
            self._creates.clear()

    def _check_room(self, style, limit):
        active = [
            task
            for task in self._tasks.values()
            if task.style == style and not task.status.finished
        ]
        if len(active) >= limit:
            # A hint, not a promise: a render slower than its delay finishes later.
            soonest = min(task.created_at + task.lifetime for task in active)
            raise Busy(limit, max(1, math.ceil(soonest - time.time())))

    def _at(self, when, task_id, status):
        self._sequence += 1
        heapq.heappush(self._timers, (when, self._sequence, task_id, status))
        self._wake.notify()

    def _end(self, task, error):
        self._set(task, Status.EXPIRED if error.kind == EXPIRED.kind else Status.FAILED, error)

    def _set(self, task, status, error=None):
        task.status = status
        task.error = error
        task.updated_at = time.time()
        if status.finished:
            task.first_frame = task.last_frame = task.reference = None
        if status is Status.SUCCEEDED:
            task.files_expire_at = int(task.updated_at) + FILE_LIFETIME

    def _schedule(self):
        while True:
            changed = []
            with self._wake:
                while not self._closing and not self._due():
                    timeout = self._timers[0][0] - time.monotonic() if self._timers else None
                    self._wake.wait(timeout)
                if self._closing:
                    return
                while self._due():
                    _, _, task_id, status = heapq.heappop(self._timers)
                    task = self._tasks.get(task_id)
                    if task and self._advance(task, status):
                        changed.append(copy.copy(task))
            for snapshot in changed:
                self._on_change(snapshot)

    def _due(self):
        return bool(self._timers) and self._timers[0][0] <= time.monotonic()

    def _advance(self, task, status):
        """Apply a timer to a task; True when its status changed."""
        if status is Status.RUNNING:
            if task.status is not Status.QUEUED:
                return False
            self._set(task, Status.RUNNING)
            return True
        if task.status.finished:
            return False
        if task.fate:
            self._end(task, task.fate)
        elif task.render_error:
            self._set(task, Status.FAILED, task.render_error)
        elif task.rendered:
            self._set(task, Status.SUCCEEDED)
        else:
            # The render is slower than the delay: it finishes the task itself.
            task.finish_due = True
            return False
        return True

    def _render(self, task_id):
        with self._lock:
            task = self._tasks.get(task_id)
            if not task or task.status.finished or self._closing:
                return
            job = copy.copy(task)
        video = self.data_dir / f"{task_id}.part.mp4"
        frame = self.data_dir / f"{task_id}.part.png"
        error = None
        try:
            last = render_clip(
                video,
                width=job.width,
                height=job.height,
                duration=job.duration,
                prompt=job.prompt,
                first_frame=job.first_frame,
                last_frame=job.last_frame,
                reference=job.reference,
                generate_audio=job.generate_audio,
                seed=job.seed,
                small=self.small,
                ending=job.ending,
                fps=job.fps,
                progress=lambda fraction: self._check_alive(task_id),
            )
            last.save(frame)
        except _Abandoned:
            _unlink(video, frame)
            return
        except Exception:
            logger.exception("rendering %s failed", task_id)
            error = BROKEN

        with self._lock:
            task = self._tasks.get(task_id)
            if not task or task.status.finished:
                _unlink(video, frame)
                return
            if error:
                _unlink(video, frame)
                task.render_error = error
            else:
                os.replace(video, self.data_dir / task.video_name)
                os.replace(frame, self.data_dir / task.frame_name)
                task.rendered = True
            if not task.finish_due:
                return
            self._advance(task, Status.SUCCEEDED)
            snapshot = copy.copy(task)
        self._on_change(snapshot)

    def _check_alive(self, task_id):
        with self._lock:
            task = self._tasks.get(task_id)
            if self._closing or not task or task.status.finished:
                raise _Abandoned

    def _remove_files(self, task):
        _unlink(self.data_dir / task.video_name, self.data_dir / task.frame_name)


def _unlink(*paths):
    for path in paths:
        path.unlink(missing_ok=True)
