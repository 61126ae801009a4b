"""Joining clips by decoding them and encoding one uniform H.264/AAC stream."""

from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import accumulate

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorRange

from .reading import no_frames, open_video
from .sources import Source
from .writing import AtomicMp4

FPS = 24
SAMPLE_RATE = 48000
# veryfast at CRF 19 looks the same as the default preset on generated footage for a
# fraction of the CPU, which matters on the small servers exports run on.
X264_OPTIONS = {"preset": "veryfast", "crf": "19"}
# Limited-range black in each plane of yuv420p.
_BLACK = (b"\x10", b"\x80", b"\x80")


def reencode(sources: Sequence[Source], target: AtomicMp4, report: Callable[[float], None]) -> None:
    """Encode `sources` one after another into `target` at FPS and the first clip's size.

    Frames are letterboxed to fit; there is an AAC track if any clip has sound, silent
    during the clips without.
    """
    width, height = _even(sources[0].width), _even(sources[0].height)
    video_out = target.container.add_stream("libx264", rate=FPS, options=dict(X264_OPTIONS))
    video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
    # Pixels are brought to limited range but not converted between colour matrices, so the
    # result is tagged as the first clip is; generated clips all share one.
    codec = video_out.codec_context
    codec.colorspace, codec.color_primaries, codec.color_trc = sources[0].colors
    codec.color_range = ColorRange.MPEG
    soundtrack = _Soundtrack(target) if any(s.has_audio for s in sources) else None

    # Rounding where each clip starts, rather than each clip's length, keeps the total within
    # half a frame of the summed durations however the clips' lengths fall between frames.
    starts = [round(t * FPS) for t in accumulate((s.duration for s in sources), initial=0)]
    total = starts[-1]
    for source, first, stop in zip(sources, starts, starts[1:], strict=False):
        with open_video(source.path) as (container, video):
            audio = container.streams.audio[0] if soundtrack and source.has_audio else None
            if soundtrack:
                soundtrack.begin_clip(start=source.start, samples=_samples(stop) - _samples(first))
            slot = first  # the next output frame to fill
            shown = None  # the latest decoded frame at or before the slot's time
            for frame in container.decode(*[s for s in (video, audio) if s]):
                if isinstance(frame, av.AudioFrame):
                    soundtrack.add(frame)
                    continue
                time = _time(frame) - source.start
                while shown is not None and slot < stop and Fraction(slot - first, FPS) < time:
                    _emit(target, video_out, shown, slot)
                    slot += 1
                    report(slot / total)
                shown = frame
            if shown is None:
                raise no_frames(source.path)
            # Hold the last frame until the clip's full duration is covered.
            while slot < stop:
                _emit(target, video_out, shown, slot)
                slot += 1
                report(slot / total)
            if soundtrack:
                soundtrack.end_clip()
    target.encode(video_out)
    if soundtrack:
        soundtrack.finish()


def _emit(target: AtomicMp4, stream, frame: av.VideoFrame, index: int) -> None:
    out = _fit(frame, stream.width, stream.height)
    out.pts = index
    out.time_base = Fraction(1, FPS)
    # Decoded frames carry their source picture type, which libx264 would obey.
    out.pict_type = PictureType.NONE
    target.encode(stream, out)


def _fit(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """`frame` as yuv420p at width x height, scaled to fit and letter/pillar-boxed."""
    scale = min(width / frame.width, height / frame.height)
    inner_width = min(width, _even(round(frame.width * scale)))
    inner_height = min(height, _even(round(frame.height * scale)))
    inner = frame.reformat(
        inner_width,
        inner_height,
        "yuv420p",
        interpolation="BICUBIC",
        src_color_range=frame.color_range,
        dst_color_range=ColorRange.MPEG,
    )
    if (inner_width, inner_height) == (width, height):
        return inner
    canvas = av.VideoFrame(width, height, "yuv420p")
    # Even offsets keep the half-size chroma planes aligned with the luma plane.
    left, top = (width - inner_width) // 4 * 2, (height - inner_height) // 4 * 2
    for index, (dst, src) in enumerate(zip(canvas.planes, inner.planes, strict=True)):
        dst.update(_BLACK[index] * dst.buffer_size)
        subsampling = 0 if index == 0 else 1  # chroma planes are half size both ways
        x, y = left >> subsampling, top >> subsampling
        out, row_bytes = memoryview(dst), src.width
        for row, start in enumerate(range(0, src.height * src.line_size, src.line_size)):
            at = (y + row) * dst.line_size + x
            out[at : at + row_bytes] = memoryview(src)[start : start + row_bytes]
    return canvas


class _Soundtrack:
    """The AAC track: each clip's sound trimmed or padded to exactly its clip's length.

    Clips without sound contribute silence, so picture and sound stay in step at every seam.
    """

    def __init__(self, target: AtomicMp4) -> None:
        self._target = target
        self.stream = target.container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        self._written = 0  # samples

    def begin_clip(self, start: Fraction, samples: int) -> None:
        """Start a clip whose picture begins at `start` seconds and lasts `samples`."""
        self._start = start
        self._room = samples
        self._skip = None  # samples to drop before the picture starts; set by the first frame
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)

    def add(self, frame: av.AudioFrame) -> None:
        if self._skip is None:
            lead = round((_time(frame) - self._start) * SAMPLE_RATE)
            self._skip = max(0, -lead)
            if lead > 0:  # sound starts after the picture
                self._write(_silence(lead))
        for out in self._resampler.resample(frame):
            self._write(out)

    def end_clip(self) -> None:
        for out in self._resampler.resample(None):
            self._write(out)
        if self._room:
            self._write(_silence(self._room))

    def finish(self) -> None:
        self._target.encode(self.stream)

    def _write(self, frame: av.AudioFrame) -> None:
        drop = min(self._skip or 0, frame.samples)
        keep = min(frame.samples - drop, self._room)
        if self._skip:
            self._skip -= drop
        if keep <= 0:
            return
        if keep < frame.samples:
            frame = _cut(frame, drop, keep)
        frame.pts = self._written
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._written += keep
        self._room -= keep
        self._target.encode(self.stream, frame)


def _cut(frame: av.AudioFrame, start: int, samples: int) -> av.AudioFrame:
    fifo = av.AudioFifo()
    frame.pts = None  # the FIFO would otherwise check it against its own count
    fifo.write(frame)
    if start:
        fifo.read(start)
    return fifo.read(samples)


def _silence(samples: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
    frame.sample_rate = SAMPLE_RATE
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    return frame


def _time(frame: av.VideoFrame | av.AudioFrame) -> Fraction:
    return frame.pts * frame.time_base


def _samples(frame_index: int) -> int:
    return round(Fraction(frame_index * SAMPLE_RATE, FPS))


def _even(n: int) -> int:
    return max(2, n - n % 2)
