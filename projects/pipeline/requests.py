"""The neutral request a take sends, and what the provider would refuse before anything is."""

import hashlib
import json
from dataclasses import asdict, replace

from django.conf import settings
from django.urls import reverse

from .. import media
from ..access import callback_token, input_token
from ..models import Kind, Opening, Reference, Shot
from ..providers import GenerationRequest, Image, ProviderError, configured


def build_request(
    shot,
    upstream,
    style,
    frames=True,
    seed=None,
    callback_url="",
    references=None,
    start=None,
    kind=Kind.FINAL,
):
    """The neutral request for a take of `kind` of `shot` (a draft: the draft settings;
    a final: the project's), its images fitted to `style`; a continue starts on
    `upstream`'s last frame, or on `start`'s start frame (a trimmed upstream).

    With frames=False, files are placeholders: enough to check the request's shape
    before any frame exists (the shot form does, with the references it was given).
    """
    project = shot.project
    asked = project.settings_for(kind)
    if shot.continues:
        if not frames:
            first_frame = _placeholder()
        elif start is not None:
            first_frame = _frame(start, "start_frame", style)
        else:
            first_frame = _frame(upstream, "last_frame", style)
    elif shot.first_frame:
        first_frame = _frame(shot, "first_frame", style) if frames else _placeholder()
    else:
        first_frame = None
    last_frame = None
    if shot.last_frame_target:
        last_frame = _frame(shot, "last_frame_target", style) if frames else _placeholder()
    if references is None:
        references = list(shot.references.all()) if shot.pk is not None else []
    by_kind = {kind: [] for kind in Reference.Kind.values}
    video_bytes = []
    for reference in references:
        if reference.kind == Reference.Kind.VIDEO:
            video_bytes.append(reference.file.size)
        if reference.kind == Reference.Kind.IMAGE:
            sent = _frame(reference, "file", style) if frames else _placeholder()
        else:
            sent = _input_url(reference, "file") if frames else _placeholder().url
        by_kind[reference.kind].append(sent)
    return GenerationRequest(
        model=asked["model"],
        prompt=shot.prompt,
        duration=shot.duration,
        resolution=asked["resolution"],
        ratio=asked["ratio"],
        generate_audio=asked["generate_audio"],
        watermark=asked["watermark"],
        seed=shot.seed if seed is None else seed,
        first_frame=first_frame,
        last_frame=last_frame,
        references=by_kind[Reference.Kind.IMAGE],
        reference_videos=by_kind[Reference.Kind.VIDEO],
        reference_audios=by_kind[Reference.Kind.AUDIO],
        reference_video_bytes=video_bytes,
        return_last_frame=True,
        callback_url=callback_url,
    )


def fingerprinted(request, take):
    """The request with a digest of everything it sends for this take (the take itself,
    prompt, settings, seed and every frame's bytes), by which a task whose create
    answer was lost is told apart from any other."""
    sent = asdict(replace(request, callback_url=""))
    for name in ("first_frame", "last_frame"):
        sent[name] = _digest(sent[name])
    sent["references"] = [_digest(image) for image in sent["references"]]
    text = json.dumps({"take": take.pk, **sent}, sort_keys=True, default=str)
    return replace(request, fingerprint=hashlib.sha256(text.encode()).hexdigest())


def _digest(image):
    if not image:
        return None
    return hashlib.sha256(image["data"] or image["url"].encode()).hexdigest()


def _frame(instance, field, style):
    """A stored image for the provider: bytes within its limits, and a signed URL to them."""
    with getattr(instance, field).open("rb") as f:
        data, mime = media.fit_image(f.read(), style.max_image_bytes, settings.MAX_IMAGE_PIXELS)
    return Image(data=data, mime=mime, url=_input_url(instance, field))


def _input_url(instance, field):
    """A signed link the provider can fetch a stored input from; "" when it cannot reach us."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    return settings.PUBLIC_BASE_URL + reverse("provider-input", args=[input_token(instance, field)])


def callback_url(take, style):
    """Where the provider reports the task's changes, when it can and this app is reachable;
    the link works for as long as the task can live there."""
    if not (style.takes_callback and style.task_lifetime and settings.PUBLIC_BASE_URL):
        return ""
    token = callback_token(take, style.task_lifetime)
    return settings.PUBLIC_BASE_URL + reverse("take-callback", args=[token])


def _placeholder():
    """A frame to come: sendable as a data URI, and by URL when this app is reachable."""
    return Image(data=b"frame", url="frame" if settings.PUBLIC_BASE_URL else "")


def problems(shot, references=None):
    """Why the configured provider would refuse this shot, before anything is sent.

    `references` stands in for the shot's own, for a form checking what it was given.
    """
    try:
        style = configured().style
    except ProviderError as error:
        return [str(error)]
    return style.problems(build_request(shot, None, style, frames=False, references=references))


def settings_problems(project):
    """Why the configured provider would refuse any shot, draft or final, of a project
    with these settings."""
    try:
        style = configured().style
    except ProviderError as error:
        return [str(error)]
    probe = Shot(project=project, prompt="-", opening=Opening.CUT, duration=5)
    found = []
    for kind in (Kind.FINAL, Kind.DRAFT):
        request = build_request(probe, None, style, frames=False, kind=kind)
        found += [p for p in style.settings_problems(request) if p not in found]
    return found
