"""Frames fitted to what a provider accepts: size on the wire, aspect ratio, side lengths;
and pictures refused before they decode when they have too many pixels."""

import io
import warnings

from PIL import Image, ImageOps

from .errors import MediaError

# The native API's limits (gateways may cap the bytes lower).
MIN_ASPECT, MAX_ASPECT = 0.4, 2.5
MIN_SIDE, MAX_SIDE = 301, 5999
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

# open_image refuses what Pillow would only warn about (its own cap is higher): the
# warning would say nothing the refusal does not.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class TooManyPixels(MediaError):
    pass


def open_image(source, max_pixels, name="The file"):
    """The image in `source` (a binary file, left open), its header read, nothing decoded.

    MediaError when Pillow cannot read it, or when it has more than `max_pixels`: a file of
    a few kilobytes may declare a picture that takes gigabytes and minutes to decode.
    """
    try:
        image = Image.open(source)
    except Image.DecompressionBombError as exc:  # past Pillow's own cap, far past ours
        raise TooManyPixels(
            f"{name} has more than {_megapixels(2 * Image.MAX_IMAGE_PIXELS)}: an image may "
            f"have at most {_megapixels(max_pixels)}."
        ) from exc
    except (OSError, SyntaxError) as exc:
        raise MediaError(f"{name} is not an image this app can read: {exc}") from exc
    if image.width * image.height > max_pixels:
        raise TooManyPixels(
            f"{name} is {image.width} × {image.height} pixels "
            f"({_megapixels(image.width * image.height)}): an image may have at most "
            f"{_megapixels(max_pixels)}."
        )
    return image


def _megapixels(pixels):
    return f"{pixels / 1e6:.3g} megapixels"


def fit_image(source, max_bytes, max_pixels, name="The file"):
    """The image as bytes and MIME type within the limits; `source` itself (bytes, or a
    binary file, which is read as it decodes, never whole) when already within.

    Too many pixels: MediaError, before anything decodes. Too wide or too tall:
    centre-cropped to the limit. Too small or too large: scaled. Too heavy: re-encoded as
    JPEG, then scaled down, until it fits.
    """
    file = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    image = open_image(file, max_pixels, name)
    try:
        image.load()
    except (OSError, SyntaxError) as exc:
        raise MediaError(f"{name} is not an image this app can read: {exc}") from exc
    finally:
        file.seek(0)
    if _within(image) and size <= max_bytes and image.format in FORMATS:
        return source, FORMATS[image.format]
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
