"""What joining needs to know about each clip before it starts: headers and packet index."""

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from .index import ClipIndex, index_clip
from .reading import open_video, video_timing

SAMPLE_RATE = 48000  # of a join's sound track (AAC, stereo)


@dataclass(frozen=True)
class Source:
    path: Path
    start: Fraction  # seconds; when the first frame is shown
    duration: Fraction  # seconds
    rate: Fraction  # frames per second
    width: int
    height: int
    pix_fmt: str | None
    has_audio: bool
    # Where the sound starts and ends, in seconds from the first frame.
    audio_span: tuple[Fraction, Fraction] | None
    colors: tuple[int, int, int]  # colorspace, primaries and transfer tags (FFmpeg enums)
    color_range: int
    # Inputs whose keys are all equal can be joined by copying packets, sound included.
    copy_key: tuple
    # Inputs whose keys are all equal share one video track: their packets can be copied
    # and spliced with frames encoded to match (timestamps are rewritten, so timing details
    # that copy_key must compare don't matter here).
    splice_key: tuple
    index: ClipIndex
    # The clip's AAC frames as (sample, duration, data), sample 0 where its first frame is
    # shown, with the decoder's configuration: kept when its sound is what a join's track
    # carries (AAC-LC, 48 kHz, stereo), so it can be copied, or decoded without a reopen.
    aac: tuple[bytes, tuple] | None = field(default=None, compare=False, repr=False)

    @property
    def frames(self) -> int:
        return self.index.frames


def inspect(path) -> Source:
    """Read the headers of `path` and index its video packets."""
    with open_video(path) as (container, video):
        timing = video_timing(container, video)
        audio = container.streams.audio[0] if container.streams.audio else None
        codec = video.codec_context
        sound = [] if _carried(audio) else None
        index = index_clip(container, video, sound)
        extradata = bytes(codec.extradata or b"")
        pix_fmt = codec.format.name if codec.format else None
        copy_key = (
            codec.name,
            codec.width,
            codec.height,
            pix_fmt,
            video.time_base,
            timing.rate,
            # SPS/PPS: a decoder configured by the first clip must be able to decode them all.
            extradata,
            _decode_delay(video, index),
            _audio_key(audio),
        )
        splice_key = (codec.name, codec.width, codec.height, pix_fmt, extradata, index.rate)
        return Source(
            path=Path(path),
            start=timing.start,
            duration=timing.duration,
            # The packets' spacing, where even: headers average over gaps and rounding.
            rate=index.rate or timing.rate,
            width=codec.width,
            height=codec.height,
            pix_fmt=pix_fmt,
            has_audio=audio is not None,
            audio_span=_audio_span(audio, timing.start),
            colors=(codec.colorspace, codec.color_primaries, codec.color_trc),
            color_range=codec.color_range,
            copy_key=copy_key,
            splice_key=splice_key,
            index=index,
            aac=_frames(audio, sound, timing.start),
        )


def _decode_delay(video: VideoStream, index: ClipIndex) -> int | None:
    """How long before the first frame is shown decoding starts, in stream ticks.

    B-frame reordering makes MP4 decode times start below zero. Clips with the same delay
    keep decode times rising across a seam once shifted by the running duration; a clip
    with a longer delay than the one before it would step back in time.
    """
    if index.first_dts is None:
        return None
    return (video.start_time or 0) - index.first_dts


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


def _carried(audio: AudioStream | None) -> bool:
    """Whether the sound is as a join's own track is, so its frames can be copied."""
    if audio is None:
        return False
    codec = audio.codec_context
    return (codec.name, codec.profile, codec.sample_rate, codec.layout.name) == (
        "aac",
        "LC",
        SAMPLE_RATE,
        "stereo",
    ) and audio.time_base == Fraction(1, SAMPLE_RATE)


def _frames(audio, sound, video_start: Fraction) -> tuple[bytes, tuple] | None:
    if sound is None:
        return None
    start = round(video_start * SAMPLE_RATE)
    frames = tuple((pts - start, duration, data) for pts, duration, data in sound)
    return bytes(audio.codec_context.extradata or b""), frames


def _audio_span(audio: AudioStream | None, video_start: Fraction) -> tuple | None:
    if audio is None:
        return None
    start = (audio.start_time or 0) * audio.time_base
    # An unknown length is taken as long enough for anything a piece could ask.
    end = start + audio.duration * audio.time_base if audio.duration else Fraction(10**9)
    return start - video_start, end - video_start
