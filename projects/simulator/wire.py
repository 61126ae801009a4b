"""What the wire styles share: how one is described, refusals and their bodies, auth, ids, times."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .engine import Status

# The HTTP status of each neutral refusal kind; a style names each kind with its own code.
KIND_STATUS = {
    "invalid": 400,
    "missing": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "no_route": 404,
    "model_not_found": 404,
    "rate_limit": 429,
    "server_error": 500,
}
MESSAGES = {
    "invalid": "The request was refused.",
    "unauthorized": "The API key in the request is missing or invalid.",
    "forbidden": "Access to this resource is denied.",
    "not_found": "The requested resource is not found.",
    "rate_limit": "Too many requests: retry after the number of seconds in Retry-After.",
    "server_error": "The service had an internal error; retry later.",
}
# The codes of the OpenAI-compatible gateways, for refusals and for failed tasks alike.
OPENAI_CODES = MappingProxyType(
    {
        "invalid": "invalid_value",
        "missing": "missing_required_parameter",
        "unauthorized": "invalid_api_key",
        "forbidden": "permission_denied",
        "not_found": "not_found",
        "no_route": "not_found",
        "model_not_found": "model_not_found",
        "rate_limit": "rate_limit_exceeded",
        "server_error": "server_error",
        "moderation": "content_policy_violation",
        "expired": "expired",
    }
)
# The gateways' status words; none has "expired" (a failed task says so in its error).
GATEWAY_STATUSES = MappingProxyType(
    {
        Status.QUEUED: "queued",
        Status.RUNNING: "in_progress",
        Status.SUCCEEDED: "completed",
        Status.FAILED: "failed",
        Status.EXPIRED: "failed",
    }
)
ID_ALPHABET = string.ascii_lowercase + string.digits


class ApiError(Exception):
    """A refusal in the style's own code; the style's error_body renders it."""

    def __init__(self, status, code, message, param="", retry_after=None, retry_after_as="seconds"):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        # Seconds to wait, and how the answer says it (faults.RETRY_AFTER_FORMS).
        self.retry_after, self.retry_after_as = retry_after, retry_after_as


@dataclass(frozen=True)
class FileAnswer:
    """A view's answer that is a file's bytes rather than JSON."""

    path: Path
    content_type: str


@dataclass(frozen=True)
class Route:
    op: str  # create, get, list, cancel or download: what faults and limits go by
    method: str
    path: re.Pattern
    view: Callable  # view(call, *path groups) -> JSON-able body or FileAnswer


def openai_refusal(error):
    """An InputError as the OpenAI-compatible gateways word it."""
    if error.kind == "missing":
        message = f"Missing required parameter: '{error.param}'."
    elif error.kind == "invalid" and error.param:
        message = f"Invalid '{error.param}': {error.reason}."
    else:
        message = error.reason
    return ApiError(KIND_STATUS[error.kind], OPENAI_CODES[error.kind], message, error.param)


def openai_error_body(error, request_id):
    if error.status >= 500:
        kind = "server_error"
    elif error.status == 429:
        kind = "rate_limit_error"
    elif error.status in (401, 403):
        kind = "authentication_error"
    else:
        kind = "invalid_request_error"
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": error.param or None,
            "code": error.code,
        }
    }


@dataclass(frozen=True)
class Style:
    """One wire style: where it lives, its routes, and how it words tasks and refusals.

    The defaults are the OpenAI-compatible gateways'; the native style overrides them.
    """

    name: str
    prefixes: tuple[str, ...]
    routes: tuple[Route, ...]
    task_body: Callable  # (task, link) -> the task as this style shows it
    new_id: Callable[[], str]
    codes: Mapping[str, str] = field(default_factory=lambda: OPENAI_CODES)
    refusal: Callable = openai_refusal  # InputError -> ApiError
    error_body: Callable = openai_error_body  # (ApiError, request id) -> body
    # What the style's documents say a client may do: rpm, per_day, concurrency.
    limits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    prompt_param: str = "prompt"  # where a bad prompt directive is blamed
    # Prefixes whose answers say Content-Encoding: gzip but are plain, unless the client
    # sends Accept-Encoding: identity: what a decoding client then fails on.
    false_gzip_prefixes: tuple[str, ...] = ()

    def error(
        self,
        kind,
        message=None,
        *,
        status=None,
        code=None,
        param="",
        retry_after=None,
        retry_after_as="seconds",
    ):
        return ApiError(
            status or KIND_STATUS[kind],
            code or self.codes[kind],
            message or MESSAGES[kind],
            param,
            retry_after,
            retry_after_as,
        )

    def resolve(self, call):
        """Authenticate the call and find its route; return (route, path groups)."""
        scheme, _, key = call.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or (call.api_key and key != call.api_key):
            raise self.error("unauthorized")
        for route in self.routes:
            if route.method == call.method and (match := route.path.fullmatch(call.path)):
                return route, match.groups()
        raise self.error(
            "no_route", f"The requested resource {call.method} {call.full_path} is not found."
        )


def show_task(call, task_id):
    """The get view every style has: one of its tasks, as it shows them."""
    return call.style.task_body(call.task(task_id), call.link)


def token(length):
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def task_error(task, codes):
    """The {"code", "message"} of a failed task, or None."""
    if task.error is None:
        return None
    return {"code": codes[task.error.kind], "message": task.error.message}


def video_url(task, link):
    return link(task.video_name, task.files_expire_at)


def iso(timestamp):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def millis(timestamp):
    return int(timestamp * 1000)
