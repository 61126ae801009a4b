"""The futurmix gateway style: Ark parameters and content items, all of them under `metadata`."""

from __future__ import annotations

import re

from . import inputs
from .engine import Status
from .inputs import InputError
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

NAME = "futurmix"
MODELS = ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128")
GENERATIONS = "/video/generations"
# Upstream parameters this gateway reads from metadata only; at the top level they would be
# dropped without a word, so the simulator refuses them instead.
METADATA_ONLY = ("generate_audio", "ratio", "watermark", "resolution", "seed")


def task_body(task, link):
    body = {
        "task_id": task.id,
        "status": GATEWAY_STATUSES[task.status],
        "progress": task.progress,
    }
    if task.status is Status.SUCCEEDED:
        body["metadata"] = {"url": video_url(task, link)}
    if task.error:
        body["error"] = task_error(task, OPENAI_CODES)
    return body


def _create(call):
    body = inputs.json_object(call.json)
    model = inputs.model(body, MODELS)
    for name in METADATA_ONLY:
        if body.get(name) is not None:
            raise InputError(f"this gateway takes it under metadata: send metadata.{name}", name)
    prompt = inputs.text(body, "prompt")
    duration = inputs.duration(body, "duration", 5)
    metadata = inputs.mapping(body, "metadata")
    assets = inputs.read_items(metadata.get("content"), "metadata.content")
    texts = [prompt, *assets.texts] if prompt else assets.texts
    if len(texts) > 1:
        raise InputError("give the prompt once: in prompt or as one text item", "metadata.content")
    if not texts and not assets.images:
        raise inputs.missing("prompt")
    images = inputs.check_modes(assets, "metadata.content")
    resolution = inputs.resolution(metadata, model, where="metadata.")
    ratio = inputs.choice(metadata, "ratio", (*inputs.RATIOS, "adaptive"), "adaptive", "metadata.")
    flags = {
        "generate_audio": inputs.flag(metadata, "generate_audio", True, "metadata."),
        "watermark": inputs.flag(metadata, "watermark", False, "metadata."),
    }
    seed = inputs.seed(metadata, "metadata.")

    media = inputs.fetch(images, assets)
    task = call.create(
        model=model,
        prompt=texts[0] if texts else "",
        **inputs.shape(resolution, ratio, media.first),
        duration=duration,
        seed=seed,
        **media.task_fields(),
        **flags,
    )
    return {"task_id": task.id, "status": GATEWAY_STATUSES[task.status]}


STYLE = Style(
    name=NAME,
    prefixes=("/futurmix/v1",),
    routes=(
        Route("create", "POST", re.compile(re.escape(GENERATIONS)), _create),
        Route("get", "GET", re.compile(re.escape(GENERATIONS) + r"/([^/]+)"), show_task),
    ),
    task_body=task_body,
    new_id=lambda: token(24),
)
