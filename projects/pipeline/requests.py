"""The neutral request a take sends, and what the provider would refuse before anything is."""

import hashlib
import json
from dataclasses import asdict, replace

from django.conf import settings
from django.urls import reverse

from .. import cast as casting
from .. import gateways, media
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
    cast=None,
):
    """The neutral request for a take of `kind` of `shot` (a draft: the draft settings;
    a final: the project's), its images fitted to `style`; a continue starts on
    `upstream`'s last frame, or on `start`'s start frame (a trimmed upstream).

    With frames=False, files are placeholders: enough to check the request's shape
    before any frame exists (the shot form does, with the references it was given).

    The shot's cast (`cast` stands in for it, in order) goes out as reference images after
    the shot's own, where the shot starts on no frame and the style takes references; the
    prompt names each member's images and gives their descriptions (projects.cast).
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
    members = shot.cast_in_order() if cast is None else cast
    numbers = {}
    if members and cast_by_image(shot, style):
        images = by_kind[Reference.Kind.IMAGE]
        for member in members:
            for image in member.image_list():
                images.append(_frame(image, "file", style) if frames else _placeholder())
                numbers.setdefault(member.pk, []).append(len(images))
    return GenerationRequest(
        model=asked["model"],
        prompt=casting.prompt_with(shot.prompt, members, numbers),
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
    """The request with a digest of everything it sends for this create of this take (the
    take and its attempt, prompt, settings, seed and every frame's bytes), by which a task
    whose create answer was lost is told apart from any other, an earlier create of the
    same take's included."""
    text = json.dumps(
        {"take": take.pk, "attempt": take.attempts, **kept(request)}, sort_keys=True, default=str
    )
    return replace(request, fingerprint=hashlib.sha256(text.encode()).hexdigest())


def kept(request):
    """What a take keeps of the request it sends: every field, frames and references by
    digest (their bytes are in storage already; signed links expire and are secrets)."""
    sent = asdict(replace(request, callback_url=""))
    for name in ("first_frame", "last_frame"):
        sent[name] = _digest(sent[name])
    for name in ("references", "reference_videos", "reference_audios"):
        sent[name] = [_digest(item) for item in sent[name]]
    return sent


def sent(take):
    """The request a take's last create sent, as kept before it was sent: enough to look
    its task up (what the provider echoes), never rebuilt from the shot as it is now."""
    fields = {name: take.request[name] for name in SCALARS if name in take.request}
    return GenerationRequest(**fields)


# The fields of a kept request that come back as they were sent.
SCALARS = (
    "model",
    "prompt",
    "duration",
    "resolution",
    "ratio",
    "generate_audio",
    "watermark",
    "seed",
    "return_last_frame",
    "fingerprint",
)


def _digest(item):
    if not item:
        return None
    if isinstance(item, str):  # a URL
        return hashlib.sha256(item.encode()).hexdigest()
    return hashlib.sha256(item["data"] or item["url"].encode()).hexdigest()


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


def cast_by_image(shot, style):
    """Whether the shot's cast goes out as images: on a cut that starts on no frame of its
    own (image modes are exclusive), to a style that takes reference images."""
    return not shot.continues and not shot.first_frame and style.max_reference_images > 0


def cast_notes(shot, members=None):
    """What the card says of how the shot's cast reaches the gateway, and why the gateway
    would refuse it (the shot and the count named): (notes, problems)."""
    members = shot.cast_in_order() if members is None else members
    if not members:
        return [], []
    try:
        style = _style(shot.project if shot.project_id else None)
    except ProviderError:
        return [], []
    if shot.continues or shot.first_frame:
        frame = "the shot before's last frame" if shot.continues else "its first frame"
        return [f"Identity comes from {frame}: the cast goes by description."], []
    if not style.max_reference_images:
        return [
            f"The {style.name} API takes no reference images: the cast goes by description."
        ], []
    count = sum(len(member.image_list()) for member in members)
    own = sum(1 for r in shot.references.all() if r.kind == Reference.Kind.IMAGE)
    if count + own > style.max_reference_images:
        also = f" and {own} of its own" if own else ""
        return [], [
            f"Shot {shot.number} would send {count} cast images{also}; the {style.name} API "
            f"takes at most {style.max_reference_images} reference images."
        ]
    return [], []


def problems(shot, references=None, cast=None):
    """Why the configured provider would refuse this shot, before anything is sent.

    `references` and `cast` stand in for the shot's own, for a form checking what it was
    given.
    """
    try:
        style = _style(shot.project if shot.project_id else None)
    except ProviderError as error:
        return [str(error)]
    request = build_request(shot, None, style, frames=False, references=references, cast=cast)
    return style.problems(request)


def settings_problems(project):
    """Why the configured provider would refuse any shot, draft or final, of a project
    with these settings."""
    try:
        style = _style(project)
    except ProviderError as error:
        return [str(error)]
    probe = Shot(project=project, prompt="-", opening=Opening.CUT, duration=5)
    found = []
    for kind in (Kind.FINAL, Kind.DRAFT):
        request = build_request(probe, None, style, frames=False, kind=kind)
        found += [p for p in style.settings_problems(request) if p not in found]
    return found


def _style(project):
    """The API style `project`'s new takes go through (its team's gateway); looked up once
    for a project object (a page checks every shot of it)."""
    style = getattr(project, "_gateway_style", None)
    if style is None:
        with gateways.for_project(project):
            style = configured().style
        if project is not None:
            project._gateway_style = style
    return style
