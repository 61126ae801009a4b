"""The simulator's task store and lifecycle, shared by every wire style: queue, render, finish."""

from __future__ import annotations

import base64
import binascii
import copy
import enum
import heapq
import io
import logging
import os
import secrets
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from .render import FPS, render_clip

logger = logging.getLogger(__name__)

# The real service's input limits for images.
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"}
MAX_IMAGE_BYTES = 30 * 1024 * 1024
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
    code: str
    message: str


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
    def tokens(self):
        # Billing counts one frame more than the clip holds (1280x720x121/1024 = 108900).
        return self.width * self.height * (FPS * self.duration + 1) // 1024

    @property
    def video_name(self):
        return f"{self.id}.mp4"

    @property
    def frame_name(self):
        return f"{self.id}.png"


class InputError(ValueError):
    """An input the real service would refuse; the style says which parameter it was."""


def load_image(url, *, timeout=10.0):
    """Decode an image given as a data URI or an http(s) URL, checking the service's limits."""
    if url.startswith("data:"):
        header, sep, payload = url[5:].partition(",")
        if not sep or not header.startswith("image/") or not header.endswith(";base64"):
            raise InputError("a data URI must look like data:image/<type>;base64,<data>")
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise InputError("the data URI does not hold valid base64") from None
    elif url.startswith(("http://", "https://")):
        try:
            response = httpx.get(url, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise InputError(f"the image could not be downloaded: {exc}") from None
        if response.status_code != 200:
            raise InputError(f"the image could not be downloaded: HTTP {response.status_code}")
        data = response.content
    else:
        raise InputError("an image must be a data:image URI or an http(s) URL")
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError("the image is larger than 30 MB")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:  # Pillow's decoders fail in many ways on bad bytes; all mean the same
        raise InputError("the image cannot be decoded") from None
    if image.format not in IMAGE_FORMATS:
        raise InputError(f"image format {image.format} is not supported")
    width, height = image.size
    if not 0.4 <= width / height <= 2.5:
        raise InputError(f"the image's aspect ratio {width}x{height} is outside 0.4-2.5")
    if min(width, height) <= 300 or max(width, height) >= 6000:
        raise InputError(
            f"the image is {width}x{height}; each side must be over 300 and under 6000 px"
        )
    return image.convert("RGB")


class CannotCancel(Exception):
    """Raised for a running task: the service lets it finish."""


class _Abandoned(Exception):
    """The task went away (cancelled, deleted, reset, shutdown) while its clip was rendering."""


class Engine:
    """Holds the tasks and moves them along; every method is safe to call from any thread.

    Rendering starts as soon as a task is created, on at most two worker threads; the
    scheduler thread flips a task to running after a quarter of its delay and to succeeded
    once the delay is over and its clip exists. `on_change(task)` gets a copy of the task
    after every status change, outside the lock.
    """

    def __init__(self, data_dir, *, on_change=None, render_workers=2):
        self.data_dir = Path(data_dir)
        self._on_change = on_change or (lambda task: None)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._tasks = {}
        self._timers = []  # heap of (monotonic due time, sequence, task id, next status)
        self._sequence = 0
        self._creates = 0
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
            return self._creates

    def create(self, **fields):
        """Store a new queued task built from Task's fields (all but id and status)."""
        with self._wake:
            task = Task(id=self._new_id(), **fields)
            self._tasks[task.id] = task
            self._creates += 1
            now = time.monotonic()
            self._at(now + task.delay * QUEUED_SHARE, task.id, Status.RUNNING)
            self._at(now + task.delay, task.id, Status.SUCCEEDED)
            snapshot = copy.copy(task)
        self._renders.submit(self._render, task.id)
        return snapshot

    def get(self, task_id):
        with self._lock:
            task = self._tasks.get(task_id)
            return copy.copy(task) if task else None

    def tasks(self):
        """All tasks, newest first."""
        with self._lock:
            return [copy.copy(task) for task in reversed(self._tasks.values())]

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
            return {"creates": self._creates, "tasks": counts}

    def reset(self):
        """Forget every task and its files; renders in flight stop at their next frame."""
        with self._lock:
            for task in self._tasks.values():
                self._remove_files(task)
            self._tasks.clear()
            self._timers.clear()
            self._creates = 0

    def _new_id(self):
        alphabet = string.ascii_lowercase + string.digits
        while True:
            suffix = "".join(secrets.choice(alphabet) for _ in range(5))
            task_id = f"cgt-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{suffix}"
            if task_id not in self._tasks:
                return task_id

    def _at(self, when, task_id, status):
        self._sequence += 1
        heapq.heappush(self._timers, (when, self._sequence, task_id, status))
        self._wake.notify()

    def _set(self, task, status, error=None):
        task.status = status
        task.error = error
        task.updated_at = time.time()
        if status.finished:
            task.first_frame = None
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
        if task.status is not Status.RUNNING:
            return False
        if task.render_error:
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
                generate_audio=job.generate_audio,
                seed=job.seed,
                progress=lambda fraction: self._check_alive(task_id),
            )
            last.save(frame)
        except _Abandoned:
            _unlink(video, frame)
            return
        except Exception:
            logger.exception("rendering %s failed", task_id)
            error = TaskError("InternalServiceError", "The video could not be generated.")

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
