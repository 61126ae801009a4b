"""Gateway 000 (open.dieyuyun.com): `/v1/video/generations`, `task_id`, extras under metadata."""

from .base import GenerationRequest
from .style import Style

PATH = "/v1/video/generations"


class DieyuyunStyle(Style):
    name = "dieyuyun"
    models = ("doubao-seedance-2-0",)
    default_model = "doubao-seedance-2-0"
    accepts_data_uri = False  # `image` is documented as a URL
    durations = (5, 10)
    sizes = {
        ("720p", "16:9"): "1280x720",
        ("720p", "9:16"): "720x1280",
        ("1080p", "16:9"): "1920x1080",
    }
    takes_last_frame = False
    max_reference_images = 0
    max_reference_videos = max_reference_audios = 1
    audio_beside_first_frame = True  # the audio mode: a photo and speech
    version = "/v1"
    tasks_path = PATH

    def create(self, request: GenerationRequest) -> str:
        body = {
            "model": request.model,
            "prompt": request.prompt,
            "size": self.sizes[request.resolution, request.ratio],
            "duration": request.duration,
            "mode": "text",
        }
        metadata = {"generate_audio": request.generate_audio, "watermark": request.watermark}
        if request.seed is not None:
            metadata["seed"] = request.seed
        if request.first_frame is not None:
            body["mode"] = "image"
            body["image"] = self.image_url(request.first_frame)
        if request.reference_audios:
            body["mode"] = "audio"
            metadata["audio_url"] = request.reference_audios[0]
        if request.reference_videos:
            metadata["video_url"] = request.reference_videos[0]
        body["metadata"] = metadata
        return self.created_id(self.call("POST", PATH, json=body))

    @classmethod
    def _content_problems(cls, request):
        found = super()._content_problems(request)
        if request.reference_audios and request.first_frame is None:
            found.append("Audio-driven shots on the dieyuyun API need a first frame.")
        return found
