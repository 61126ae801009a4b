"""What every API style shares: the HTTP call, error bodies, frames on the wire, capabilities."""

import re
import tempfile
from datetime import datetime

import httpx

from .base import GenerationRequest, ProviderError, RemoteTask, TaskState

RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
MAX_REFERENCE_IMAGES = 9
PERMANENT_STATUSES = {400, 401, 403, 404, 405, 413, 422}
# The model ids of Seedance 2.0, standard and fast, as most gateways name them.
SEEDANCE_2 = ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128")
# The OpenAI-style status words several gateways answer with.
GATEWAY_STATUSES = {
    "queued": TaskState.QUEUED,
    "in_progress": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
}
MODERATION = re.compile(r"Sensitive|content_policy|moderation", re.IGNORECASE)


class Style:
    """One endpoint family's wire format. Subclasses say what differs."""

    name = ""
    # Ids the style's document lists; a preset or SEEDANCE_MODEL picks one.
    models: tuple[str, ...] = ()
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
    takes_audio = True
    max_reference_audios = 3
    # Whether reference audio may drive a shot that starts on a first frame.
    audio_beside_first_frame = False
    # Bytes an image may have on the wire (the native limit is 30 MB).
    max_image_bytes = 30 * 1024 * 1024
    statuses: dict[str, TaskState] = {}

    def __init__(self, base_url, api_key, http, headers=None):
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {api_key}", **(headers or {})}

    def create(self, request: GenerationRequest) -> str:
        raise NotImplementedError

    def get(self, task_id) -> RemoteTask:
        raise NotImplementedError

    def cancel(self, task_id):
        raise ProviderError(f"The {self.name} API cannot cancel a task.", permanent=True)

    can_list = False

    def find_lost(self, lost):
        """The tasks a create whose answer was lost could have made (a LostCreate tells
        what it sent); only styles that can list know."""
        raise NotImplementedError

    def download(self, url, suffix="", on_chunk=None):
        """Fetch a result file into a rewound temporary file; `on_chunk()` after each chunk.

        Signed result URLs refuse an Authorization header, so none is sent, except to
        the API's own endpoints.
        """
        headers = self.headers if url.startswith(self.base_url) else {}
        out = tempfile.NamedTemporaryFile(suffix=suffix)
        where = url.split("?")[0]
        try:
            with self.http.stream("GET", url, headers=headers, follow_redirects=True) as r:
                if r.status_code >= 400:
                    raise ProviderError(
                        f"Downloading {where} failed: HTTP {r.status_code}",
                        status=r.status_code,
                        permanent=r.status_code in PERMANENT_STATUSES,
                    )
                for chunk in r.iter_bytes(1 << 16):
                    out.write(chunk)
                    if on_chunk is not None:
                        on_chunk()
        except httpx.HTTPError as exc:
            out.close()
            raise ProviderError(f"Downloading {where} failed: {exc}") from exc
        except BaseException:  # a refusal, or the caller's on_chunk giving up
            out.close()
            raise
        out.seek(0)
        return out

    # What the style can be asked, checked before anything is sent.

    # Drafts: the cheapest clips this style makes that still show the cut.

    @classmethod
    def fast_model(cls, model):
        """The fast sibling of `model` among this style's ids (same family: doubao or
        dreamina), else `model` itself: a style with one model drafts on that one."""
        if "fast" in model:
            return model
        family = model.split("-seedance")[0]
        fast = [m for m in cls.models if "fast" in m]
        return next((m for m in fast if m.split("-seedance")[0] == family), model)

    @classmethod
    def draft_settings(cls, final):
        """The project-wide settings of a draft, from the final ones: the fast model, the
        lowest resolution offered at the same ratio, no audio. The ratio is kept (the cut
        keeps its shape), and so is the watermark, which costs nothing."""
        ratio = final["ratio"]
        if cls.sizes is not None:
            offered = [res for res, rat in cls.sizes if rat == ratio]
        else:
            offered = list(cls.resolutions)
        lowest = min(offered, key=RESOLUTIONS.index, default=final["resolution"])
        return {
            **final,
            "model": cls.fast_model(final["model"]),
            "resolution": lowest,
            "generate_audio": False,
        }

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
        if cls.models and request.model not in cls.models:
            found.append(
                f"Model {request.model!r} is not offered by the {cls.name} API; "
                f"use {' or '.join(cls.models)}."
            )
        if "fast" in request.model and request.resolution == "1080p":
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
    def created_id(answer, key):
        task_id = answer.get(key) if isinstance(answer, dict) else None
        if not task_id:
            raise ProviderError(f"The provider answered a create without a {key!r}: {answer}")
        return str(task_id)

    def parse_gateway_task(self, data, id_key):
        """The task answer the OpenAI-like gateways share: status, percent, metadata.url."""
        metadata = data.get("metadata") or {}
        error = data.get("error")
        progress = data.get("progress")
        return RemoteTask(
            id=str(data.get(id_key) or ""),
            state=self.state(data.get("status")),
            progress=progress / 100 if isinstance(progress, int | float) else None,
            video_url=metadata.get("url") or "",
            error=error_from_body(error) if error else None,
            created_at=unix_seconds(data.get("created_at")),
            finished_at=unix_seconds(data.get("completed_at")),
        )

    def state(self, status):
        if status not in self.statuses:
            # An unknown status is a contract break, never "still running".
            raise ProviderError(f"The provider reported an unknown task status {status!r}")
        return self.statuses[status]

    def call(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.base_url + path
        try:
            response = self.http.request(method, url, headers=self.headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(f"Could not reach the provider: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"The provider did not answer in time ({exc or type(exc).__name__})",
                maybe_done=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"The provider's answer was lost ({exc or type(exc).__name__})", maybe_done=True
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(response)
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
        if response.headers.get("retry-after", "").isdigit():
            retry_after = int(response.headers["retry-after"])
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
