"""Opening clips for reading, turning FFmpeg failures into MediaError."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from .errors import MediaError


@dataclass(frozen=True)
class VideoTiming:
    start: Fraction  # seconds; presentation time of the first frame
    duration: Fraction  # seconds
    frames: int
    rate: Fraction  # frames per second


@contextmanager
def open_video(path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open `path` and yield it with its first video stream.

    FFmpeg errors raised while the file is open (opening, demuxing, decoding) become a
    MediaError naming the file.
    """
    name = Path(path).name
    try:
        # Odd metadata encodings must not make an otherwise fine clip unreadable.
        with av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.video:
                raise MediaError(f"'{name}' has no video track. Use an MP4 video file.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            yield container, stream
    except av.FFmpegError as exc:
        raise unreadable(path, exc) from exc


def unreadable(path, exc: av.FFmpegError) -> MediaError:
    """The error for a clip FFmpeg failed on while reading it."""
    return MediaError(
        f"Can't read '{Path(path).name}' as a video ({exc.strerror}). "
        "It may be damaged or not a video file; regenerate or re-upload it."
    )


def video_timing(container: InputContainer, stream: VideoStream) -> VideoTiming:
    """Timing of the video stream, from the container's headers (nothing is decoded)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if stream.duration:
        duration = stream.duration * stream.time_base
    elif container.duration:
        # Some containers (e.g. Matroska) only record the overall duration.
        duration = Fraction(container.duration, av.time_base)
    else:
        raise MediaError(f"'{Path(container.name).name}' does not say how long it is.")
    start = stream.start_time * stream.time_base if stream.start_time is not None else Fraction(0)
    frames = stream.frames or round(duration * rate)
    return VideoTiming(start=start, duration=duration, frames=frames, rate=Fraction(rate))


def no_frames(path) -> MediaError:
    return MediaError(f"'{Path(path).name}' contains no video frames that can be decoded.")
