"""What every API style shares: the HTTP call, error bodies, frames on the wire, capabilities."""

import math
import re
import tempfile
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property

import httpx

from ..addresses import is_internal
from .base import SEED_PROBLEM, SEEDS, GenerationRequest, ProviderError, RemoteTask, TaskState

RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
MAX_REFERENCE_IMAGES = 9
PERMANENT_STATUSES = {400, 401, 403, 404, 405, 413, 422}
# The model ids of Seedance 2.0, standard and fast, as most gateways name them.
SEEDANCE_2 = ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128")
# Each model's fast sibling, by id, where ByteDance names one (Volcengine's doubao,
# BytePlus's dreamina). An endpoint id (ep-…) says nothing of the model behind it: a
# project names its fast model itself (Project.draft_model).
FAST_MODELS = {
    "doubao-seedance-2-0-260128": "doubao-seedance-2-0-fast-260128",
    "dreamina-seedance-2-0-260128": "dreamina-seedance-2-0-fast-260128",
}
# What a model or endpoint id may look like where any is taken.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}")
# Every status word the gateways' documents and the official SDKs use, Ark's and the
# OpenAI-style ones, whichever style answers with it: gateways mix them.
STATUSES = {
    "queued": TaskState.QUEUED,
    "processing": TaskState.RUNNING,
    "in_progress": TaskState.RUNNING,
    "running": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "succeeded": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "error": TaskState.FAILED,
    "cancelled": TaskState.CANCELLED,
    "canceled": TaskState.CANCELLED,
    "expired": TaskState.EXPIRED,
}
MODERATION = re.compile(r"Sensitive|content_policy|moderation", re.IGNORECASE)
# Redirects a result download follows, each hop checked like the first.
MAX_REDIRECTS = 5


class Style:
    """One endpoint family's wire format. Subclasses say what differs."""

    name = ""
    # Ids the style's document lists; a preset or SEEDANCE_MODEL picks one.
    models: tuple[str, ...] = ()
    # Whether any model id is taken besides those (the native API's endpoint ids, ep-…).
    any_model = False
    default_model = ""
    accepts_data_uri = True
    returns_last_frame = False
    takes_callback = False  # the provider POSTs the task to a callback URL on changes
    # Seconds a task may live at the provider before it expires, where the document says:
    # no callback about it can come later (projects.access.callback_token).
    task_lifetime: int | None = None
    can_cancel = False
    durations = range(4, 16)
    resolutions = RESOLUTIONS
    ratios = RATIOS
    # {(resolution, ratio): "WxH"} for styles that take a pixel size instead.
    sizes: dict[tuple[str, str], str] | None = None
    takes_last_frame = True
    max_reference_images = MAX_REFERENCE_IMAGES
    max_reference_videos = 3
    # Bytes a reference video may have (None: the provider's own limits, which it checks).
    max_reference_video_bytes: int | None = None
    takes_audio = True
    max_reference_audios = 3
    # Whether reference audio may drive a shot that starts on a first frame.
    audio_beside_first_frame = False
    # Bytes an image may have on the wire (the native limit is 30 MB).
    max_image_bytes = 30 * 1024 * 1024
    # The version segment the style's paths start with. A base URL given with it
    # (https://host/v1) or without it (https://host) means the same gateway.
    version = ""
    # Where tasks are read, each at {tasks_path}/{id}.
    tasks_path = ""

    def __init__(
        self,
        base_url,
        api_key,
        http,
        headers=None,
        *,
        max_download_bytes=2 * 1024**3,
        download_seconds=900.0,
        trust_internal=True,
    ):
        # Whether results may come from inside this network when the API itself is
        # there: the deployment's own gateway (the simulator's), never a team's.
        self.trust_internal = trust_internal
        self.base_url = base_url.rstrip("/")
        if self.version and self.base_url.endswith(self.version):
            self.base_url = self.base_url[: -len(self.version)]
        self.http = http
        self.headers = {"Authorization": f"Bearer {api_key}", **(headers or {})}
        self.max_download_bytes = max_download_bytes
        self.download_seconds = download_seconds

    def create(self, request: GenerationRequest) -> str:
        raise NotImplementedError

    def get(self, task_id) -> RemoteTask:
        return self.parse_task(self.call("GET", f"{self.tasks_path}/{task_id}"))

    # A task id no gateway makes: reading it asks only whether the key and address work.
    NO_SUCH_TASK = "storyboard-connection-check-0"

    def check(self):
        """One cheap authenticated read, to say whether the key and the address work: the
        task NO_SUCH_TASK, which a gateway that took the key answers with 404 (or 400, an
        id it does not parse) in its own JSON error shape: any server answers 404, and a
        bare one says nothing about the key. None when they work; else the ProviderError (its status
        401 or 403 for a refused key, none for an address that does not answer)."""
        try:
            self.get(self.NO_SUCH_TASK)
        except ProviderError as error:
            if error.status not in (400, 404, 422):
                return error
            if error.code:  # the gateways' JSON error, {"error": {"code"/"type": …}}
                return None
            return ProviderError(
                f"The address answered {error.status}, but not as the {self.name} API does "
                f"(no JSON error with a code): is the base URL a gateway's? ({error.message})",
                permanent=True,
                status=error.status,
            )
        return None

    def cancel(self, task_id):
        raise ProviderError(f"The {self.name} API cannot cancel a task.", permanent=True)

    can_list = False

    def find_lost(self, lost):
        """The tasks a create whose answer was lost could have made (a LostCreate tells
        what it sent); only styles that can list know."""
        raise NotImplementedError

    def download(self, url, suffix="", on_chunk=None):
        """Fetch a result file into a rewound temporary file; `on_chunk()` after each chunk.

        Bounded: http(s) only, at most max_download_bytes, within download_seconds in all,
        and never from an address inside this network unless the API's own base URL is
        one (the simulator's is). The API key goes only to the API's own endpoints (its
        exact origin, under its base path): signed result URLs refuse it, and another
        host must never see it. Redirects are followed by hand, each hop checked alike.
        """
        deadline = time.monotonic() + self.download_seconds
        out = tempfile.NamedTemporaryFile(suffix=suffix)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                where = self._fetchable(url)
                timeout = self.http.timeout.as_dict()
                timeout.update(read=_remaining(deadline, where, timeout["read"]))
                with self.http.stream(
                    "GET", url, headers=self._headers_for(url), timeout=httpx.Timeout(**timeout)
                ) as r:
                    if r.is_redirect:
                        url = str(r.url.join(r.headers["location"]))
                        continue
                    if r.status_code >= 400:
                        raise ProviderError(
                            f"Downloading {where} failed: HTTP {r.status_code}",
                            status=r.status_code,
                            permanent=r.status_code in PERMANENT_STATUSES,
                        )
                    self._receive(r, out, where, deadline, on_chunk)
                    out.seek(0)
                    return out
            raise ProviderError(f"Downloading {where} took over {MAX_REDIRECTS} redirects.")
        except httpx.HTTPError as exc:
            out.close()
            raise ProviderError(f"Downloading {where} failed: {exc}") from exc
        except BaseException:  # a refusal, or the caller's on_chunk giving up
            out.close()
            raise

    def _receive(self, response, out, where, deadline, on_chunk):
        limit = self.max_download_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(where, int(declared), limit)
        received = 0
        for chunk in response.iter_bytes(1 << 16):
            received += len(chunk)
            if received > limit:
                raise _too_large(where, received, limit)
            out.write(chunk)
            _remaining(deadline, where)
            if on_chunk is not None:
                on_chunk()

    def _fetchable(self, url):
        """Refuse a URL a result may not come from; its address without the query, to show."""
        try:
            parts = httpx.URL(url)
        except httpx.InvalidURL:
            message = f"Refused to download {url[:200]!r}: not a URL."
            raise ProviderError(message, permanent=True) from None
        where = str(parts.copy_with(query=None))
        if parts.scheme not in ("http", "https") or not parts.host:
            raise ProviderError(f"Refused to download {where}: not an http(s) URL.", permanent=True)
        if is_internal(parts.host) and not self._internal_api:
            raise ProviderError(
                f"Refused to download {where}: it is an address inside this network, and "
                "the provider is not.",
                permanent=True,
            )
        return where

    @cached_property
    def _internal_api(self):
        return self.trust_internal and is_internal(httpx.URL(self.base_url).host)

    def _headers_for(self, url):
        """The API's headers for its own endpoints (the openai-videos content route wants
        the key); none for anything else."""
        url, base = httpx.URL(url), httpx.URL(self.base_url + "/")
        own = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        return self.headers if own and url.path.startswith(base.path) else {}

    # What the style can be asked, checked before anything is sent.

    # Drafts: the cheapest clips this style makes that still show the cut.

    @classmethod
    def fast_model(cls, model):
        """The fast sibling of `model` among this style's ids, else `model` itself: a
        style with one model drafts on that one, and so does a model nobody knows the
        sibling of (an endpoint id), unless the project names its fast model."""
        sibling = FAST_MODELS.get(model)
        return sibling if sibling in cls.models else model

    @classmethod
    def draft_settings(cls, final, fast=""):
        """The project-wide settings of a draft, from the final ones: the fast model (the
        project's choice, `fast`, else fast_model), the lowest resolution offered at the
        same ratio, no audio. The ratio is kept (the cut keeps its shape), and so is the
        watermark, which costs nothing."""
        ratio = final["ratio"]
        if cls.sizes is not None:
            offered = [res for res, rat in cls.sizes if rat == ratio]
        else:
            offered = list(cls.resolutions)
        lowest = min(offered, key=RESOLUTIONS.index, default=final["resolution"])
        return {
            **final,
            "model": fast or cls.fast_model(final["model"]),
            "resolution": lowest,
            "generate_audio": False,
        }

    @classmethod
    def ratio_help(cls):
        """The sizes behind each ratio, for a style that names pixel sizes; else ""."""
        if cls.sizes is None:
            return ""
        offered = ", ".join(
            f"{size.replace('x', '×')} ({ratio}, {resolution})"
            for (resolution, ratio), size in cls.sizes.items()
        )
        return f"The {cls.name} API makes {offered}."

    @classmethod
    def problems(cls, request: GenerationRequest):
        """Every reason this request would be refused, in words a user can act on."""
        found = cls.settings_problems(request)
        if request.duration not in cls.durations:
            found.append(f"The {cls.name} API makes clips of {_spoken(cls.durations)} seconds.")
        return found + cls._content_problems(request)

    @classmethod
    def settings_problems(cls, request: GenerationRequest):
        """What is wrong with the project-wide part of a request: model, resolution, ratio."""
        found = []
        if cls.any_model:
            if not MODEL_ID.fullmatch(request.model):
                found.append(
                    f"{request.model!r} is not a model or endpoint id, such as "
                    f"{cls.models[0]} or ep-20260101000000-abcde."
                )
        elif cls.models and request.model not in cls.models:
            found.append(
                f"Model {request.model!r} is not offered by the {cls.name} API; "
                f"use {' or '.join(cls.models)}."
            )
        if request.model in FAST_MODELS.values() and request.resolution == "1080p":
            found.append("The fast model goes up to 720p; pick 480p or 720p.")
        if cls.sizes is not None:
            if (request.resolution, request.ratio) not in cls.sizes:
                offered = ", ".join(f"{r} {q}" for r, q in cls.sizes)
                found.append(f"The {cls.name} API makes only {offered}.")
        else:
            if request.resolution not in cls.resolutions:
                found.append(f"Resolution must be one of {', '.join(cls.resolutions)}.")
            if request.ratio not in cls.ratios:
                found.append(f"Ratio must be one of {', '.join(cls.ratios)}.")
        return found

    @classmethod
    def _content_problems(cls, request):
        found = []
        frames = [image for image in (request.first_frame, request.last_frame) if image]
        if request.last_frame and not request.first_frame:
            found.append("A last frame needs a first frame.")
        if request.last_frame and not cls.takes_last_frame:
            found.append(f"The {cls.name} API takes no last frame.")
        audio_mixes = request.reference_audios and not cls.audio_beside_first_frame
        if frames and (request.references or request.reference_videos or audio_mixes):
            found.append("First/last frames and references cannot be mixed in one shot.")
        if len(request.references) > cls.max_reference_images:
            if cls.max_reference_images:
                found.append(f"At most {cls.max_reference_images} reference images.")
            else:
                found.append(f"The {cls.name} API takes no reference images.")
        if len(request.reference_videos) > cls.max_reference_videos:
            found.append(f"At most {cls.max_reference_videos} reference videos.")
        limit = cls.max_reference_video_bytes
        for number, size in enumerate(request.reference_video_bytes, start=1):
            if limit is not None and size > limit:
                found.append(
                    f"Reference video {number} is {size / 2**20:.1f} MB; the {cls.name} API "
                    f"takes files under {(limit + 1) / 2**20:.0f} MB."
                )
        if request.seed is not None and request.seed not in SEEDS:
            found.append(SEED_PROBLEM)
        if request.reference_audios:
            if not cls.takes_audio:
                found.append(f"The {cls.name} API takes no reference audio.")
            elif not (request.references or request.reference_videos or frames):
                found.append("Reference audio needs an image or a video beside it.")
            elif len(request.reference_audios) > cls.max_reference_audios:
                found.append(f"At most {cls.max_reference_audios} reference audio files.")
        if not all([*request.reference_videos, *request.reference_audios]):
            found.append(
                "Reference videos and audio reach the provider by URL: set PUBLIC_BASE_URL "
                "to the address where it can reach this app."
            )
        if not cls.accepts_data_uri:
            images = [*frames, *request.references]
            if any(not image.url for image in images):
                found.append(
                    f"The {cls.name} API fetches images by URL: set PUBLIC_BASE_URL to the "
                    "address where it can reach this app."
                )
        return found

    # The wire.

    def image_url(self, image):
        """How an image travels: a data URI where the style takes one, else a URL."""
        if self.accepts_data_uri and image.data:
            return image.as_data_uri()
        if image.url:
            return image.url
        raise ProviderError(
            f"The {self.name} API needs a URL for each image: set PUBLIC_BASE_URL.",
            permanent=True,
        )

    def content_items(self, request):
        """Frames and references as the native `content` items with roles."""
        items = []
        for role, image in (
            ("first_frame", request.first_frame),
            ("last_frame", request.last_frame),
        ):
            if image is not None:
                items.append(_item("image_url", self.image_url(image), role))
        items += [
            _item("image_url", self.image_url(i), "reference_image") for i in request.references
        ]
        items += [_item("video_url", url, "reference_video") for url in request.reference_videos]
        items += [_item("audio_url", url, "reference_audio") for url in request.reference_audios]
        return items

    @staticmethod
    def created_id(answer):
        """The id a create answered with: `id` (Ark, OpenAI) or `task_id` (other gateways)."""
        task_id = None
        if isinstance(answer, dict):
            task_id = answer.get("id") or answer.get("task_id")
        if not task_id:
            raise ProviderError(f"The provider answered a create without a task id: {answer}")
        return str(task_id)

    def parse_task(self, data) -> RemoteTask:
        """A task answer, in whichever shape it comes: Ark's (`id`, `content.video_url`,
        `usage`, Unix seconds) or the OpenAI-style gateways' (`task_id`, `metadata.url` or
        wisgate's `meta_data.url`, a percent, milliseconds or ISO times)."""
        if not isinstance(data, dict):
            raise ProviderError(f"The provider answered a read without a task: {data!r}")
        content = _mapping(data.get("content"))
        metadata = _mapping(data.get("metadata")) or _mapping(data.get("meta_data"))
        usage = _mapping(data.get("usage"))
        word = str(data.get("status") or "")
        state = STATUSES.get(word.strip().lower(), TaskState.UNKNOWN)
        progress = data.get("progress")
        error = data.get("error")
        finished_at = unix_seconds(data.get("completed_at"))
        if finished_at is None and state.finished:
            finished_at = unix_seconds(data.get("updated_at"))  # its last change ended it
        return RemoteTask(
            id=str(data.get("id") or data.get("task_id") or ""),
            state=state,
            status=word,
            progress=progress / 100 if _number(progress) else None,
            video_url=content.get("video_url") or metadata.get("url") or "",
            last_frame_url=content.get("last_frame_url") or "",
            tokens=usage.get("completion_tokens"),
            error=error_from_body(error) if error else None,
            duration=_whole(data.get("duration", data.get("seconds"))),
            seed=data.get("seed"),
            created_at=unix_seconds(data.get("created_at")),
            finished_at=finished_at,
            resolution=data.get("resolution"),
            ratio=data.get("ratio"),
            generate_audio=data.get("generate_audio"),
            model=data.get("model"),
            expires_after=data.get("execution_expires_after"),
        )

    def redacted(self, text):
        """`text` without the API key, wherever it quotes it (an HTTP client's error
        about its header; a gateway echoing the key it refused)."""
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        text = str(text)
        if len(key) >= 4:  # as it is, and as bytes are quoted ("\\n" for a line break)
            for form in (key, repr(key.encode())[2:-1]):
                text = text.replace(form, "[key]")
        return text

    def call(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.base_url + path
        try:
            response = self.http.request(method, url, headers=self.headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(self.redacted(f"Could not reach the provider: {exc}")) from None
        except httpx.TimeoutException as exc:
            raise ProviderError(
                self.redacted(f"The provider did not answer in time ({exc or type(exc).__name__})"),
                maybe_done=True,
            ) from None
        except httpx.LocalProtocolError:  # nothing was sent: a header it refused
            raise ProviderError(  # its text quotes the header: the key
                "The request could not be sent: the API key or a header holds a character "
                "HTTP does not allow (a space, a line break).",
                permanent=True,
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                self.redacted(f"The provider's answer was lost ({exc or type(exc).__name__})"),
                maybe_done=True,
            ) from None
        if response.status_code >= 400:
            error = error_from_response(response)
            error.message = self.redacted(error.message)
            raise error
        try:
            return response.json() if response.content else {}
        except ValueError as exc:
            raise ProviderError(f"The provider answered with invalid JSON: {exc}") from exc


def unix_seconds(value):
    """A time in an answer as Unix seconds: seconds, milliseconds (gateway 002) or an ISO
    8601 string (gateway 000); None when there is none or it cannot be read."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value / 1000 if value > 1e11 else float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def retry_after_seconds(headers):
    """Seconds an answer asks the client to wait, or None: `retry-after-ms` (OpenAI's),
    else Retry-After in seconds, whole or decimal, or as an HTTP date."""
    for name, unit in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            seconds = float(headers.get(name, "")) / unit
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP date is GMT all the same
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


def _remaining(deadline, where, at_most=None):
    """Seconds left before a download's deadline (at most `at_most`); past it, an error."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProviderError(f"Downloading {where} took longer than its deadline; given up.")
    return left if at_most is None else min(left, at_most)


def _too_large(where, size, limit):
    return ProviderError(
        f"Refused to download {where}: it is over {size / 1e6:.0f} MB, and results may "
        f"have at most {limit / 1e6:.0f} MB (SEEDANCE_MAX_DOWNLOAD_BYTES).",
        permanent=True,
    )


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value):
    """A count of seconds, given as a number or (OpenAI's `seconds`) a string; else None."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    return value if _number(value) else None


def _item(kind, url, role):
    return {"type": kind, kind: {"url": url}, "role": role}


def _spoken(values):
    values = list(values)
    if values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]} to {values[-1]}"
    return " or ".join(map(str, values))


def error_from_response(response):
    """An HTTP error answer as a ProviderError; Ark and OpenAI-style bodies alike."""
    try:
        body = response.json().get("error")
    except (ValueError, AttributeError):
        body = None
    if isinstance(body, str):
        body = {"message": body}
    if not isinstance(body, dict):
        body = {"message": response.text[:300] or response.reason_phrase}
    return error_from_body(body, response)


def error_from_body(body, response=None):
    """The `error` of an answer or of a failed task. A failed task's error is final."""
    if isinstance(body, str):
        body = {"message": body}
    code = str(body.get("code") or body.get("type") or "")
    message = body.get("message") or code or "unknown error"
    status = response.status_code if response is not None else None
    match = re.search(r"Request id:\s*(\S+)", message)
    request_id = match.group(1) if match else ""
    retry_after = None
    if response is not None:
        request_id = request_id or response.headers.get("x-request-id", "")
        retry_after = retry_after_seconds(response.headers)
    moderation = bool(MODERATION.search(code))
    return ProviderError(
        message,
        permanent=response is None or status in PERMANENT_STATUSES or moderation,
        code=code,
        status=status,
        request_id=request_id,
        retry_after=retry_after,
        moderation=moderation,
    )
