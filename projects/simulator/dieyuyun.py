"""The dieyuyun gateway style: `task_id`, modes text/image/audio, extras in metadata, ISO times."""

from __future__ import annotations

import re
from types import MappingProxyType

from . import inputs
from .engine import Status
from .inputs import InputError
from .wire import (
    GATEWAY_STATUSES,
    OPENAI_CODES,
    Route,
    Style,
    iso,
    show_task,
    task_error,
    token,
    video_url,
)

NAME = "dieyuyun"
MODEL = "doubao-seedance-2-0"
GENERATIONS = "/v1/video/generations"
SIZES = ("1280x720", "720x1280", "1920x1080")
DURATIONS = (5, 10)
MODES = ("text", "image", "audio")
STATUSES = {**GATEWAY_STATUSES, Status.RUNNING: "processing"}


def task_body(task, link):
    body = {
        "task_id": task.id,
        "status": STATUSES[task.status],
        "progress": task.progress,
        "created_at": iso(task.created_at),
    }
    if task.status is Status.SUCCEEDED:
        body["metadata"] = {
            "url": video_url(task, link),
            "duration": task.duration,
            "size": f"{task.width}x{task.height}",
        }
        body["completed_at"] = iso(task.updated_at)
    if task.error:
        body["error"] = task_error(task, OPENAI_CODES)
    return body


def _create(call):
    body = inputs.json_object(call.json)
    inputs.model(body, (MODEL,))
    prompt = inputs.text(body, "prompt", required=True)
    resolution, ratio = inputs.size(body, SIZES, "1280x720")
    duration = inputs.choice(body, "duration", DURATIONS, 5)
    mode = inputs.choice(body, "mode", MODES, "text")
    image = inputs.url(body, "image", urls_only=True)
    metadata = inputs.mapping(body, "metadata")
    audio_url = inputs.url(metadata, "audio_url", urls_only=True, where="metadata.")
    video_url = inputs.url(metadata, "video_url", urls_only=True, where="metadata.")
    # The mode says what the image is for; an image the mode would ignore is a client bug.
    if mode == "text" and image:
        raise InputError('an image needs mode "image" or "audio"', "image")
    if mode != "text" and not image:
        raise inputs.missing("image")
    if mode == "audio" and not audio_url:
        raise inputs.missing("metadata.audio_url")
    flags = {
        "generate_audio": inputs.flag(metadata, "generate_audio", False, "metadata."),
        "watermark": inputs.flag(metadata, "watermark", False, "metadata."),
    }
    # Checked, though a still camera is nothing a drawn clip can show.
    inputs.flag(metadata, "camera_fixed", False, "metadata.")
    seed = inputs.seed(metadata, "metadata.")

    assets = inputs.Assets(
        images={"image": ("first_frame", image)} if image else {},
        videos={"metadata.video_url": video_url} if video_url else {},
        audios={"metadata.audio_url": audio_url} if audio_url else {},
    )
    media = inputs.fetch(assets.images, assets)
    task = call.create(
        model=MODEL,
        prompt=prompt,
        **inputs.shape(resolution, ratio, media.first),
        duration=duration,
        seed=seed,
        **media.task_fields(),
        **flags,
    )
    return task_body(task, call.link)


STYLE = Style(
    name=NAME,
    prefixes=("/dieyuyun",),
    routes=(
        Route("create", "POST", re.compile(re.escape(GENERATIONS)), _create),
        Route("get", "GET", re.compile(re.escape(GENERATIONS) + r"/([^/]+)"), show_task),
    ),
    task_body=task_body,
    new_id=lambda: f"task_{token(16)}",
    limits=MappingProxyType({"rpm": 5, "per_day": 100, "concurrency": 2}),
)
