"""What concat needs to know about each input before joining them."""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.stream import VideoStream

from .reading import open_video, video_timing


@dataclass(frozen=True)
class Source:
    path: Path
    start: Fraction  # seconds; when the first frame is shown
    duration: Fraction  # seconds
    width: int
    height: int
    has_audio: bool
    colors: tuple[int, int, int]  # colorspace, primaries and transfer tags (FFmpeg enums)
    # Inputs whose keys are all equal can be joined by copying packets.
    copy_key: tuple


def inspect(path) -> Source:
    """Read what planning a join needs from the headers and first packet of `path`."""
    with open_video(path) as (container, video):
        timing = video_timing(container, video)
        audio = container.streams.audio[0] if container.streams.audio else None
        codec = video.codec_context
        copy_key = (
            codec.name,
            codec.width,
            codec.height,
            codec.format.name if codec.format else None,
            video.time_base,
            timing.rate,
            # SPS/PPS: a decoder configured by the first clip must be able to decode them all.
            bytes(codec.extradata or b""),
            _decode_delay(container, video),
            _audio_key(audio),
        )
        return Source(
            path=Path(path),
            start=timing.start,
            duration=timing.duration,
            width=codec.width,
            height=codec.height,
            has_audio=audio is not None,
            colors=(codec.colorspace, codec.color_primaries, codec.color_trc),
            copy_key=copy_key,
        )


def _decode_delay(container: InputContainer, video: VideoStream) -> int | None:
    """How long before the first frame is shown decoding starts, in stream ticks.

    B-frame reordering makes MP4 decode times start below zero. Clips with the same delay
    keep decode times rising across a seam once shifted by the running duration; a clip
    with a longer delay than the one before it would step back in time.
    """
    for packet in container.demux(video):
        if packet.dts is not None:
            return (video.start_time or 0) - packet.dts
    return None


def _audio_key(audio: AudioStream | None) -> tuple | None:
    if audio is None:
        return None
    codec = audio.codec_context
    return (
        codec.name,
        codec.sample_rate,
        codec.layout.name,
        codec.format.name if codec.format else None,
        audio.time_base,
        bytes(codec.extradata or b""),
    )
