"""The native Seedance task API (Volcengine Ark, BytePlus ModelArk, gateway 004) on the wire."""

from .base import GenerationRequest, LostCreate, RemoteTask
from .style import Style

TASKS = "/contents/generations/tasks"
# The service's default lifetime of a task; each create asks for a little less, by an
# amount drawn from its fingerprint, which the task object echoes (see find_lost).
EXPIRES = 172800
FINGERPRINT_SPAN = 3600
# Seconds a task's created_at may differ from this host's clock.
CLOCK_SKEW = 30


class ArkStyle(Style):
    name = "ark"
    models = (
        "doubao-seedance-2-0-260128",
        "doubao-seedance-2-0-fast-260128",
        "dreamina-seedance-2-0-260128",
        "dreamina-seedance-2-0-fast-260128",
    )
    default_model = "doubao-seedance-2-0-fast-260128"
    # Volcengine and BytePlus also call a model by an endpoint id made in their console.
    any_model = True
    returns_last_frame = True
    takes_callback = True
    task_lifetime = EXPIRES  # each create asks for at most this (_expires_after)
    can_cancel = True
    can_list = True

    def __init__(self, base_url, api_key, http, headers=None, **limits):
        # A gateway of this style (004) sends gzip that Python clients cannot decode
        # unless they ask for none; asking for none costs the others nothing.
        headers = {"Accept-Encoding": "identity", **(headers or {})}
        super().__init__(base_url, api_key, http, headers, **limits)

    def create(self, request: GenerationRequest) -> str:
        return self.created_id(self.call("POST", TASKS, json=self.create_body(request)))

    def get(self, task_id) -> RemoteTask:
        return self.parse_task(self.call("GET", f"{TASKS}/{task_id}"))

    def list(self, task_ids):
        """Many tasks in one call; ids the provider does not know are simply absent."""
        params = [("page_size", 500), *(("filter.task_ids", task_id) for task_id in task_ids)]
        answer = self.call("GET", TASKS, params=params)
        return [self.parse_task(item) for item in answer.get("items") or []]

    def cancel(self, task_id):
        self.call("DELETE", f"{TASKS}/{task_id}")

    def find_lost(self, lost: LostCreate):
        """The tasks a create could have made although its answer was lost.

        Candidates are the model's tasks created since the create was sent that no other
        take follows, and that echo everything the create asked for: seed, duration,
        resolution, ratio, audio, and the expiry its fingerprint chose. An empty list
        means there is none, so it is safe to create again.
        """
        request = lost.request
        wanted = {
            "seed": request.seed,
            "duration": request.duration,
            "resolution": request.resolution,
            "ratio": request.ratio,
            "generate_audio": request.generate_audio,
            "expires_after": _expires_after(request),
        }
        found = []
        for page in range(1, 6):
            params = {"page_num": page, "page_size": 100, "filter.model": request.model}
            items = self.call("GET", TASKS, params=params).get("items") or []
            for task in map(self.parse_task, items):
                if (
                    task.id not in lost.known
                    and (task.created_at or 0) >= lost.since - CLOCK_SKEW
                    and all(getattr(task, name) == value for name, value in wanted.items())
                ):
                    found.append(task)
            if len(items) < 100:
                break
        return found

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
            "execution_expires_after": _expires_after(request),
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return body


def _expires_after(request):
    """The task lifetime asked for: the default, less a part drawn from the fingerprint."""
    if not request.fingerprint:
        return EXPIRES
    return EXPIRES - int(request.fingerprint[:8], 16) % FINGERPRINT_SPAN
