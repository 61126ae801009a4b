"""Where a clip can be cut without decoding: its frames in display order and its closed GOPs.

Built from the packets alone (a demux, no decoding), so it is cheap enough to make for
every clip of a join.
"""

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from av.container import InputContainer
from av.video.stream import VideoStream

from .avc import AvcConfig, is_idr


@dataclass(frozen=True)
class Gop:
    """Packets that start with an IDR picture and are shown as one run of frames.

    In such a group the first packet's decode position equals its first frame's display
    index, and nothing outside it is needed to decode it or shown within it, so it can be
    copied whole, or dropped, on its own.
    """

    start: int  # display index of its first frame, and decode index of its first packet
    count: int
    # Numbers k for which the first k packets, in decode order, hold exactly the group's
    # first k frames: a run that ends there can be copied without the packets after it.
    # Without B-frames that is every k; with them, only the points between mini-GOPs.
    closed: frozenset[int]
    delay: int  # most packets any frame is decoded ahead of being shown

    @property
    def end(self) -> int:  # display index after its last frame
        return self.start + self.count


@dataclass(frozen=True)
class ClipIndex:
    pts: tuple[int, ...]  # presentation time of each frame in display order, in stream ticks
    time_base: Fraction
    first_dts: int | None
    # The clip's closed GOPs in order; None when it can't be cut between GOPs (not H.264,
    # no IDR at the start, packets the container asks to discard, repeated timestamps).
    gops: tuple[Gop, ...] | None
    tick: int | None  # ticks between frames; None unless every frame lasts the same
    _ranks: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def rate(self) -> Fraction | None:
        """Frames per second, when they are evenly spaced."""
        return 1 / (self.tick * self.time_base) if self.tick else None

    def rank(self, pts: int | None) -> int | None:
        """Display index of the frame presented at `pts`."""
        if not self._ranks:
            self._ranks.update((t, i) for i, t in enumerate(self.pts))
        return self._ranks.get(pts)


def index_clip(container: InputContainer, stream: VideoStream, sound=None) -> ClipIndex:
    """Demux every video packet of an open clip (from its start) and index them.

    `sound`, a list, receives the packets of the clip's first audio stream on the way, as
    (pts, duration, data), so that a caller who wants them need not read the file twice.
    """
    codec = stream.codec_context
    extradata = bytes(codec.extradata or b"")
    splittable = codec.name == "h264" and extradata[:1] == b"\x01"
    length_size = AvcConfig.parse(extradata).length_size if splittable else 0
    entries: list[tuple[int, bool]] = []  # (pts, starts with an IDR) in decode order
    first_dts = None
    audio = container.streams.audio[0] if sound is not None and container.streams.audio else None
    for packet in container.demux(*(s for s in (stream, audio) if s is not None)):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        if packet.stream is audio:
            if packet.pts is not None and packet.size:
                sound.append((packet.pts, packet.duration or 0, bytes(packet)))
            continue
        if first_dts is None:
            first_dts = packet.dts
        if packet.is_discard or packet.pts is None:
            # Frames the decoder won't show (an edit list cuts them), or that can't be placed.
            splittable = False
            continue
        # Only sync samples can be IDR pictures, so only they need their NAL units read.
        idr = splittable and packet.is_keyframe and is_idr(bytes(packet), length_size)
        entries.append((packet.pts, idr))

    pts = tuple(sorted(t for t, _ in entries))
    if len(set(pts)) != len(pts):
        splittable = False
    gaps = Counter(b - a for a, b in zip(pts, pts[1:], strict=False))
    tick = None
    if len(gaps) == 1 or not gaps:
        tick = next(iter(gaps), None) or (
            round(1 / (stream.average_rate * stream.time_base)) if stream.average_rate else None
        )
    gops = _gops(entries, pts) if splittable and entries and entries[0][1] else None
    return ClipIndex(pts=pts, time_base=stream.time_base, first_dts=first_dts, gops=gops, tick=tick)


def _gops(entries: list[tuple[int, bool]], pts: tuple[int, ...]) -> tuple[Gop, ...]:
    ranks = {t: i for i, t in enumerate(pts)}
    order = [ranks[t] for t, _ in entries]  # display index of each packet, in decode order
    # An IDR starts a new group only if every packet before it is shown before it.
    starts, shown = [], -1
    for at, ((_, idr), rank) in enumerate(zip(entries, order, strict=True)):
        if idr and shown == at - 1:
            starts.append(at)
        shown = max(shown, rank)
    gops = []
    for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
        closed, shown, delay = set(), -1, 0
        for k, rank in enumerate(order[start:end], start=1):
            shown = max(shown, rank)
            if shown == start + k - 1:
                closed.add(k)
            delay = max(delay, start + k - 1 - rank)
        gops.append(Gop(start=start, count=end - start, closed=frozenset(closed), delay=delay))
    return tuple(gops)
