"""Describing a clip: duration, size, frame rate and tracks."""

from dataclasses import dataclass

from .reading import open_video, video_timing


@dataclass(frozen=True)
class ClipInfo:
    duration: float  # seconds, of the video track
    width: int
    height: int
    fps: float
    frames: int
    video_codec: str  # FFmpeg codec name, e.g. "h264"
    has_audio: bool


def probe(path) -> ClipInfo:
    """Describe the clip at `path` from its headers, without decoding it."""
    with open_video(path) as (container, stream):
        timing = video_timing(container, stream)
        codec = stream.codec_context
        return ClipInfo(
            duration=float(timing.duration),
            width=codec.width,
            height=codec.height,
            fps=float(timing.rate),
            frames=timing.frames,
            video_codec=codec.name,
            has_audio=bool(container.streams.audio),
        )
