"""The native Seedance task API (Volcengine Ark, BytePlus ModelArk, gateway 004) on the wire."""

from .base import GenerationRequest, RemoteTask, TaskState
from .style import Style, error_from_body

TASKS = "/contents/generations/tasks"


class ArkStyle(Style):
    name = "ark"
    models = (
        "doubao-seedance-2-0-260128",
        "doubao-seedance-2-0-fast-260128",
        "dreamina-seedance-2-0-260128",
        "dreamina-seedance-2-0-fast-260128",
    )
    default_model = "doubao-seedance-2-0-fast-260128"
    returns_last_frame = True
    takes_callback = True
    can_cancel = True
    can_list = True
    statuses = {
        "queued": TaskState.QUEUED,
        "running": TaskState.RUNNING,
        "succeeded": TaskState.SUCCEEDED,
        "failed": TaskState.FAILED,
        "expired": TaskState.EXPIRED,
        "cancelled": TaskState.CANCELLED,
    }

    def create(self, request: GenerationRequest) -> str:
        return self.created_id(self.call("POST", TASKS, json=self.create_body(request)), "id")

    def get(self, task_id) -> RemoteTask:
        return self.parse_task(self.call("GET", f"{TASKS}/{task_id}"))

    def list(self, task_ids):
        """Many tasks in one call; ids the provider does not know are simply absent."""
        params = [("page_size", 500), *(("filter.task_ids", task_id) for task_id in task_ids)]
        answer = self.call("GET", TASKS, params=params)
        return [self.parse_task(item) for item in answer.get("items") or []]

    def cancel(self, task_id):
        self.call("DELETE", f"{TASKS}/{task_id}")

    def find_lost(self, request: GenerationRequest, since):
        """The task a create made although its answer was lost, if the provider has it.

        Recognised among the recent tasks of the model by its seed, chosen per take,
        and its shape; None when there is none, so it is safe to create again.
        """
        for page in range(1, 6):
            params = {"page_num": page, "page_size": 100, "filter.model": request.model}
            items = self.call("GET", TASKS, params=params).get("items") or []
            for task in map(self.parse_task, items):
                if (
                    task.seed == request.seed
                    and task.duration == request.duration
                    and (task.created_at or 0) >= since
                ):
                    return task
            if len(items) < 100:
                return None
        return None

    def create_body(self, request: GenerationRequest):
        body = {
            "model": request.model,
            "content": [{"type": "text", "text": request.prompt}, *self.content_items(request)],
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

    def parse_task(self, data) -> RemoteTask:
        content = data.get("content") or {}
        usage = data.get("usage") or {}
        error = data.get("error")
        return RemoteTask(
            id=data.get("id", ""),
            state=self.state(data.get("status")),
            video_url=content.get("video_url") or "",
            last_frame_url=content.get("last_frame_url") or "",
            tokens=usage.get("completion_tokens"),
            error=error_from_body(error) if error else None,
            duration=data.get("duration"),
            seed=data.get("seed"),
            created_at=data.get("created_at"),
        )
