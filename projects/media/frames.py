"""Still images from clips: first, last and any frame for chaining, JPEG posters."""

import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageStat

from .errors import MediaError
from .index import index_clip
from .reading import VideoTiming, no_frames, open_video, video_timing

# How far before the end last_frame seeks: generous enough that the keyframe found
# still precedes the final frame even when a clip's duration is slightly overstated.
_TAIL = Fraction(3, 2)


def first_frame(path) -> Image.Image:
    """The first decoded frame of the clip, as an RGB image."""
    with open_video(path) as (container, stream):
        for frame in container.decode(stream):
            return _image(frame)
    raise no_frames(path)


def last_frame(path) -> Image.Image:
    """The last decoded frame of the clip, as an RGB image.

    Decodes only the tail of the clip: from the keyframe before the last ~1.5 s.
    """
    with closing(_frames_from(path, lambda t: t.start + t.duration - _TAIL)) as frames:
        last = deque(frames, maxlen=1)
    if not last:
        raise no_frames(path)
    return _image(last[0])


def frame_at(path, index: int) -> Image.Image:
    """Frame `index` (0-based, in display order; negative counts from the end) of the clip,
    as an RGB image: exactly the frame a piece ending at `index` ends on.

    Seeks to the keyframe before it and decodes forward from there.
    """
    with open_video(path) as (container, stream):
        clip = index_clip(container, stream)
        if not -clip.frames <= index < clip.frames:
            raise MediaError(
                f"'{Path(path).name}' has {clip.frames} frames; there is no frame {index}."
            )
        wanted = clip.pts[index]
        with suppress(av.FFmpegError):
            container.seek(wanted, stream=stream)
        for frame in container.decode(stream):
            if frame.pts == wanted:
                return _image(frame)
    # The seek went wrong somehow: find it the slow way.
    with open_video(path) as (container, stream):
        for frame in container.decode(stream):
            if frame.pts == wanted:
                return _image(frame)
    raise no_frames(path)


def make_poster(video_path, out_path, max_width: int = 640) -> None:
    """Write a JPEG poster of the frame at a third of the clip, at most `max_width` wide.

    A third in is usually past a fade-in and shows what the clip is about.
    """
    with closing(_frames_from(video_path, lambda t: t.start + t.duration / 3)) as frames:
        frame = next(frames, None)
    if frame is None:
        raise no_frames(video_path)
    width = min(max_width, frame.width)
    height = max(1, round(frame.height * width / frame.width))
    image = _image(frame, width=width, height=height, interpolation="AREA")

    out_path = Path(out_path)
    # Written beside and renamed so a page never serves a half-written poster.
    part = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        image.save(part, format="JPEG", quality=85, optimize=True)
        os.replace(part, out_path)
    finally:
        part.unlink(missing_ok=True)


def save_png(image: Image.Image, path_or_file) -> None:
    """Save `image` as PNG to a path or a binary file object."""
    image.save(path_or_file, format="PNG")


def _frames_from(path, position: Callable[[VideoTiming], Fraction]) -> Iterator[av.VideoFrame]:
    """Frames shown at or after `position(timing)` seconds, through to the end of the clip.

    Seeks to the keyframe before the position and decodes forward. If nothing is found
    there (headers overstating the duration, a seek landing past the last frame), yields
    every frame of the clip instead, so callers always get something from a decodable clip.
    """
    found = False
    with open_video(path) as (container, stream):
        target = position(video_timing(container, stream))
        # A clip that can't seek is decoded from the start; frames before the target are
        # skipped below either way.
        with suppress(av.FFmpegError):
            container.seek(round(target / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            if frame.pts is None or frame.pts * frame.time_base >= target:
                found = True
                yield frame
    if not found:
        with open_video(path) as (container, stream):
            yield from container.decode(stream)


def _image(frame: av.VideoFrame, **reformat) -> Image.Image:
    # PyAV assumes limited range unless told; full-range clips would come out washed out.
    return frame.to_image(src_color_range=frame.color_range, **reformat)


def difference(a: Image.Image, b: Image.Image, width: int = 96) -> float:
    """How far apart two pictures are, 0 (the same) to 100 (black against white): the mean
    absolute difference of their grey levels, compared at `width` pixels wide so that
    sizes, JPEG noise and scaling barely count."""
    height = max(1, round(a.height * width / a.width))
    small = [im.convert("L").resize((width, height), Image.Resampling.BOX) for im in (a, b)]
    mean = ImageStat.Stat(ImageChops.difference(*small)).mean[0]
    return round(100 * mean / 255, 2)
