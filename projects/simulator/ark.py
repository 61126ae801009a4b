"""The native Seedance 2.0 wire style ("Ark v3"): its routes, validation, task object and errors."""

from __future__ import annotations

import math
import re
import secrets

from .engine import CannotCancel, InputError, Status, load_image
from .render import FPS

NAME = "ark"
PREFIX = "/api/v3"
TASKS = "/contents/generations/tasks"
TASK = re.compile(re.escape(TASKS) + r"/([^/]+)")

# model -> whether it is a fast model (no 1080p).
MODELS = {
    "doubao-seedance-2-0-260128": False,
    "doubao-seedance-2-0-fast-260128": True,
    "dreamina-seedance-2-0-260128": False,
    "dreamina-seedance-2-0-fast-260128": True,
}
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
# width x height for each resolution and ratio, in the order of RATIOS.
_SIZES = {
    "480p": [(864, 496), (752, 560), (640, 640), (560, 752), (496, 864), (992, 432)],
    "720p": [(1280, 720), (1112, 834), (960, 960), (834, 1112), (720, 1280), (1470, 630)],
    "1080p": [(1920, 1080), (1664, 1248), (1440, 1440), (1248, 1664), (1080, 1920), (2206, 946)],
}
PIXELS = {tier: dict(zip(RATIOS, sizes, strict=True)) for tier, sizes in _SIZES.items()}
DEFAULT_DURATION = 5  # what the model "chooses" for duration -1
IMAGE_ROLES = ("first_frame", "last_frame", "reference_image")
# Seedance 1.x parameters that 2.0 refuses.
RETIRED = ("frames", "camera_fixed", "draft", "service_tier")
STATUSES = [status.value for status in Status]
ERROR_TYPES = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 500: "InternalServerError"}


class ArkError(Exception):
    def __init__(self, status, code, message, param=""):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def invalid(param, reason):
    return ArkError(
        400,
        "InvalidParameter",
        f"The parameter `{param}` specified in the request is not valid: {reason}.",
        param,
    )


def error_body(error, request_id):
    return {
        "error": {
            "code": error.code,
            "message": f"{error.message} Request id: {request_id}",
            "param": error.param,
            "type": ERROR_TYPES.get(error.status, "BadRequest"),
        }
    }


def handle(call):
    """Answer one request below PREFIX with (status, JSON body)."""
    try:
        _authenticate(call)
        if call.path == TASKS:
            if call.method == "POST":
                return 200, _create(call)
            if call.method == "GET":
                return 200, _list(call)
        elif match := TASK.fullmatch(call.path):
            if call.method == "GET":
                return 200, task_body(_task(call, match[1]), call.link)
            if call.method == "DELETE":
                return 200, _delete(call, match[1])
        raise ArkError(
            404,
            "NotFound",
            f"The requested resource {call.method} {PREFIX}{call.path} is not found.",
        )
    except ArkError as error:
        return error.status, error_body(error, call.request_id)


def task_body(task, link):
    """The task object, as get, list and callbacks show it; `link(name, expires)` signs URLs."""
    body = {"id": task.id, "model": task.model, "status": task.status.value, "error": None}
    if task.error:
        body["error"] = {"code": task.error.code, "message": task.error.message}
    if task.status is Status.SUCCEEDED:
        body["content"] = {"video_url": link(task.video_name, task.files_expire_at)}
        if task.return_last_frame:
            body["content"]["last_frame_url"] = link(task.frame_name, task.files_expire_at)
        body["usage"] = {"completion_tokens": task.tokens, "total_tokens": task.tokens}
    body.update(
        created_at=int(task.created_at),
        updated_at=int(task.updated_at),
        seed=task.seed,
        resolution=task.resolution,
        ratio=task.ratio,
        duration=task.duration,
        framespersecond=FPS,
        generate_audio=task.generate_audio,
        execution_expires_after=task.expires_after,
    )
    return body


def _authenticate(call):
    scheme, _, key = call.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or (call.api_key and key != call.api_key):
        raise ArkError(
            401,
            "AuthenticationError",
            "The API key or AK/SK in the request is missing or invalid.",
        )


def _task(call, task_id):
    task = call.engine.get(task_id)
    if not task:
        raise ArkError(404, "ResourceNotFound", f"The specified task {task_id} is not found.")
    return task


def _delete(call, task_id):
    try:
        call.engine.cancel(task_id)
    except KeyError:
        raise ArkError(
            404, "ResourceNotFound", f"The specified task {task_id} is not found."
        ) from None
    except CannotCancel:
        raise ArkError(
            400,
            "InvalidAction.TaskRunning",
            f"The task {task_id} is running and cannot be cancelled.",
            "id",
        ) from None
    return {}


def _list(call):
    page_num = _query_int(call, "page_num", 1)
    page_size = _query_int(call, "page_size", 10)
    statuses = call.query.get("filter.status", [])
    for status in statuses:
        if status not in STATUSES:
            raise invalid("filter.status", f"unknown status {status!r}")
    ids = set(call.query.get("filter.task_ids", []))
    models = set(call.query.get("filter.model", []))
    found = [
        task
        for task in call.engine.tasks()
        if (not statuses or task.status in statuses)
        and (not ids or task.id in ids)
        and (not models or task.model in models)
    ]
    page = found[(page_num - 1) * page_size : page_num * page_size]
    return {"total": len(found), "items": [task_body(task, call.link) for task in page]}


def _query_int(call, name, default):
    values = call.query.get(name)
    if not values or values[-1] == "":
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise invalid(name, "it must be an integer") from None
    if not 1 <= value <= 500:
        raise invalid(name, "it must be between 1 and 500")
    return value


def _create(call):
    body = call.json
    if not isinstance(body, dict):
        raise ArkError(400, "InvalidParameter", "The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str):
        raise invalid("model", "it must be a string")
    if model not in MODELS:
        raise ArkError(
            404,
            "InvalidEndpointOrModel.NotFound",
            f"The model or endpoint {model} does not exist or you do not have access to it.",
            "model",
        )
    prompt, images = _content(body)

    resolution = _choice(body, "resolution", tuple(PIXELS), "720p")
    if resolution == "1080p" and MODELS[model]:
        raise invalid("resolution", f"{model} does not support 1080p")
    ratio = _choice(body, "ratio", (*RATIOS, "adaptive"), "adaptive")
    duration = _integer(body, "duration", DEFAULT_DURATION)
    if duration == -1:
        duration = DEFAULT_DURATION
    elif not 4 <= duration <= 15:
        raise invalid("duration", "it must be between 4 and 15, or -1")
    seed = _integer(body, "seed", -1)
    if not -1 <= seed <= 2**32 - 1:
        raise invalid("seed", "it must be between -1 and 4294967295")
    if seed == -1:
        seed = secrets.randbelow(2**32)
    expires_after = _integer(body, "execution_expires_after", 172800)
    if not 3600 <= expires_after <= 259200:
        raise invalid("execution_expires_after", "it must be between 3600 and 259200")
    callback_url = body.get("callback_url")
    if callback_url is not None and not (
        isinstance(callback_url, str) and callback_url.startswith(("http://", "https://"))
    ):
        raise invalid("callback_url", "it must be an http(s) URL")
    for name in RETIRED:
        if body.get(name) is not None:
            raise invalid(name, "Seedance 2.0 does not support it")
    flags = {
        "generate_audio": _flag(body, "generate_audio", True),
        "watermark": _flag(body, "watermark", False),
        "return_last_frame": _flag(body, "return_last_frame", False),
    }
    try:
        delay = call.delay()
    except ValueError as exc:
        raise invalid("X-Simulator-Delay", str(exc)) from None

    # Downloads come last, once everything cheap to check has passed. Every image is
    # fetched and checked as the service would, but only a first frame shapes the clip.
    first_frame = None
    for param, (role, url) in images.items():
        try:
            image = load_image(url)
        except InputError as exc:
            raise invalid(param, str(exc)) from None
        if role == "first_frame":
            first_frame = image
    if ratio == "adaptive":
        ratio = _nearest_ratio(first_frame.size) if first_frame else "16:9"
    width, height = PIXELS[resolution][ratio]

    task = call.engine.create(
        style=NAME,
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        resolution=resolution,
        ratio=ratio,
        duration=duration,
        seed=seed,
        callback_url=callback_url,
        expires_after=expires_after,
        delay=delay,
        first_frame=first_frame,
        **flags,
    )
    return {"id": task.id}


def _content(body):
    """Check the content items; return the prompt and {param: (role, url)} of the images."""
    content = body.get("content")
    if content is None:
        raise _missing("content")
    if not isinstance(content, list) or not content:
        raise invalid("content", "it must be a non-empty list")
    prompts, images, roles = [], {}, []
    videos = audios = 0
    for index, item in enumerate(content):
        where = f"content[{index}]"
        if not isinstance(item, dict):
            raise invalid(where, "each item must be an object")
        kind = item.get("type")
        if kind == "text":
            text = item.get("text")
            if not isinstance(text, str) or not text.strip():
                raise invalid(f"{where}.text", "it must be a non-empty string")
            prompts.append(text)
            continue
        if kind not in ("image_url", "video_url", "audio_url"):
            raise invalid(f"{where}.type", f"unknown type {kind!r}")
        url = _url(item, kind, where)
        role = item.get("role")
        if kind == "image_url":
            if role is not None and role not in IMAGE_ROLES:
                raise invalid(f"{where}.role", f"unknown image role {role!r}")
            images[f"{where}.image_url.url"] = (role, url)
            roles.append(role)
        elif kind == "video_url":
            if role not in (None, "reference_video"):
                raise invalid(f"{where}.role", "a video's role must be reference_video")
            videos += 1
        else:
            if role not in (None, "reference_audio"):
                raise invalid(f"{where}.role", "an audio's role must be reference_audio")
            audios += 1
    if len(prompts) > 1:
        raise invalid("content", "at most one text item is allowed")

    # A lone image without a role is a first frame; with others, roles must be spelled out.
    if roles == [None]:
        roles = ["first_frame"]
        images = {param: ("first_frame", url) for param, (_, url) in images.items()}
    elif None in roles:
        raise invalid("content", "with several images, each needs a role")
    firsts, lasts = roles.count("first_frame"), roles.count("last_frame")
    references = roles.count("reference_image")
    if firsts > 1 or lasts > 1:
        raise invalid("content", "at most one first_frame and one last_frame are allowed")
    if lasts and not firsts:
        raise invalid("content", "a last_frame needs a first_frame")
    if (firsts or lasts) and (references or videos or audios):
        raise invalid(
            "content", "first/last frames cannot be mixed with reference images, videos or audio"
        )
    if references > 9:
        raise invalid("content", "at most 9 reference images are allowed")
    if videos > 3 or audios > 3:
        raise invalid("content", "at most 3 reference videos and 3 reference audios are allowed")
    if audios and not (references or videos):
        raise invalid("content", "reference audio needs a reference image or video beside it")
    return (prompts[0] if prompts else ""), images


def _url(item, kind, where):
    holder = item.get(kind)
    url = holder.get("url") if isinstance(holder, dict) else None
    if not isinstance(url, str) or not url:
        raise invalid(f"{where}.{kind}.url", "it must be a non-empty string")
    return url


def _missing(param):
    return ArkError(
        400,
        "MissingParameter",
        f"The request failed because it is missing one or multiple required parameters: {param}.",
        param,
    )


def _choice(body, name, allowed, default):
    value = body.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise invalid(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _integer(body, name, default):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "it must be an integer")
    return value


def _flag(body, name, default):
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(name, "it must be true or false")
    return value


def _nearest_ratio(size):
    width, height = size

    def distance(ratio):
        w, h = map(int, ratio.split(":"))
        return abs(math.log(width / height) - math.log(w / h))

    return min(RATIOS, key=distance)
