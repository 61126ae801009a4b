"""Telling an uploaded reference apart: an image, a video or audio, from its bytes."""

import av

from .errors import MediaError
from .images import TooManyPixels, open_image

# FFmpeg's image demuxers would read a still as a one-frame "video"; Pillow answers first.
IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"}


def kind_of(file, max_pixels, name="the file"):
    """ "image", "video" or "audio" for an open binary file; MediaError for anything else,
    and for an image of more than `max_pixels` (nothing is decoded to tell).

    A video needs a moving picture track; a file with only sound (cover art aside, as
    MP3s often carry) is audio. The file is rewound afterwards.
    """
    try:
        with open_image(file, max_pixels, name) as image:
            if image.format in IMAGE_FORMATS:
                return "image"
    except TooManyPixels:
        raise
    except MediaError:
        pass  # not a picture: perhaps a video or sound
    finally:
        file.seek(0)
    try:
        with av.open(file, metadata_errors="replace") as container:
            moving = [
                stream
                for stream in container.streams.video
                if not stream.disposition & av.stream.Disposition.attached_pic
            ]
            if moving:
                return "video"
            if container.streams.audio:
                return "audio"
    except av.FFmpegError:
        pass
    finally:
        file.seek(0)
    raise MediaError(f"{name} is not an image, a video or an audio file this app can read.")
