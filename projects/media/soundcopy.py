"""Smart sound: the clips' AAC frames copied, the sound around each seam encoded anew.

AAC packs sound in frames of 1024 samples, one after another on a single grid per track,
so a clip's packets can be copied only where its frames fall on the output's grid. Each
piece's sound is therefore moved by less than half a frame (at most 512 samples, 10.7 ms
at 48 kHz, well inside what anyone can see or hear) to bring its frames onto the grid.
The move never adds up over seams, and every seam is still cut, and declicked, at its
picture's instant.

Around each seam, and wherever nothing can be copied (transitions, pieces without sound
or with sound in another format), the sound is made as Soundtrack makes it and encoded
in "sound bridges". Each bridge's encoder hears LEAD samples either side of its span, so
its first and last frames blend with the copied frames around them as the clips' own
would. Used by smart joins (not with loudness normalisation, which changes every sample).
"""

from array import array
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction

import av
from av.codec.context import CodecContext

from .plan import Placed
from .sources import SAMPLE_RATE
from .writing import AtomicMp4

FRAME = 1024  # samples in an AAC frame
LEAD = 2 * FRAME  # samples a bridge's encoder hears before and after its span
_LAYOUT = "stereo"


@dataclass
class _Copy:
    """Packets of one clip copied one after another from output sample `start`."""

    start: int
    packets: list[bytes]

    @property
    def end(self) -> int:
        return self.start + FRAME * len(self.packets)


@dataclass
class _Bridge:
    """Output samples start..end encoded anew."""

    start: int
    end: int


@dataclass
class SoundPlan:
    shifts: list[int]  # samples each piece's sound is moved by (later when positive)
    segments: list  # _Copy and _Bridge, in order, covering 0..total
    total: int  # samples of sound in the output

    @property
    def windows(self) -> list[tuple[int, int]]:
        """The output samples the bridges' encoders hear."""
        return [
            (max(0, s.start - LEAD), min(self.total, s.end + LEAD))
            for s in self.segments
            if isinstance(s, _Bridge)
        ]


def plan_sound(placed: list[Placed], at, seam_room: int) -> SoundPlan | None:
    """How to copy the pieces' sound, or None when nothing of it can be copied.

    `at(frame)` is the output sample where output frame `frame` starts; `seam_room` is
    the samples a seam's declicking takes either side of it."""
    total = at(placed[-1].end)
    shifts, copies, config = [], [], None
    for piece in placed:
        found = piece.source.aac  # when a track of ours can carry its frames as they are
        copy = None
        if found is not None and (config is None or found[0] == config):
            config, packets = found
            copy = _copy(piece, packets, at, seam_room)
        shifts.append(0 if copy is None else copy[0])
        if copy is not None:
            copies.append(copy[1])
    if not copies:
        return None
    segments, at_sample = [], 0
    for copy in copies:
        if copy.start > at_sample:
            segments.append(_Bridge(at_sample, copy.start))
        segments.append(copy)
        at_sample = copy.end
    segments.append(_Bridge(at_sample, total))
    return SoundPlan(shifts, segments, total)


def read(aac: tuple[bytes, tuple], start: int, count: int) -> list[array]:
    """`count` samples per channel of a clip's sound from its sample `start` on, decoded
    from the frames inspect() kept (silent where it has none)."""
    out = [array("f", bytes(4 * count)) for _ in range(2)]
    config, frames = aac
    # Each frame decodes to its samples mixed with the end of the one before (the MDCT
    # overlap): decoding starts a frame early, and that frame's samples are thrown away.
    first = max(0, bisect_right([sample for sample, _, _ in frames], start) - 2)
    decoder = CodecContext.create("aac", "r")
    decoder.extradata = config
    for n, (sample, _, data) in enumerate(frames[first:]):
        if sample >= start + count:
            break
        packet = av.Packet(data)
        packet.pts, packet.time_base = sample, Fraction(1, SAMPLE_RATE)
        for frame in decoder.decode(packet):
            if n == 0:
                continue
            low, high = max(sample, start), min(sample + frame.samples, start + count)
            if low < high:
                for channel, plane in zip(out, frame.planes, strict=False):
                    channel[low - start : high - start] = array(
                        "f", bytes(plane)[(low - sample) * 4 : (high - sample) * 4]
                    )
    return out


def _copy(piece: Placed, packets, at, seam_room: int) -> tuple[int, _Copy] | None:
    """The piece's shift and the run of its packets copied, None if no frame fits."""
    first = round(Fraction(piece.first) / piece.source.rate * SAMPLE_RATE)  # clip sample at start
    start = at(piece.start)
    whole = [(sample, data) for sample, duration, data in packets if duration == FRAME]
    if not whole:
        return None
    ideal = start + whole[0][0] - first  # where its first frame would start, unmoved
    shift = (-ideal + FRAME // 2) % FRAME - FRAME // 2
    # Only sound no transition or seam touches, with an encoder's hearing to spare.
    low = at(piece.start + piece.blend_in + piece.fade_in) + seam_room + LEAD
    high = at(piece.end - piece.blend_out - piece.fade_out) - seam_room - LEAD
    run, run_start, expected = [], None, None
    for sample, data in whole:
        output = start + sample - first + shift
        if output < low or output + FRAME > high:
            continue
        if (expected is not None and sample != expected) or output % FRAME:
            break  # a gap in the clip's sound, or frames off the grid after one: copy up to it
        run_start = output if run_start is None else run_start
        run.append(data)
        expected = sample + FRAME
    return (shift, _Copy(run_start, run)) if run else None


class SoundSink:
    """Soundtrack's output kept where bridges hear it, and written as copies and bridges
    as soon as each is whole."""

    def __init__(self, target: AtomicMp4, stream, plan: SoundPlan) -> None:
        self._target, self.stream, self._plan = target, stream, plan
        self._heard = {window: [array("f"), array("f")] for window in plan.windows}
        self._written = 0  # output samples received
        self._next = 0  # the next segment to write
        self._time_base = Fraction(1, SAMPLE_RATE)

    def wanted(self, begin: int, end: int) -> list[tuple[int, int]]:
        """The parts of output samples begin..end that bridges hear: the rest is copied,
        so Soundtrack need not read it."""
        return [
            (max(low, begin), min(high, end))
            for low, high in self._heard
            if max(low, begin) < min(high, end)
        ]

    def write(self, channels: list[array]) -> None:
        count = len(channels[0])
        begin, end = self._written, self._written + count
        for (low, high), kept in self._heard.items():
            a, b = max(low, begin), min(high, end)
            if a < b:
                for channel, into in zip(channels, kept, strict=False):
                    into.extend(channel[a - begin : b - begin])
        self._written = end
        self._flush()

    def finish(self) -> None:
        self._written = max(self._written, self._plan.total)
        self._flush()

    def _flush(self) -> None:
        segments = self._plan.segments
        while self._next < len(segments):
            segment = segments[self._next]
            if isinstance(segment, _Copy):
                for n, data in enumerate(segment.packets):
                    self._mux(data, segment.start + n * FRAME, FRAME)
            elif self._written >= min(segment.end + LEAD, self._plan.total):
                self._bridge(segment)
            else:
                return
            self._next += 1

    def _bridge(self, bridge: _Bridge) -> None:
        window = (max(0, bridge.start - LEAD), min(self._plan.total, bridge.end + LEAD))
        heard = self._heard.pop(window)
        length = window[1] - window[0]
        heard = [channel + array("f", bytes(4 * (length - len(channel)))) for channel in heard]
        encoder = CodecContext.create("aac", "w")
        encoder.sample_rate, encoder.layout, encoder.format = SAMPLE_RATE, _LAYOUT, "fltp"
        encoder.bit_rate = self.stream.codec_context.bit_rate
        encoder.time_base = self._time_base
        encoder.open()
        frame = av.AudioFrame(format="fltp", layout=_LAYOUT, samples=length)
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, window[0], self._time_base
        for plane, channel in zip(frame.planes, heard, strict=True):
            plane.update(channel.tobytes())
        # The track's first frame is the encoder's priming, as an encoded track's is.
        low = -FRAME if bridge.start == 0 else bridge.start
        high = None if bridge.end == self._plan.total else bridge.end
        for packet in encoder.encode(frame) + encoder.encode(None):
            if low <= packet.pts and (high is None or packet.pts < high):
                self._mux(bytes(packet), packet.pts, packet.duration)

    def _mux(self, data: bytes, pts: int, duration: int) -> None:
        packet = av.Packet(data)
        packet.stream = self.stream
        packet.time_base = self._time_base
        packet.pts = packet.dts = pts
        packet.duration = duration
        self._target.mux(packet)
