"""The OpenAI/Sora-compatible gateway style: `seconds` as a string, ms times, /content."""

from __future__ import annotations

import re

from . import inputs
from .engine import Status
from .inputs import InputError
from .wire import (
    GATEWAY_STATUSES,
    OPENAI_CODES,
    FileAnswer,
    Route,
    Style,
    millis,
    show_task,
    task_error,
    token,
    video_url,
)

NAME = "openai-videos"
MODELS = ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128")
VIDEOS = "/v1/videos"
VIDEO = VIDEOS + "/([^/]+)"
RATIOS = (*inputs.RATIOS, "adaptive", "auto")
# Fields given at the top level or, the legacy way, under metadata; the gateway leaves the
# outcome of both undefined, so the simulator refuses it.
SHARED = (
    "resolution",
    "ratio",
    "generate_audio",
    "watermark",
    "camera_fixed",
    "return_last_frame",
    "seed",
)


def task_body(task, link):
    body = {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": GATEWAY_STATUSES[task.status],
        "progress": task.progress,
        "created_at": millis(task.created_at),
        "seconds": str(task.duration),
        "size": f"{task.width}x{task.height}",
        "error": task_error(task, OPENAI_CODES),
    }
    if task.status is Status.SUCCEEDED:
        body["completed_at"] = millis(task.updated_at)
        body["expires_at"] = millis(task.files_expire_at)
        body["metadata"] = {"url": video_url(task, link)}
    else:
        body["expires_at"] = millis(task.created_at + task.expires_after)
    return body


def _content(call, task_id):
    task = call.task(task_id)
    if task.status is not Status.SUCCEEDED:
        raise call.style.error(
            "not_found",
            f"Video {task_id} has no content: it is {GATEWAY_STATUSES[task.status]}.",
        )
    return FileAnswer(call.engine.data_dir / task.video_name, "video/mp4")


def _create(call):
    body = inputs.json_object(call.json)
    model = inputs.model(body, MODELS)
    prompt = inputs.text(body, "prompt", required=True)
    metadata = inputs.mapping(body, "metadata")
    values, where = _merged(body, metadata)
    duration = _seconds(body, metadata)
    if inputs.integer(body, "n", 1) != 1:
        raise InputError("one video per task: submit more tasks for more videos", "n")
    inputs.choice(body, "response_format", ("url",), "url")
    inputs.text(body, "user")

    size = inputs.text(body, "size")
    if size is None:
        resolution = inputs.resolution(values, model, where=where["resolution"])
        ratio = inputs.choice(values, "ratio", RATIOS, "adaptive", where["ratio"])
        ratio = "adaptive" if ratio == "auto" else ratio
    elif values["resolution"] is not None or values["ratio"] is not None:
        raise InputError("give either size or resolution and ratio, not both", "size")
    else:
        resolution, ratio = inputs.size(body, tuple(inputs.SIZES), None)
        inputs.check_tier(model, resolution, "size")

    assets = inputs.read_items(metadata.get("content"), "metadata.content")
    if assets.texts:
        raise InputError("the prompt goes in prompt, not in metadata.content", "metadata.content")
    if image := inputs.url(body, "image"):
        assets.images["image"] = ("first_frame", image)
    for index, link in enumerate(inputs.url_list(body, "images")):
        assets.images[f"images[{index}]"] = ("reference_image", link)
    images = inputs.check_modes(assets, "metadata.content")

    flags = {
        name: inputs.flag(values, name, default, where[name])
        for name, default in (
            ("generate_audio", True),
            ("watermark", False),
            ("return_last_frame", False),
        )
    }
    # Checked, though a still camera is nothing a drawn clip can show.
    inputs.flag(values, "camera_fixed", False, where["camera_fixed"])
    seed = inputs.seed(values, where["seed"])

    media = inputs.fetch(images, assets)
    task = call.create(
        model=model,
        prompt=prompt,
        **inputs.shape(resolution, ratio, media.first),
        duration=duration,
        seed=seed,
        **media.task_fields(),
        **flags,
    )
    return task_body(task, call.link)


def _merged(body, metadata):
    """The SHARED fields from wherever they were given, and the prefix to blame each by."""
    values, where = {}, {}
    for name in SHARED:
        top, legacy = body.get(name), metadata.get(name)
        if top is not None and legacy is not None:
            raise InputError(
                f"give {name} once, at the top level, not also in metadata", f"metadata.{name}"
            )
        values[name] = legacy if top is None else top
        where[name] = "metadata." if top is None else ""
    return values, where


def _seconds(body, metadata):
    """The length, from seconds (a string) or one of the legacy integer durations."""
    given = [
        param
        for param, value in (
            ("seconds", body.get("seconds")),
            ("duration", body.get("duration")),
            ("metadata.duration", metadata.get("duration")),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InputError(f"give the length once, as seconds, not {' and '.join(given)}", given[1])
    seconds = body.get("seconds")
    if seconds is None:
        if "metadata.duration" in given:
            return inputs.duration(metadata, "duration", 5, "metadata.")
        return inputs.duration(body, "duration", 5)
    if not isinstance(seconds, str) or not seconds.isdecimal():
        raise InputError('it must be a string of whole seconds, such as "5"', "seconds")
    return inputs.duration({"seconds": int(seconds)}, "seconds", 5)


STYLE = Style(
    name=NAME,
    prefixes=("/openai-videos",),
    routes=(
        Route("create", "POST", re.compile(re.escape(VIDEOS)), _create),
        Route("get", "GET", re.compile(VIDEO), show_task),
        Route("download", "GET", re.compile(VIDEO + "/content"), _content),
    ),
    task_body=task_body,
    new_id=lambda: f"video_{token(24)}",
)
