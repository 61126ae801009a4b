"""Gateway 001 (api.wisgate.ai): `/v1/videos`, `mode` i2v/r2v with `images`, `meta_data.url`."""

from .base import GenerationRequest
from .style import Style

PATH = "/v1/videos"


class WisgateStyle(Style):
    name = "wisgate"
    models = ("doubao-seedance-2",)
    default_model = "doubao-seedance-2"
    accepts_data_uri = False  # images are fetched by URL
    # "Each image and video file must be smaller than 4MB."
    max_image_bytes = max_reference_video_bytes = 4 * 1024 * 1024 - 1
    sizes = {
        ("720p", "16:9"): "1280x720",
        # The document's portrait 720p: 720x1080 is 2:3, not 9:16 (that is 720x1280).
        ("720p", "2:3"): "720x1080",
        ("1080p", "16:9"): "1920x1080",
        ("1080p", "9:16"): "1080x1920",
    }
    takes_audio = False
    version = "/v1"
    tasks_path = PATH

    def create(self, request: GenerationRequest) -> str:
        body = {
            "prompt": request.prompt,
            "model": request.model,
            "duration": request.duration,
            "size": self.sizes[request.resolution, request.ratio],
        }
        frames = [image for image in (request.first_frame, request.last_frame) if image]
        if frames:
            body["mode"] = "i2v"  # images[0] is the first frame, images[1] the last
            body["images"] = [self.image_url(image) for image in frames]
        elif request.references or request.reference_videos:
            body["mode"] = "r2v"
            body["images"] = [self.image_url(image) for image in request.references]
            body["videos"] = list(request.reference_videos)
        return self.created_id(self.call("POST", PATH, json=body))
