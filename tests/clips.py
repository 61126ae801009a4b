"""Synthetic MP4 clips for media tests, with frames that can be identified after decoding."""

import atexit
import functools
import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

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


def read_counter(img: Image.Image | av.VideoFrame) -> int:
    """The frame number make_clip drew into `img`: a decoded frame, as an image or as the
    av.VideoFrame itself (an 8-bit YUV one read from its luma plane, with no conversion)."""
    if isinstance(img, av.VideoFrame) and img.format.name not in ("yuv420p", "yuvj420p"):
        img = img.to_image()
    if isinstance(img, av.VideoFrame):
        plane = img.planes[0]
        gray = np.frombuffer(plane, np.uint8).reshape(img.height, plane.line_size)
        # Half way from black to white: in limited ("TV") range, as H.264 usually is, 16-235.
        middle = 128 if img.color_range == 2 else 16 + 128 * 219 / 255
        size = img.width, img.height
    else:
        gray, middle, size = np.asarray(img.convert("L")), 128, img.size
    index = 0
    for bit, (x0, y0, x1, y1) in enumerate(_counter_boxes(*size)):
        # Sample the inside of each square so edge ringing does not matter.
        if gray[y0 + 8 : y1 - 7, x0 + 8 : x1 - 7].mean() > middle:
            index |= 1 << bit
    return index


class Pictures(Sequence):
    """The decoded video frames of a clip, each made an RGB image only when it is looked
    at: the conversion costs more than decoding, and most tests read every frame's counter
    (straight from its luma, see counters) but compare only a few frames' pixels."""

    def __init__(self, frames: list[av.VideoFrame]):
        self._frames = frames
        self._images: dict[int, Image.Image] = {}

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]  # negative indices; IndexError past the end
        if index not in self._images:
            self._images[index] = self._frames[index].to_image()
        return self._images[index]

    def counters(self) -> list[int]:
        """The frame number make_clip drew into each frame, in order."""
        return [read_counter(frame) for frame in self._frames]


def read_sync_mark(samples) -> int:
    """The frame number modulo 4 that a sync-marked tone was playing under, from samples
    from the middle of one frame's time (its edges blur in AAC)."""
    rms = math.sqrt(np.mean(np.square(np.asarray(samples, dtype=np.float64))))
    return round(rms * math.sqrt(2) / SYNC_STEP) - 1


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference of two same-sized RGB images (0..255)."""
    width, height = min(a.width, b.width), min(a.height, b.height)  # as ImageChops does
    a, b = (np.asarray(image.convert("RGB"), np.int16)[:height, :width] for image in (a, b))
    return float(np.abs(a - b).mean())


def make_clip(path: Path, **settings) -> Path:
    """Write an MP4 of make_clip's clip with these `settings` (see _write_clip) to `path`.

    Each is encoded once a process and copied after that: modules ask for the same
    clips (a provider's red, green and blue, say), and encoding is most of their cost.
    """
    key = tuple(sorted(settings.items()))
    if key not in _made:
        made = _cache() / f"{len(_made)}.mp4"
        _write_clip(made, **settings)
        _made[key] = made
    shutil.copyfile(_made[key], path)
    return path


_made: dict[tuple, Path] = {}


@functools.cache
def _cache() -> Path:
    folder = tempfile.mkdtemp(prefix="storyboard-clips-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


def _write_clip(
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

    n = np.arange(start, start + samples)
    level = volume if marks_fps is None else SYNC_STEP * (1 + n * marks_fps // sample_rate % 4)
    wave = (level * np.sin(2 * math.pi * TONE_HZ * n / sample_rate)).astype(np.float32)
    for plane in frame.planes:
        plane.update(wave.tobytes())
    return frame
