"""The wisgate gateway style: /v1/videos, modes i2v/r2v over image URLs under 4 MB, `meta_data`."""

from __future__ import annotations

import re

from . import inputs
from .engine import Status
from .inputs import MB, Assets, InputError
from .wire import (
    GATEWAY_STATUSES,
    OPENAI_CODES,
    Route,
    Style,
    show_task,
    task_error,
    token,
    video_url,
)

NAME = "wisgate"
MODEL = "doubao-seedance-2"
VIDEOS = "/v1/videos"
SIZES = ("1280x720", "720x1080", "1920x1080", "1080x1920")
# Its portrait 720p, 720x1080, is 2:3 (the native 9:16 is 720x1280): rendered as asked.
OWN_SIZES = {"720x1080": ("720p", "2:3")}
MAX_REFERENCE_BYTES = 4 * MB  # "each image and video file must be smaller than 4MB"
I2V_ROLES = ("first_frame", "last_frame")


def task_body(task, link):
    body = {
        "id": task.id,
        "object": "video",
        "status": GATEWAY_STATUSES[task.status],
        "progress": task.progress,
        "created_at": int(task.created_at),
    }
    if task.status is Status.SUCCEEDED:
        # With an underscore, unlike the other gateways' metadata.
        body["meta_data"] = {"url": video_url(task, link)}
        body["expires_at"] = task.files_expire_at
    if task.error:
        body["error"] = task_error(task, OPENAI_CODES)
    return body


def _create(call):
    body = inputs.json_object(call.json)
    inputs.model(body, (MODEL,))
    prompt = inputs.text(body, "prompt", required=True)
    duration = inputs.duration(body, "duration", 4)
    resolution, ratio = inputs.size(body, SIZES, "1280x720", own=OWN_SIZES)
    mode = inputs.choice(body, "mode", ("i2v", "r2v"), None)
    images = inputs.url_list(body, "images", urls_only=True)
    videos = inputs.url_list(body, "videos", urls_only=True)

    assets = Assets(videos={f"videos[{index}]": link for index, link in enumerate(videos)})
    if mode is None and (images or videos):
        raise InputError('images and videos need mode "i2v" or "r2v"', "mode")
    if mode == "i2v":
        if not images:
            raise inputs.missing("images")
        if len(images) > len(I2V_ROLES):
            raise InputError("i2v takes a first frame and at most a last frame", "images")
        if videos:
            raise InputError('i2v takes images only; use mode "r2v" for videos', "videos")
        roles = I2V_ROLES
    else:
        if mode == "r2v" and not (images or videos):
            raise inputs.missing("images")
        roles = ["reference_image"] * len(images)
    for index, (role, link) in enumerate(zip(roles, images, strict=False)):
        assets.images[f"images[{index}]"] = (role, link)
    inputs.check_modes(assets, "images")

    media = inputs.fetch(
        assets.images, assets, max_bytes=MAX_REFERENCE_BYTES, max_clip_bytes=MAX_REFERENCE_BYTES
    )
    task = call.create(
        model=MODEL,
        prompt=prompt,
        **inputs.shape(resolution, ratio, media.first),
        duration=duration,
        # Nothing to ask for audio, so the model's default (on) holds.
        generate_audio=True,
        watermark=False,
        seed=inputs.random_seed(),
        **media.task_fields(),
    )
    return task_body(task, call.link)


STYLE = Style(
    name=NAME,
    prefixes=("/wisgate",),
    routes=(
        Route("create", "POST", re.compile(re.escape(VIDEOS)), _create),
        Route("get", "GET", re.compile(re.escape(VIDEOS) + r"/([^/]+)"), show_task),
    ),
    task_body=task_body,
    new_id=lambda: f"video_{token(24)}",
)
