"""The native Seedance task API (Volcengine Ark / BytePlus ModelArk v3) on the wire."""

import re

import httpx

from .base import GenerationRequest, ProviderError, RemoteTask, TaskState

TASKS = "/contents/generations/tasks"

STATES = {
    "queued": TaskState.QUEUED,
    "running": TaskState.RUNNING,
    "succeeded": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "expired": TaskState.EXPIRED,
    "cancelled": TaskState.CANCELLED,
}

PERMANENT_STATUSES = {400, 401, 403, 404, 422}


class ArkStyle:
    name = "ark"
    supports_data_uri = True
    returns_last_frame = True

    def __init__(self, base_url, api_key, http):
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {api_key}"}

    def create(self, request: GenerationRequest) -> str:
        answer = self._call("POST", TASKS, json=self.create_body(request))
        task_id = answer.get("id")
        if not task_id:
            raise ProviderError(f"The provider answered a create without a task id: {answer}")
        return task_id

    def get(self, task_id) -> RemoteTask:
        return self.parse_task(self._call("GET", f"{TASKS}/{task_id}"))

    def cancel(self, task_id):
        self._call("DELETE", f"{TASKS}/{task_id}")

    @staticmethod
    def create_body(request: GenerationRequest):
        content = [{"type": "text", "text": request.prompt}]
        frames = [("first_frame", request.first_frame), ("last_frame", request.last_frame)]
        for role, image in frames:
            if image is not None:
                content.append(_image_item(image, role))
        content += [_image_item(image, "reference_image") for image in request.references]
        body = {
            "model": request.model,
            "content": content,
            "resolution": request.resolution,
            "ratio": request.ratio,
            "duration": request.duration,
            # 2.0 makes sound unless told not to.
            "generate_audio": request.generate_audio,
            "watermark": request.watermark,
            "return_last_frame": request.return_last_frame,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return body

    @staticmethod
    def parse_task(data) -> RemoteTask:
        status = data.get("status")
        if status not in STATES:
            # An unknown status is a contract break, never "still running".
            raise ProviderError(f"The provider reported an unknown task status {status!r}")
        content = data.get("content") or {}
        usage = data.get("usage") or {}
        error = data.get("error")
        return RemoteTask(
            id=data.get("id", ""),
            state=STATES[status],
            video_url=content.get("video_url") or "",
            last_frame_url=content.get("last_frame_url") or "",
            tokens=usage.get("completion_tokens"),
            error=_error_from_body(error, None) if error else None,
            duration=data.get("duration"),
            seed=data.get("seed"),
        )

    def _call(self, method, path, **kwargs):
        try:
            response = self.http.request(
                method, self.base_url + path, headers=self.headers, **kwargs
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(f"The provider did not answer in time ({exc})") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"Could not reach the provider: {exc}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            return response.json() if response.content else {}
        except ValueError as exc:
            raise ProviderError(f"The provider answered with invalid JSON: {exc}") from exc


def _image_item(image, role):
    url = image.url or image.as_data_uri()
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def error_from_response(response):
    try:
        body = response.json().get("error")
    except (ValueError, AttributeError):
        body = None
    if not isinstance(body, dict):
        body = {"message": response.text[:300] or response.reason_phrase}
    return _error_from_body(body, response)


def _error_from_body(body, response):
    code = body.get("code") or ""
    message = body.get("message") or code or "unknown error"
    status = response.status_code if response is not None else None
    match = re.search(r"Request id:\s*(\S+)", message)
    request_id = match.group(1) if match else ""
    if response is not None and not request_id:
        request_id = response.headers.get("x-request-id", "")
    moderation = "Sensitive" in code
    retry_after = None
    if response is not None and response.headers.get("retry-after", "").isdigit():
        retry_after = int(response.headers["retry-after"])
    # A failed task's error is final; an HTTP error is final for client mistakes.
    permanent = response is None or status in PERMANENT_STATUSES or moderation
    return ProviderError(
        message,
        permanent=permanent,
        code=code,
        status=status,
        request_id=request_id,
        retry_after=retry_after,
        moderation=moderation,
    )
