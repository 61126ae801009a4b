"""Request inputs the styles share: typed fields, pixel sizes, Ark-style content items, images."""

from __future__ import annotations

import base64
import binascii
import io
import math
import secrets
from dataclasses import dataclass, field

import av
import httpx
from PIL import Image

from .. import tls

MB = 1024 * 1024
# The real service's input limits for images.
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"}
MAX_IMAGE_BYTES = 30 * MB
MAX_CLIP_BYTES = 50 * MB  # a reference video or audio file
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
# width x height for each resolution and ratio, in the order of RATIOS.
_SIZES = {
    "480p": [(864, 496), (752, 560), (640, 640), (560, 752), (496, 864), (992, 432)],
    "720p": [(1280, 720), (1112, 834), (960, 960), (834, 1112), (720, 1280), (1470, 630)],
    "1080p": [(1920, 1080), (1664, 1248), (1440, 1440), (1248, 1664), (1080, 1920), (2206, 946)],
}
PIXELS = {tier: dict(zip(RATIOS, sizes, strict=True)) for tier, sizes in _SIZES.items()}
# A gateway's "WxH" size -> (resolution, ratio), through the same table.
SIZES = {
    f"{width}x{height}": (tier, ratio)
    for tier, sizes in PIXELS.items()
    for ratio, (width, height) in sizes.items()
}
# One gateway's own portrait 720p (wisgate's 720x1080): 2:3, outside the native table.
PIXELS["720p"]["2:3"] = (720, 1080)
# Fast models stop at 720p.
FAST_MODELS = {"doubao-seedance-2-0-fast-260128", "dreamina-seedance-2-0-fast-260128"}
IMAGE_ROLES = ("first_frame", "last_frame", "reference_image")
DEFAULT_EXPIRES = 172800  # the service's execution_expires_after when none is given


class InputError(ValueError):
    """An input the service refuses, in neutral words; the style phrases it in its own.

    `kind` is "invalid", "missing" (param absent) or "model_not_found".
    """

    def __init__(self, reason, param="", *, kind="invalid"):
        super().__init__(reason)
        self.reason, self.param, self.kind = reason, param, kind


def missing(param):
    return InputError("it is required", param, kind="missing")


def json_object(body):
    if not isinstance(body, dict):
        raise InputError("The request body must be a JSON object.")
    return body


def mapping(body, name, where=""):
    """An optional nested object such as metadata; {} when absent."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("it must be an object", where + name)
    return value


# Each reader below takes null as "not set", as the official SDK sends every unset field.


def choice(body, name, allowed, default, where=""):
    value = body.get(name)
    if value is None:
        return default
    # A string enum must not match 5 == 5.0 == True by accident, so compare types too.
    if not any(type(value) is type(option) and value == option for option in allowed):
        shown = ", ".join(str(option) for option in allowed)
        raise InputError(f"{value!r} is not one of {shown}", where + name)
    return value


def integer(body, name, default, where=""):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError("it must be an integer", where + name)
    return value


def flag(body, name, default, where=""):
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InputError("it must be true or false", where + name)
    return value


def text(body, name, *, required=False, where=""):
    value = body.get(name)
    if value is None:
        if required:
            raise missing(where + name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError("it must be a non-empty string", where + name)
    return value


def url(body, name, *, urls_only=False, where=""):
    """An optional media URL; `urls_only` styles refuse data URIs (they fetch what they get)."""
    value = text(body, name, where=where)
    if value is not None:
        check_url(value, where + name, urls_only=urls_only)
    return value


def url_list(body, name, *, urls_only=False):
    values = body.get(name)
    if values is None:
        return []
    if not isinstance(values, list):
        raise InputError("it must be a list of URLs", name)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise InputError("it must be a non-empty string", f"{name}[{index}]")
        check_url(value, f"{name}[{index}]", urls_only=urls_only)
    return values


def check_url(value, param, *, urls_only):
    if value.startswith(("http://", "https://")):
        return
    if urls_only:
        raise InputError("this service takes http(s) URLs only, not data URIs or files", param)
    if not value.startswith("data:"):
        raise InputError("it must be an http(s) URL or a data: URI", param)


def model(body, models):
    value = body.get("model")
    if value is None:
        raise missing("model")
    if not isinstance(value, str):
        raise InputError("it must be a string", "model")
    if value not in models:
        raise InputError(
            f"The model or endpoint {value} does not exist or you do not have access to it.",
            "model",
            kind="model_not_found",
        )
    return value


def resolution(body, model_id, default="720p", where=""):
    value = choice(body, "resolution", tuple(PIXELS), default, where)
    check_tier(model_id, value, where + "resolution")
    return value


def check_tier(model_id, tier, param):
    if tier == "1080p" and model_id in FAST_MODELS:
        raise InputError(f"{model_id} does not support 1080p", param)


def duration(body, name, default, where=""):
    """Whole seconds 4-15, the range Seedance 2.0 renders."""
    value = integer(body, name, default, where)
    if not 4 <= value <= 15:
        raise InputError("it must be between 4 and 15", where + name)
    return value


def seed(body, where=""):
    """The seed, with -1 (or none) drawn at random as the service does."""
    value = integer(body, "seed", -1, where)
    if not -1 <= value <= 2**32 - 1:
        raise InputError("it must be between -1 and 4294967295", where + "seed")
    return random_seed() if value == -1 else value


def random_seed():
    return secrets.randbelow(2**32)


def size(body, allowed, default, *, own=None):
    """(resolution, ratio) of a gateway's "WxH" size, through the pixel table or the
    gateway's `own` sizes."""
    return {**SIZES, **(own or {})}[choice(body, "size", allowed, default)]


def shape(resolution, ratio, first_frame):
    """The Task fields for a resolution and ratio, "adaptive" following the first frame."""
    if ratio == "adaptive":
        ratio = nearest_ratio(first_frame.size) if first_frame else "16:9"
    width, height = PIXELS[resolution][ratio]
    return {"resolution": resolution, "ratio": ratio, "width": width, "height": height}


def nearest_ratio(size):
    width, height = size

    def distance(ratio):
        w, h = map(int, ratio.split(":"))
        return abs(math.log(width / height) - math.log(w / h))

    return min(RATIOS, key=distance)


@dataclass
class Assets:
    """The media of a request, as Ark-style content items describe them."""

    texts: list[str] = field(default_factory=list)
    images: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # param: (role, url)
    videos: dict[str, str] = field(default_factory=dict)  # param: url
    audios: dict[str, str] = field(default_factory=dict)  # param: url


def read_items(items, where):
    """Check Ark-style content items (text, image_url, video_url, audio_url with roles).

    None reads as no items, as for an unset metadata.content.
    """
    assets = Assets()
    if items is None:
        return assets
    if not isinstance(items, list):
        raise InputError("it must be a list", where)
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise InputError("each item must be an object", at)
        kind = item.get("type")
        if kind == "text":
            assets.texts.append(text(item, "text", required=True, where=f"{at}."))
            continue
        if kind not in ("image_url", "video_url", "audio_url"):
            raise InputError(f"unknown type {kind!r}", f"{at}.type")
        holder = item.get(kind)
        link = holder.get("url") if isinstance(holder, dict) else None
        if not isinstance(link, str) or not link:
            raise InputError("it must be a non-empty string", f"{at}.{kind}.url")
        role = item.get("role")
        if kind == "image_url":
            if role is not None and role not in IMAGE_ROLES:
                raise InputError(f"unknown image role {role!r}", f"{at}.role")
            assets.images[f"{at}.image_url.url"] = (role, link)
        elif kind == "video_url":
            if role not in (None, "reference_video"):
                raise InputError("a video's role must be reference_video", f"{at}.role")
            assets.videos[f"{at}.video_url.url"] = link
        else:
            if role not in (None, "reference_audio"):
                raise InputError("an audio's role must be reference_audio", f"{at}.role")
            assets.audios[f"{at}.audio_url.url"] = link
    return assets


def check_modes(assets, param):
    """Apply the service's rules on combining media; return the images with their roles.

    The modes do not mix: one first frame; a first and a last frame; or reference images
    with optional reference videos and audio.
    """
    roles = [role for role, _ in assets.images.values()]
    # A lone image without a role is a first frame; with others, roles must be spelled out.
    if roles == [None]:
        return {name: ("first_frame", link) for name, (_, link) in assets.images.items()}
    if None in roles:
        raise InputError("with several images, each needs a role", param)
    firsts, lasts = roles.count("first_frame"), roles.count("last_frame")
    references = roles.count("reference_image")
    if firsts > 1 or lasts > 1:
        raise InputError("at most one first_frame and one last_frame are allowed", param)
    if lasts and not firsts:
        raise InputError("a last_frame needs a first_frame", param)
    if (firsts or lasts) and (references or assets.videos or assets.audios):
        raise InputError(
            "first/last frames cannot be mixed with reference images, videos or audio", param
        )
    if references > 9:
        raise InputError("at most 9 reference images are allowed", param)
    if len(assets.videos) > 3 or len(assets.audios) > 3:
        raise InputError("at most 3 reference videos and 3 reference audios are allowed", param)
    if assets.audios and not (references or assets.videos):
        raise InputError("reference audio needs a reference image or video beside it", param)
    return dict(assets.images)


@dataclass
class Media:
    """The fetched pictures that shape a clip: where it starts and ends, what guides it."""

    first: Image.Image | None = None
    last: Image.Image | None = None
    reference: Image.Image | None = None  # the first reference image, when there are some

    def task_fields(self):
        return {"first_frame": self.first, "last_frame": self.last, "reference": self.reference}


def fetch(images, assets=None, *, max_bytes=MAX_IMAGE_BYTES, max_clip_bytes=MAX_CLIP_BYTES):
    """Fetch and check every image, video and audio as the service would.

    `images` maps a param to its (role, link), as check_modes returns them; `assets` adds
    its videos and audio. Call this last, once everything cheap has passed.
    """
    found = Media()
    for param, (role, link) in images.items():
        image = load_image(link, param, max_bytes=max_bytes)
        if role == "first_frame":
            found.first = image
        elif role == "last_frame":
            found.last = image
        elif found.reference is None:
            found.reference = image
    if assets is not None:
        for param, link in assets.videos.items():
            load_clip(link, param, "video", max_clip_bytes)
        for param, link in assets.audios.items():
            load_clip(link, param, "audio", max_clip_bytes)
    return found


def load_clip(link, param, kind, max_bytes=MAX_CLIP_BYTES):
    """Fetch a reference video or audio by URL and check that it holds that kind of track."""
    if not link.startswith(("http://", "https://")):
        raise InputError(f"a reference {kind} must be an http(s) URL", param)
    data = _download(link, param, max_bytes, noun=kind)
    if len(data) >= max_bytes:
        raise InputError(f"the {kind} must be smaller than {max_bytes // MB} MB", param)
    try:
        with av.open(io.BytesIO(data)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise InputError(f"the file holds no {kind} track", param)
    except av.FFmpegError:
        raise InputError(f"the {kind} cannot be decoded", param) from None


def load_image(link, param, *, max_bytes=MAX_IMAGE_BYTES):
    """Decode an image given as a data URI or an http(s) URL, checking the service's limits."""
    if link.startswith("data:"):
        header, sep, payload = link[5:].partition(",")
        if not sep or not header.startswith("image/") or not header.endswith(";base64"):
            raise InputError("a data URI must look like data:image/<type>;base64,<data>", param)
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise InputError("the data URI does not hold valid base64", param) from None
    elif link.startswith(("http://", "https://")):
        data = _download(link, param, max_bytes)
    else:
        raise InputError("an image must be a data:image URI or an http(s) URL", param)
    if len(data) >= max_bytes:
        raise InputError(f"the image must be smaller than {max_bytes // MB} MB", param)
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:  # Pillow's decoders fail in many ways on bad bytes; all mean the same
        raise InputError("the image cannot be decoded", param) from None
    if image.format not in IMAGE_FORMATS:
        raise InputError(f"image format {image.format} is not supported", param)
    width, height = image.size
    if not 0.4 <= width / height <= 2.5:
        raise InputError(f"the image's aspect ratio {width}x{height} is outside 0.4-2.5", param)
    if min(width, height) <= 300 or max(width, height) >= 6000:
        raise InputError(
            f"the image is {width}x{height}; each side must be over 300 and under 6000 px", param
        )
    return image.convert("RGB")


def _download(link, param, max_bytes, noun="image"):
    # Streamed, so an oversized file is refused after max_bytes, not after all of it.
    try:
        with httpx.stream(
            "GET", link, timeout=10.0, follow_redirects=True, verify=tls.context()
        ) as response:
            if response.status_code != 200:
                raise InputError(
                    f"the {noun} could not be downloaded: HTTP {response.status_code}", param
                )
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= max_bytes:
                    break
            return bytes(data)
    except httpx.HTTPError as exc:
        raise InputError(f"the {noun} could not be downloaded: {exc}", param) from None
