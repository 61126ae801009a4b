"""Gateway 002 (OpenAI/Sora-compatible `/v1/videos`): `seconds` as a string, assets in metadata."""

from .base import GenerationRequest, RemoteTask, TaskState
from .style import SEEDANCE_2, Style

PATH = "/v1/videos"


class OpenAIVideosStyle(Style):
    name = "openai-videos"
    models = SEEDANCE_2
    default_model = "doubao-seedance-2-0-fast-260128"
    version = "/v1"
    tasks_path = PATH

    def create(self, request: GenerationRequest) -> str:
        # Common parameters at the top level only: the document warns that one given
        # both there and in metadata is "server-determined".
        body = {
            "model": request.model,
            "prompt": request.prompt,
            "seconds": str(request.duration),
            "resolution": request.resolution,
            "ratio": request.ratio,
            "generate_audio": request.generate_audio,
            "watermark": request.watermark,
            "return_last_frame": request.return_last_frame,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        items = self.content_items(request)
        if items:
            body["metadata"] = {"content": items}
        return self.created_id(self.call("POST", PATH, json=body))

    def get(self, task_id) -> RemoteTask:
        task = super().get(task_id)
        if task.state == TaskState.SUCCEEDED and not task.video_url:
            # The content endpoint serves the video when no URL is given (with the key).
            task.video_url = f"{self.base_url}{PATH}/{task_id}/content"
        return task
