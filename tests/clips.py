"""Synthetic MP4 clips for media tests, with frames that can be identified after decoding."""

import math
from array import array
from collections.abc import Sequence
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageDraw, ImageStat

COUNTER_BITS = 10  # enough to number the frames of a 15 s clip at 24 fps
TONE_HZ = 440
SYNC_STEP = 0.05  # sync-marked tones play frame n at SYNC_STEP * (1 + n % 4)


def expected_frame(
    index: int, *, width: int, height: int, color: tuple[int, int, int]
) -> Image.Image:
    """Frame `index` exactly as make_clip draws it, before compression."""
    img = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(img)
    # A wide block sweeping across makes neighbouring frames differ visibly.
    block = width // 6
    x = (index * width // 24) % (width - block)
    draw.rectangle([x, height // 8, x + block - 1, height // 8 + block - 1], fill=(250, 250, 250))
    # The frame number in big binary squares survives compression and can be read back.
    for bit, box in enumerate(_counter_boxes(width, height)):
        on = index >> bit & 1
        draw.rectangle(box, fill=(235, 235, 235) if on else (20, 20, 20))
    return img


def read_counter(img: Image.Image) -> int:
    """The frame number make_clip drew into `img` (a decoded frame)."""
    gray = img.convert("L")
    index = 0
    for bit, box in enumerate(_counter_boxes(*img.size)):
        x0, y0, x1, y1 = box
        # Sample the inside of each square so edge ringing does not matter.
        inner = (x0 + 8, y0 + 8, x1 - 7, y1 - 7)
        if ImageStat.Stat(gray.crop(inner)).mean[0] > 128:
            index |= 1 << bit
    return index


def read_sync_mark(samples) -> int:
    """The frame number modulo 4 that a sync-marked tone was playing under, from samples
    from the middle of one frame's time (its edges blur in AAC)."""
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return round(rms * math.sqrt(2) / SYNC_STEP) - 1


class Pictures(Sequence):
    """A clip's decoded frames (av.VideoFrame), each made an image only when a test looks
    at it: every frame is decoded and counted, but tests compare only a few of them, and
    converting each costs more than decoding it."""

    def __init__(self, frames):
        self._frames = frames

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, index):
        return self._frames[index].to_image()


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference of two same-sized RGB images (0..255)."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def make_clip(
    path: Path,
    *,
    width: int = 864,
    height: int = 496,
    seconds: float = 4,
    fps: int = 24,
    audio: bool = False,
    sample_rate: int = 48000,
    color: tuple[int, int, int] = (40, 90, 160),
    codec: str = "libx264",
    keyframe_interval: int | None = None,
    bframes: bool = False,
    x264: str | None = None,
    volume: float = 0.2,
    sync_marks: bool = False,
    preset: str | None = None,
) -> Path:
    """Write an MP4 of `seconds` at `fps` whose frames are expected_frame(0..n-1).

    Encoder settings are the codec's defaults unless `keyframe_interval` asks for more
    keyframes than x264's default of one per 250 frames. x264 decides against B-frames
    for these pictures; `bframes` makes it use three between P-frames, in a pyramid.
    `x264` adds x264 parameters ("key=value:key=value"), to make clips the way other
    encoders' settings would; `preset`, an x264 preset instead of its default (medium),
    for tests that need no more than a clip x264 made.

    With `audio`, the sound is a TONE_HZ tone at `volume`; with `sync_marks` its level
    steps with the frame it plays under (see read_sync_mark).
    """
    with av.open(str(path), "w") as out:
        params = ["b-adapt=0:bframes=3:b-pyramid=normal"] if bframes else []
        params += [x264] if x264 else []
        options = {"x264-params": ":".join(params)} if params else {}
        if preset:
            options["preset"] = preset
        video = out.add_stream(codec, rate=fps, options=options)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if keyframe_interval:
            video.codec_context.gop_size = keyframe_interval
        sound = out.add_stream("aac", rate=sample_rate, layout="stereo") if audio else None

        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_image(
                expected_frame(index, width=width, height=height, color=color)
            )
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode())

        if sound:
            total = round(seconds * sample_rate)
            marks = fps if sync_marks else None
            for start in range(0, total, 1024):
                chunk = _tone(start, min(1024, total - start), sample_rate, volume, marks)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    return path


def _counter_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    size = width // (COUNTER_BITS + 6)
    top = height - size - height // 16
    return [
        (size * (bit + 1), top, size * (bit + 2) - 1, top + size - 1) for bit in range(COUNTER_BITS)
    ]


def _tone(
    start: int, samples: int, sample_rate: int, volume: float, marks_fps: int | None
) -> av.AudioFrame:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
    frame.sample_rate = sample_rate
    frame.pts = start

    def level(n: int) -> float:
        if marks_fps is None:
            return volume
        return SYNC_STEP * (1 + n * marks_fps // sample_rate % 4)

    wave = array(
        "f",
        (
            level(start + i) * math.sin(2 * math.pi * TONE_HZ * (start + i) / sample_rate)
            for i in range(samples)
        ),
    )
    for plane in frame.planes:
        plane.update(wave.tobytes())
    return frame
