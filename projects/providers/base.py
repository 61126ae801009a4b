"""The neutral side of the provider seam: what the pipeline asks for and what it gets back.

Nothing here knows a wire format; each API style module translates these to and from
its own requests and answers.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass, field

# The seeds the API takes: -1 asks it to draw one; any other is a 32-bit unsigned number.
SEEDS = range(-1, 2**32)
SEED_PROBLEM = "A seed is a whole number from -1 (drawn at random) to 4294967295."


class ProviderError(Exception):
    """Any failure talking to a provider. `permanent` says whether retrying can help."""

    def __init__(
        self,
        message,
        *,
        permanent=False,
        code="",
        status=None,
        request_id="",
        retry_after=None,
        moderation=False,
        maybe_done=False,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.moderation = moderation
        # The request was sent but no answer came: it may have taken effect.
        self.maybe_done = maybe_done

    def __str__(self):
        text = self.message
        if self.code and self.code not in text:
            text = f"{self.code}: {text}"
        if self.moderation:
            text = f"Refused by the provider's content moderation: {text}"
        if self.request_id and self.request_id not in text:
            text = f"{text} (request id {self.request_id})"
        return text


@dataclass(frozen=True)
class Image:
    """An image for the provider: bytes of a PNG/JPEG, or a URL it can fetch."""

    data: bytes = b""
    mime: str = "image/png"
    url: str = ""

    def as_data_uri(self):
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    prompt: str
    duration: int
    resolution: str = "720p"
    ratio: str = "16:9"
    generate_audio: bool = False
    watermark: bool = False
    seed: int | None = None
    first_frame: Image | None = None
    last_frame: Image | None = None
    references: list[Image] = field(default_factory=list)
    reference_videos: list[str] = field(default_factory=list)  # URLs
    reference_audios: list[str] = field(default_factory=list)  # URLs
    # The reference videos' sizes in bytes, in order, where known: some gateways cap them.
    reference_video_bytes: list[int] = field(default_factory=list)
    return_last_frame: bool = True
    callback_url: str = ""
    # A digest of everything sent for one take; styles that echo a field back carry it
    # there, so a task whose create answer was lost can be told apart from any other.
    fingerprint: str = ""


@dataclass(frozen=True)
class LostCreate:
    """A create whose answer was lost: what it sent, to find its task among the provider's."""

    request: GenerationRequest  # as sent, with its fingerprint
    since: float  # Unix seconds: the task cannot be older
    known: frozenset[str] = frozenset()  # task ids other takes follow: never this one


class TaskState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # A status word no gateway was known to use: the task is read on, never given up.
    UNKNOWN = "unknown"

    @property
    def finished(self):
        return self not in (TaskState.QUEUED, TaskState.RUNNING, TaskState.UNKNOWN)


@dataclass
class RemoteTask:
    """A provider's task, as the pipeline sees it."""

    id: str
    state: TaskState
    status: str = ""  # the provider's own word for it, shown when the state is UNKNOWN
    progress: float | None = None  # 0..1 when the provider reports it
    video_url: str = ""
    last_frame_url: str = ""
    tokens: int | None = None
    error: ProviderError | None = None
    duration: float | None = None
    seed: int | None = None
    created_at: float | None = None  # Unix seconds, by the provider's clock
    finished_at: float | None = None  # when it ended, by the same clock, where it says
    # Echoes of what was asked, where the style's task object shows them.
    resolution: str | None = None
    ratio: str | None = None
    generate_audio: bool | None = None
    model: str | None = None
    expires_after: int | None = None
