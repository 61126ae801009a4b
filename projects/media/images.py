"""Frames fitted to what a provider accepts: size on the wire, aspect ratio, side lengths."""

import io

from PIL import Image, ImageOps

from .errors import MediaError

# The native API's limits (gateways may cap the bytes lower).
MIN_ASPECT, MAX_ASPECT = 0.4, 2.5
MIN_SIDE, MAX_SIDE = 301, 5999
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def fit_image(data, max_bytes):
    """The image as bytes and MIME type within the limits; unchanged when already within.

    Too wide or too tall: centre-cropped to the limit. Too small or too large: scaled.
    Too heavy: re-encoded as JPEG, then scaled down, until it fits.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError) as exc:
        raise MediaError(f"Not an image this app can read: {exc}") from exc
    if _within(image) and len(data) <= max_bytes and image.format in FORMATS:
        return data, FORMATS[image.format]
    image = _shaped(ImageOps.exif_transpose(image).convert("RGB"))
    out = _encode(image, "PNG")
    for quality in (92, 85, 75):
        if len(out) <= max_bytes:
            break
        out = _encode(image, "JPEG", quality=quality)
    while len(out) > max_bytes:
        if min(image.size) * 0.8 < MIN_SIDE:
            raise MediaError(f"Cannot fit the image into {max_bytes} bytes.")
        image = image.resize((int(image.width * 0.8), int(image.height * 0.8)), Image.LANCZOS)
        out = _encode(image, "JPEG", quality=75)
    return out, "image/png" if out[:4] == b"\x89PNG" else "image/jpeg"


def _within(image):
    aspect = image.width / image.height
    return (
        MIN_ASPECT <= aspect <= MAX_ASPECT
        and min(image.size) >= MIN_SIDE
        and max(image.size) <= MAX_SIDE
    )


def _shaped(image):
    aspect = image.width / image.height
    if aspect > MAX_ASPECT:
        image = ImageOps.fit(image, (int(image.height * MAX_ASPECT), image.height))
    elif aspect < MIN_ASPECT:
        image = ImageOps.fit(image, (image.width, int(image.width / MIN_ASPECT)))
    scale = 1.0
    if min(image.size) < MIN_SIDE:
        scale = MIN_SIDE / min(image.size)
    if max(image.size) * scale > MAX_SIDE:
        scale = MAX_SIDE / max(image.size)
    if scale != 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.LANCZOS
        )
    return image


def _encode(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()
