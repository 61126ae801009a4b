"""Gateway 003 (futurmix.ai): `/v1/video/generations` with assets and settings under metadata."""

from .base import GenerationRequest
from .style import SEEDANCE_2, Style

PATH = "/v1/video/generations"


class FuturmixStyle(Style):
    name = "futurmix"
    models = SEEDANCE_2
    default_model = "doubao-seedance-2-0-260128"
    version = "/v1"
    tasks_path = PATH

    def create(self, request: GenerationRequest) -> str:
        metadata = {
            "content": self.content_items(request),
            "generate_audio": request.generate_audio,
            "ratio": request.ratio,
            "resolution": request.resolution,
            "watermark": request.watermark,
        }
        if request.seed is not None:
            metadata["seed"] = request.seed
        body = {
            "model": request.model,
            "prompt": request.prompt,
            "duration": request.duration,
            "metadata": metadata,
        }
        return self.created_id(self.call("POST", PATH, json=body))
