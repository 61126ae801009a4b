"""The native Seedance 2.0 wire style ("Ark v3"): its routes, validation, task object and errors."""

from __future__ import annotations

import re
import time
from types import MappingProxyType

from . import inputs
from .engine import CannotCancel, Status
from .inputs import RATIOS, InputError
from .wire import KIND_STATUS, ApiError, Route, Style, show_task, task_error, token

NAME = "ark"
# The native prefix, and the one gateway 004 (apiyi) serves the same shape under.
NATIVE, APIYI = "/api/v3", "/seedance/api/v3"
TASKS = "/contents/generations/tasks"
TASK = re.escape(TASKS) + r"/([^/]+)"
MODELS = (
    "doubao-seedance-2-0-260128",
    "doubao-seedance-2-0-fast-260128",
    "dreamina-seedance-2-0-260128",
    "dreamina-seedance-2-0-fast-260128",
)
# An endpoint id, as the console makes them (ep-20251209175451-tctqz): the service takes
# one wherever it takes a model id. Each stands here for the standard model.
ENDPOINT = re.compile(r"ep-[0-9]{14}-[a-z0-9]{5}")
DEFAULT_DURATION = 5  # what the model "chooses" for duration -1
# Seedance 1.x parameters that 2.0 refuses.
RETIRED = ("frames", "camera_fixed", "draft", "service_tier")
STATUSES = [status.value for status in Status]
ERROR_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
CODES = MappingProxyType(
    {
        "invalid": "InvalidParameter",
        "missing": "MissingParameter",
        "unauthorized": "AuthenticationError",
        "forbidden": "AccessDenied",
        "not_found": "ResourceNotFound",
        "no_route": "NotFound",
        "model_not_found": "InvalidEndpointOrModel.NotFound",
        "rate_limit": "RateLimitExceeded",
        "server_error": "InternalServiceError",
        "moderation": "OutputVideoSensitiveContentDetected",
    }
)


def refusal(error):
    """An InputError in the service's own words."""
    if error.kind == "missing":
        message = (
            "The request failed because it is missing one or multiple required parameters: "
            f"{error.param}."
        )
    elif error.kind == "invalid" and error.param:
        message = (
            f"The parameter `{error.param}` specified in the request is not valid: {error.reason}."
        )
    else:
        message = error.reason
    return ApiError(KIND_STATUS[error.kind], CODES[error.kind], message, error.param)


def error_body(error, request_id):
    return {
        "error": {
            "code": error.code,
            "message": f"{error.message} Request id: {request_id}",
            "param": error.param,
            "type": ERROR_TYPES.get(error.status, "BadRequest"),
        }
    }


def task_body(task, link):
    """The task object, as get, list and callbacks show it; `link(name, expires)` signs URLs."""
    # Its own status says a task expired; no error object is documented beside it.
    error = None if task.status is Status.EXPIRED else task_error(task, CODES)
    body = {"id": task.id, "model": task.model, "status": task.status.value, "error": error}
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
        framespersecond=task.fps,
        generate_audio=task.generate_audio,
        execution_expires_after=task.expires_after,
    )
    return body


def new_id():
    return f"cgt-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{token(5)}"


def _delete(call, task_id):
    call.task(task_id)
    try:
        call.engine.cancel(task_id)
    except KeyError:
        # Deleted by a parallel request since.
        raise call.style.error("not_found", f"The specified task {task_id} is not found.") from None
    except CannotCancel:
        raise ApiError(
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
            raise InputError(f"unknown status {status!r}", "filter.status")
    ids = set(call.query.get("filter.task_ids", []))
    models = set(call.query.get("filter.model", []))
    # A list that lags behind creates (a fault) does not show the newest tasks yet.
    newest = time.time() - call.lag
    found = [
        task
        for task in call.engine.tasks(style=NAME)
        if (not statuses or task.status in statuses)
        and (not ids or task.id in ids)
        and (not models or task.model in models)
        and (not call.lag or task.created_at <= newest)
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
        raise InputError("it must be an integer", name) from None
    if not 1 <= value <= 500:
        raise InputError("it must be between 1 and 500", name)
    return value


def _create(call):
    body = inputs.json_object(call.json)
    model = body.get("model")
    if not (isinstance(model, str) and ENDPOINT.fullmatch(model)):
        model = inputs.model(body, MODELS)
    content = body.get("content")
    if content is None:
        raise inputs.missing("content")
    if not isinstance(content, list) or not content:
        raise InputError("it must be a non-empty list", "content")
    assets = inputs.read_items(content, "content")
    if len(assets.texts) > 1:
        raise InputError("at most one text item is allowed", "content")
    images = inputs.check_modes(assets, "content")

    resolution = inputs.resolution(body, model)
    ratio = inputs.choice(body, "ratio", (*RATIOS, "adaptive"), "adaptive")
    duration = inputs.integer(body, "duration", DEFAULT_DURATION)
    if duration == -1:
        duration = DEFAULT_DURATION
    elif not 4 <= duration <= 15:
        raise InputError("it must be between 4 and 15, or -1", "duration")
    seed = inputs.seed(body)
    expires_after = inputs.integer(body, "execution_expires_after", inputs.DEFAULT_EXPIRES)
    if not 3600 <= expires_after <= 259200:
        raise InputError("it must be between 3600 and 259200", "execution_expires_after")
    callback_url = body.get("callback_url")
    if callback_url is not None and not (
        isinstance(callback_url, str) and callback_url.startswith(("http://", "https://"))
    ):
        raise InputError("it must be an http(s) URL", "callback_url")
    for name in RETIRED:
        if body.get(name) is not None:
            raise InputError("Seedance 2.0 does not support it", name)
    flags = {
        "generate_audio": inputs.flag(body, "generate_audio", True),
        "watermark": inputs.flag(body, "watermark", False),
        "return_last_frame": inputs.flag(body, "return_last_frame", False),
    }

    media = inputs.fetch(images, assets)
    task = call.create(
        model=model,
        prompt=assets.texts[0] if assets.texts else "",
        **inputs.shape(resolution, ratio, media.first),
        duration=duration,
        seed=seed,
        callback_url=callback_url,
        expires_after=expires_after,
        **media.task_fields(),
        **flags,
    )
    return {"id": task.id}


STYLE = Style(
    name=NAME,
    prefixes=(NATIVE, APIYI),
    routes=(
        Route("create", "POST", re.compile(re.escape(TASKS)), _create),
        Route("list", "GET", re.compile(re.escape(TASKS)), _list),
        Route("get", "GET", re.compile(TASK), show_task),
        Route("cancel", "DELETE", re.compile(TASK), _delete),
    ),
    task_body=task_body,
    new_id=new_id,
    codes=CODES,
    refusal=refusal,
    error_body=error_body,
    prompt_param="content",
    # apiyi's document: Python clients fail to decode its gzip answers unless they send
    # Accept-Encoding: identity. Curl, which decodes nothing unasked, reads them fine.
    false_gzip_prefixes=(APIYI,),
)
