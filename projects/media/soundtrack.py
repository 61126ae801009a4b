"""The sound of a join: each piece's sound cut where its picture is, to the sample.

Output frame k starts at sample round(k * SAMPLE_RATE / rate), so the sound of every piece
lines up with its picture however many seams there are. At a plain seam (a cut or a
continue without a transition) the two sides crossfade over DECLICK, using sound from
beyond the cut where a clip has it (the frame a seamless continue drops, or the rest of a
trimmed clip), so the joint never clicks. Pieces without sound contribute silence.
Written to an AAC encoder, or to soundcopy.SoundSink, which copies the clips' frames
between seams (each piece then moved by its shift of under half an AAC frame).

alongside() writes it in a thread of its own while the caller writes the picture: encoding
AAC costs more than copying a picture, and FFmpeg lets go of the GIL while it encodes.
"""

import math
import threading
from array import array
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import av
from av.filter import Graph

from .plan import Placed
from .reading import open_video, unreadable
from .soundcopy import SoundSink, plan_sound
from .soundcopy import read as read_aac
from .sources import SAMPLE_RATE
from .writing import AtomicMp4

DECLICK = Fraction(5, 1000)  # seconds
LOUDNESS = "I=-16:TP=-1.5:LRA=11"  # EBU R128 target for web video
_CHANNELS = 2
_PLENTY = 1 << 62  # silence can be read before and after a clip without sound for ever


@dataclass(frozen=True)
class _Seam:
    start: int  # output samples, the region where both sides sound
    end: int
    outgoing: tuple[float, ...] = ()  # gains over the region
    incoming: tuple[float, ...] = ()


@contextmanager
def alongside(
    target: AtomicMp4, placed: list[Placed], normalize: bool = False, copy: bool = False
) -> Iterator[None]:
    """Write the sound of `placed` (if any piece has sound) while the body writes the picture.

    With `copy` (and without `normalize`), the clips' AAC frames are copied wherever they
    can be and only the sound around seams is encoded (soundcopy.py).

    The sound's stream is added, and the file started, before the body runs. An error on
    either side is raised here once both have stopped; the sound stops between pieces
    when the picture failed.
    """
    if not any(piece.source.has_audio for piece in placed):
        yield
        return
    stream = target.container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
    target.start()  # both streams exist: from here on, packets of either may come first
    stop = threading.Event()

    def write() -> None:
        plan = None
        if copy and not normalize:
            plan = plan_sound(placed, _sample_of(placed[0].rate), round(DECLICK * SAMPLE_RATE))
        if plan is None:
            soundtrack = Soundtrack(placed, _Encoder(target, stream, normalize))
        else:
            soundtrack = Soundtrack(placed, SoundSink(target, stream, plan), plan.shifts)
        for n in range(len(placed)):
            if stop.is_set():
                return
            soundtrack.add(n)
        soundtrack.finish()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soundtrack")
    written = pool.submit(write)
    try:
        yield
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)
    written.result()


class Soundtrack:
    """The AAC track of a join, written piece by piece in step with the picture."""

    def __init__(self, placed: list[Placed], out, shifts: list[int] | None = None) -> None:
        """`out` takes the sound (an _Encoder, or soundcopy.SoundSink); `shifts` are the
        samples each piece's sound plays later than its picture (soundcopy.py)."""
        self._placed = placed
        self._shifts = {
            id(piece): shift for piece, shift in zip(placed, shifts or [], strict=False)
        }
        self._at = _sample_of(placed[0].rate)
        self._out = out
        self._seams = [_Seam(0, 0)] + [self._seam(n) for n in range(1, len(placed))]
        self._seams.append(_Seam(self._at(placed[-1].end), self._at(placed[-1].end)))
        self._pending: list[array] | None = None

    def add(self, n: int) -> None:
        """Write the sound of piece `n` (pieces are added in order)."""
        piece, before, after = self._placed[n], self._seams[n], self._seams[n + 1]
        begin = min(self._at(piece.start), before.start)
        end = max(self._at(piece.end), after.end)
        wanted = getattr(self._out, "wanted", None)  # a sink that keeps only some of it
        samples = [array("f", bytes(4 * (end - begin))) for _ in range(_CHANNELS)]
        for low, high in wanted(begin, end) if wanted else [(begin, end)]:
            for channel, part in zip(samples, self._read(piece, low, high - low), strict=True):
                channel[low - begin : high - begin] = part
        self._fade(piece, samples, begin)
        if n > 0:
            ours = [channel[before.start - begin : before.end - begin] for channel in samples]
            self._out.write(
                [
                    _mix(theirs, before.outgoing, mine, before.incoming)
                    for theirs, mine in zip(self._pending, ours, strict=True)
                ]
            )
        self._out.write([channel[before.end - begin : after.start - begin] for channel in samples])
        self._pending = [channel[after.start - begin : after.end - begin] for channel in samples]

    def finish(self) -> None:
        self._out.finish()

    def _seam(self, n: int) -> _Seam:
        before, after = self._placed[n - 1], self._placed[n]
        edge = self._at(after.start)
        if after.blend_in:
            end = self._at(after.start + after.blend_in)
            curve = [math.sin(math.pi / 2 * (s + 0.5) / (end - edge)) for s in range(end - edge)]
            return _Seam(edge, end, tuple(math.sqrt(1 - g * g) for g in curve), tuple(curve))
        if after.fade_in or before.fade_out:
            return _Seam(edge, edge)  # each side fades on its own; nothing overlaps
        # Each seam may use half of the room either side that no crossfade takes, so the
        # two seams of a short piece never overlap.
        room_before = (edge - self._at(before.start + before.blend_in)) // 2
        room_after = (self._at(after.end - after.blend_out) - edge) // 2
        lead = min(self._lead(after), room_before)
        tail = min(self._tail(before), room_after)
        length = round(DECLICK * SAMPLE_RATE)
        if lead >= length:
            start = edge - length
        elif tail >= length:
            start = edge
        elif lead + tail >= length:
            start = edge - lead
        else:
            # No sound beyond the cut on either side: fade each side out and in instead.
            half = min(length // 2, room_before, room_after)
            down = [0.5 + 0.5 * math.cos(math.pi * (s + 0.5) / half) for s in range(half)]
            return _Seam(
                edge - half,
                edge + half,
                tuple(down + [0.0] * half),
                tuple([0.0] * half + down[::-1]),
            )
        rise = [0.5 - 0.5 * math.cos(math.pi * (s + 0.5) / length) for s in range(length)]
        return _Seam(start, start + length, tuple(1 - g for g in rise), tuple(rise))

    def _source_sample(self, piece: Placed, output_sample: int) -> int:
        """The sample of the piece's clip (0 where its first frame starts) that plays at
        `output_sample`."""
        first = round(Fraction(piece.first) / piece.source.rate * SAMPLE_RATE)
        return first + output_sample - self._at(piece.start) - self._shifts.get(id(piece), 0)

    def _lead(self, piece: Placed) -> int:
        """Samples of sound the clip has before the piece's in point."""
        if not piece.source.has_audio:
            return _PLENTY
        start, _ = piece.source.audio_span
        return max(0, self._source_sample(piece, self._at(piece.start)) - _samples(start))

    def _tail(self, piece: Placed) -> int:
        """Samples of sound the clip has after the piece's out point."""
        if not piece.source.has_audio:
            return _PLENTY
        _, end = piece.source.audio_span
        return max(0, _samples(end) - self._source_sample(piece, self._at(piece.end)))

    def _fade(self, piece: Placed, samples: list[array], begin: int) -> None:
        """Apply the piece's dips: fading in over its first frames, out over its last."""
        if piece.fade_in:
            start = self._at(piece.start) - begin
            end = self._at(piece.start + piece.fade_in) - begin
            gains = [(s + 0.5) / (end - start) for s in range(end - start)]
            for channel in samples:
                channel[start:end] = _gain(channel[start:end], gains)
        if piece.fade_out:
            start = self._at(piece.end - piece.fade_out) - begin
            end = self._at(piece.end) - begin
            gains = [(end - start - s - 0.5) / (end - start) for s in range(end - start)]
            for channel in samples:
                channel[start:end] = _gain(channel[start:end], gains)

    def _read(self, piece: Placed, begin: int, count: int) -> list[array]:
        """`count` samples per channel of the piece's clip from output sample `begin` on,
        silent where the clip has no sound."""
        out = [array("f", bytes(4 * count)) for _ in range(_CHANNELS)]
        source = piece.source
        if not source.has_audio or count <= 0:
            return out
        start = self._source_sample(piece, begin)  # clip samples, 0 at its first frame
        if source.aac is not None:
            try:
                return read_aac(source.aac, start, count)
            except av.FFmpegError as exc:
                raise unreadable(source.path, exc) from exc
        with open_video(source.path) as (container, _):
            stream = container.streams.audio[0]
            if start > SAMPLE_RATE // 2:
                # A tenth of a second early: the decoder needs a frame before it is exact.
                seconds = source.start + Fraction(start, SAMPLE_RATE) - Fraction(1, 10)
                container.seek(int(seconds / stream.time_base), stream=stream)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            at = None  # clip sample of the next resampled sample
            for frame in container.decode(stream):
                if at is None:
                    at = round((frame.pts * frame.time_base - source.start) * SAMPLE_RATE)
                for chunk in resampler.resample(frame):
                    at = _place(out, chunk, at, start)
                if at >= start + count:
                    return out
            if at is not None:
                for chunk in resampler.resample(None):
                    at = _place(out, chunk, at, start)
        return out


def _place(out: list[array], chunk: av.AudioFrame, at: int, start: int) -> int:
    """Copy what of `chunk` (beginning at clip sample `at`) falls in `out` (which begins at
    clip sample `start`); return the sample after it."""
    low, high = max(at, start), min(at + chunk.samples, start + len(out[0]))
    if low < high:
        for channel, plane in zip(out, chunk.planes, strict=False):
            channel[low - start : high - start] = array(
                "f", bytes(plane)[(low - at) * 4 : (high - at) * 4]
            )
    return at + chunk.samples


def _sample_of(rate: Fraction):
    """The output sample where output frame `frame` starts, at `rate` frames a second."""

    def at(frame: int) -> int:
        return round(Fraction(frame) * SAMPLE_RATE / rate)

    return at


def _mix(a: array, a_gains, b: array, b_gains) -> array:
    return array("f", (x * g + y * h for x, g, y, h in zip(a, a_gains, b, b_gains, strict=True)))


def _gain(samples: array, gains) -> array:
    return array("f", (x * g for x, g in zip(samples, gains, strict=True)))


def _samples(seconds: Fraction) -> int:
    return round(seconds * SAMPLE_RATE)


class _Encoder:
    """AAC at SAMPLE_RATE, through FFmpeg's loudnorm filter when asked to normalise."""

    def __init__(self, target: AtomicMp4, stream, normalize: bool) -> None:
        self._target, self.stream = target, stream
        self._written = 0  # samples in
        self._encoded = 0  # samples out of the filter, when there is one
        self._graph = _loudnorm() if normalize else None

    def write(self, channels: list[array]) -> None:
        count = len(channels[0])
        if not count:
            return
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=count)
        frame.sample_rate = SAMPLE_RATE
        for plane, channel in zip(frame.planes, channels, strict=True):
            plane.update(channel.tobytes())
        frame.pts = self._written
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._written += count
        if self._graph:
            self._graph.push(frame)
            self._drain()
        else:
            self._target.encode(self.stream, frame)

    def finish(self) -> None:
        if self._graph:
            self._graph.push(None)
            self._drain()
        self._target.encode(self.stream)

    def _drain(self) -> None:
        while True:
            try:
                frame = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            # loudnorm pads its last 100 ms block: keep the length the sound came in with.
            keep = min(frame.samples, self._written - self._encoded)
            if keep < frame.samples:
                frame = _head(frame, keep)
            if keep > 0:
                frame.pts = self._encoded
                self._encoded += keep
                self._target.encode(self.stream, frame)


def _head(frame: av.AudioFrame, samples: int) -> av.AudioFrame:
    """The first `samples` of a planar float frame."""
    out = av.AudioFrame(format="fltp", layout=frame.layout.name, samples=max(samples, 1))
    out.sample_rate = frame.sample_rate
    for plane, source in zip(out.planes, frame.planes, strict=True):
        plane.update(bytes(source)[: plane.buffer_size])
    return out


def _loudnorm() -> Graph:
    """loudnorm in its one-pass (dynamic) mode; it works at 192 kHz, so resample back."""
    graph = Graph()
    chain = [
        graph.add_abuffer(
            format="fltp",
            sample_rate=SAMPLE_RATE,
            layout="stereo",
            time_base=Fraction(1, SAMPLE_RATE),
        ),
        graph.add("loudnorm", LOUDNESS),
        graph.add("aresample", str(SAMPLE_RATE)),
        graph.add("aformat", f"sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"),
        graph.add("abuffersink"),
    ]
    for a, b in zip(chain, chain[1:], strict=False):
        a.link_to(b)
    graph.configure()
    return graph
