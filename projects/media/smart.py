"""Smart rendering: copy the clips' packets, encode only the frames that must change.

A piece's closed GOPs (see index.Gop) that lie wholly inside it and outside any
transition are copied; so is the start of a GOP up to a point where its decode order
closes, when a piece ends inside it. The other frames it keeps (a start that isn't an
IDR picture, the frame after a seamless continue, the rest of an out point inside a GOP,
transitions) are decoded and encoded again in "bridges": runs of consecutive output frames,
each started with an IDR picture by a fresh libx264 encoder and flushed before the next
copied packet.

A bridge that shows one clip's frames alone (no transition) is its own session, looked
up first in a store of prepared bridges (bridges.py) and put there once encoded, so the
next join, or the worker preparing a take when it arrives, leaves it to be copied too.

Bridges are encoded to match the clips (profile, level, size, colour tags, B-frames or
not) but with their own SPS/PPS id, and the track's avcC record carries both the clips'
parameter sets and the bridges', so every packet finds its own. Decode timestamps are
rewritten for the whole track as one even sequence, `delay` frames behind the first frame,
so the reordering of copied and encoded GOPs can differ.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
from av.codec.context import CodecContext, Flags
from av.video.frame import PictureType
from av.video.reformatter import ColorRange

from .avc import X264_PROFILES, AvcConfig, annexb_units, sps_id, to_length_prefixed
from .bridges import Bridges, Encoded, bridge_key, pack, unpack
from .errors import MediaError
from .index import Gop
from .pictures import Transitions
from .plan import Placed
from .reading import open_video, unreadable
from .reencode import X264_OPTIONS
from .soundtrack import alongside
from .writing import AtomicMp4

# A bridge is named by what it was made from, so it must come out the same wherever and
# whenever it is encoded. x264 on its own is not: sliced threads (PyAV's default) and a
# threaded lookahead vary from run to run, frame threads make the bytes depend on the
# machine's cores, and macroblock-tree rate control (its AVX-512 code) now and then gives
# another answer for the same frames. One thread, no mb-tree: the same bytes every time,
# on every machine (x264's assembly matches its C code bit for bit).
BRIDGE_DETERMINISM = "threads=1:lookahead-threads=1:sliced-threads=0:sync-lookahead=0:mbtree=0"


@dataclass(frozen=True)
class Step:
    """What a piece takes from one GOP of its clip."""

    gop: Gop
    copy: int  # packets copied from the GOP's start
    encode: tuple[int, int] | None  # source frames (inclusive) decoded and encoded anew


def steps(piece: Placed) -> list[Step]:
    """The piece's GOPs, in order, and what is copied and encoded of each."""
    # Frames no transition touches; only they can be copied.
    plain_first = piece.first + piece.blend_in + piece.fade_in
    plain_last = piece.last - piece.blend_out - piece.fade_out
    out = []
    for gop in piece.source.index.gops:
        if gop.end <= piece.first or gop.start > piece.last:
            continue
        copy = 0
        if plain_first <= gop.start <= plain_last:
            room = min(gop.count, plain_last - gop.start + 1)
            copy = max((k for k in gop.closed if k <= room), default=0)
        first, last = max(piece.first, gop.start + copy), min(piece.last, gop.end - 1)
        out.append(Step(gop, copy, (first, last) if first <= last else None))
    return out


@dataclass(frozen=True)
class Splice:
    """How splice() will write a join: each piece's steps, and the bridges' format."""

    placed: list[Placed]
    steps: list[list[Step]]
    delay: int  # frames the track's decoding runs ahead of its display
    bridges: "_BridgeFormat | None"  # None when nothing is encoded

    @property
    def reencoded(self) -> int:
        """Output frames encoded rather than copied."""
        encoded = sum(
            step.encode[1] - step.encode[0] + 1
            for piece_steps in self.steps
            for step in piece_steps
            if step.encode
        )
        return encoded - sum(piece.blend_in for piece in self.placed)  # crossfades took two


def plan_splice(placed: list[Placed]) -> Splice | None:
    """How to splice the pieces, or None when they can't share one copied track."""
    sources = [piece.source for piece in placed]
    if len({source.splice_key for source in sources}) != 1:
        return None
    if any(source.index.gops is None or source.index.rate is None for source in sources):
        return None
    plan = [steps(piece) for piece in placed]
    copied = [step.gop for piece_steps in plan for step in piece_steps if step.copy]
    delay = max((gop.delay for gop in copied), default=0)
    if not any(step.encode for piece_steps in plan for step in piece_steps):
        return Splice(placed, plan, delay, None)
    # Bridges reorder as the clips do, judged by all their GOPs rather than the copied
    # ones, so a bridge prepared for a clip alone fits it in any join.
    reorder = max(gop.delay for source in sources for gop in source.index.gops)
    bridges = _BridgeFormat.for_source(sources[0], reorder)
    if bridges is None:
        return None
    return Splice(placed, plan, max(delay, bridges.delay), bridges)


def splice(
    plan: Splice,
    target: AtomicMp4,
    report: Callable[[float], None],
    normalize: bool = False,
    bridges: Bridges | None = None,
) -> int:
    """Write the pieces' picture (copied where possible) and sound to `target`; return how
    many of its encoded frames were taken from `bridges`, prepared before."""
    placed = plan.placed
    source = placed[0].source
    with open_video(source.path) as (container, video):
        stream = target.container.add_stream_from_template(video)
    if plan.bridges:
        stream.codec_context.extradata = plan.bridges.avcc
    track = _Track(target, stream, placed[0].rate, plan.delay)
    bridge = _Bridge(plan.bridges, track) if plan.bridges else None
    with alongside(target, placed, normalize, copy=True):
        prepared = _picture(plan, track, bridge, bridges, report)
    return prepared


def _picture(
    plan: Splice,
    track: "_Track",
    bridge: "_Bridge | None",
    bridges: Bridges | None,
    report: Callable[[float], None],
) -> int:
    placed = plan.placed
    source = placed[0].source
    transitions = Transitions(full_range=source.color_range == ColorRange.JPEG)
    total, prepared = placed[-1].end, 0
    for piece, step, packets, codec in _read(plan):
        index = piece.source.index
        if step.copy and bridge:
            bridge.close()
        for packet in packets[: step.copy]:
            track.write(packet, piece.start + index.rank(packet.pts) - piece.first)
        if step.encode and _alone(piece, *step.encode):
            bridge.close()
            run, stored = _run(plan.bridges, piece, codec, packets, step, bridges)
            track.write_run(run, piece.start + step.encode[0] - piece.first)
            prepared += _length(step) if stored else 0
        elif step.encode:
            first, last = step.encode
            for frame in _decode(piece, codec, packets):
                rank = index.rank(frame.pts)
                if rank is None or not first <= rank <= last:
                    continue
                output = piece.start + rank - piece.first
                picture = transitions.take(piece, output, frame)
                if picture is not None:
                    bridge.add(picture, output)
        report(min(track.frames, total) / total)
    if bridge:
        bridge.close()
    return prepared


def prepare(plan: Splice, bridges: Bridges) -> int:
    """Encode and put in `bridges` what splice(plan) would encode of each clip alone (not
    transitions); return the frames that took (0 when all were there already)."""
    encoded = 0
    for piece, step, packets, codec in _read(plan):
        if step.encode and _alone(piece, *step.encode):
            _, stored = _run(plan.bridges, piece, codec, packets, step, bridges)
            encoded += 0 if stored else _length(step)
    return encoded


def _read(plan: Splice) -> Iterator[tuple[Placed, Step, list[av.Packet], CodecContext]]:
    """Each piece's steps in order, with the packets of the step's GOP and the decoder of
    its clip; each clip is opened once per piece and read from its start."""
    for piece, piece_steps in zip(plan.placed, plan.steps, strict=True):
        with open_video(piece.source.path) as (container, video):
            groups = _groups(container, video)
            for step in piece_steps:
                yield piece, step, _take(groups, step.gop), video.codec_context


def _alone(piece: Placed, first: int, last: int) -> bool:
    """Whether source frames first..last of the piece show in no transition."""
    return (
        first >= piece.first + piece.blend_in + piece.fade_in
        and last <= piece.last - piece.blend_out - piece.fade_out
    )


def _length(step: Step) -> int:
    return step.encode[1] - step.encode[0] + 1


def _run(
    format: "_BridgeFormat",
    piece: Placed,
    codec: CodecContext,
    packets: list[av.Packet],
    step: Step,
    bridges: Bridges | None,
) -> tuple[list[Encoded], bool]:
    """The bridge showing the step's frames of the piece, and whether it came from
    `bridges` (a miss is encoded and put there)."""
    first, last = step.encode
    key = None
    if bridges is not None:
        data = (bytes(packet) for packet in packets)
        key = bridge_key(data, first - step.gop.start, last - step.gop.start, format.fingerprint)
        stored = bridges.get(key)
        if stored is not None:
            try:
                return unpack(stored), True
            except MediaError:  # damaged in the store: encoded again, and replaced
                pass
    ranks = piece.source.index.rank
    frames = [
        frame
        for frame in _decode(piece, codec, packets)
        if (rank := ranks(frame.pts)) is not None and first <= rank <= last
    ]
    if len(frames) != last - first + 1:
        raise MediaError("Some frames of a clip could not be decoded; it may be damaged.")
    run = format.encode_run(frames)
    if key is not None:
        bridges.put(key, pack(run))
    return run, False


def _groups(container, video) -> Iterator[tuple[int, av.Packet]]:
    """The clip's packets, numbered in decode order as the index counts them."""
    number = 0
    for packet in container.demux(video):
        if packet.dts is None or packet.pts is None or packet.is_discard:
            continue
        yield number, packet
        number += 1


def _take(groups: Iterator[tuple[int, av.Packet]], gop: Gop) -> list[av.Packet]:
    """The GOP's packets, skipping those before it."""
    packets = []
    for number, packet in groups:
        if number >= gop.start:
            packets.append(packet)
        if number == gop.end - 1:
            return packets
    raise MediaError("A clip ended before its index said it would; it may be damaged.")


def _decode(piece: Placed, codec: CodecContext, packets: list[av.Packet]) -> list[av.VideoFrame]:
    """Every frame of a closed GOP, in display order, leaving the decoder ready for the next."""
    frames = []
    try:
        for packet in packets:
            frames.extend(codec.decode(packet))
        frames.extend(codec.decode(None))
    except av.FFmpegError as exc:
        raise unreadable(piece.source.path, exc) from exc
    codec.flush_buffers()
    return frames


class _Track:
    """The video track: packets in decode order, timed in frames of the output."""

    def __init__(self, target: AtomicMp4, stream, rate: Fraction, delay: int) -> None:
        self._target, self._stream, self._delay = target, stream, delay
        self._time_base = 1 / rate
        stream.time_base = self._time_base
        self.frames = 0  # packets written so far: each is one frame

    def write(self, packet: av.Packet, output: int) -> None:
        """Write `packet`, the picture shown at output frame `output`."""
        dts = self.frames - self._delay
        if dts > output:  # splice's arithmetic went wrong: say so rather than write nonsense
            raise MediaError(f"Frame {output} would be decoded after it is shown.")
        packet.stream = self._stream
        packet.time_base = self._time_base
        packet.pts, packet.dts, packet.duration = output, dts, 1
        self.frames += 1
        self._target.mux(packet)

    def write_run(self, run: list[Encoded], start: int) -> None:
        """Write a bridge whose first frame is shown at output frame `start`."""
        for encoded in run:
            packet = av.Packet(encoded.data)
            packet.is_keyframe = encoded.keyframe
            self.write(packet, start + encoded.pts)


@dataclass(frozen=True)
class _BridgeFormat:
    """libx264 set up to encode bridges that decode within the clips' track."""

    options: dict
    width: int
    height: int
    pix_fmt: str
    rate: Fraction
    colors: tuple[int, int, int, int]  # colorspace, primaries, transfer, range
    length_size: int
    delay: int  # frames a bridge's decode runs ahead of its display
    avcc: bytes  # the clips' avcC record with the bridges' SPS/PPS added

    @classmethod
    def for_source(cls, source, delay: int) -> "_BridgeFormat | None":
        """The format matching `source`, or None when libx264 can't make one that fits."""
        config = AvcConfig.parse(source.splice_key[4])
        profile = _profile(config)
        free = sorted(set(range(32)) - config.ids_in_use())
        if profile is None or source.pix_fmt not in ("yuv420p", "yuvj420p") or not free:
            return None
        if config.length_size != 4:  # shorter prefixes can't hold a large encoded frame
            return None
        # Match the clips' reordering: B-frames with pyramids only where they have them.
        if profile == "baseline" or delay == 0:
            bframes, pyramid, bridge_delay = 0, "none", 0
        elif delay == 1:
            bframes, pyramid, bridge_delay = 2, "none", 1
        else:
            bframes, pyramid, bridge_delay = 3, "normal", 2
        options = {
            **X264_OPTIONS,
            "profile": profile,
            "level": str(config.level),
            "x264-params": f"sps-id={free[0]}:bframes={bframes}:b-pyramid={pyramid}:"
            + BRIDGE_DETERMINISM,
        }
        colors = (*source.colors, source.color_range)
        rate = source.index.rate
        try:
            encoder = _encoder(options, source, rate, colors)
        except av.FFmpegError:
            return None
        units = annexb_units(bytes(encoder.extradata or b""))
        sps = [unit for unit in units if unit and unit[0] & 0x1F == 7]
        pps = [unit for unit in units if unit and unit[0] & 0x1F == 8]
        if not sps or not pps or sps_id(sps[0]) != free[0]:
            return None
        return cls(
            options=options,
            width=source.width,
            height=source.height,
            pix_fmt=source.pix_fmt,
            rate=rate,
            colors=colors,
            length_size=config.length_size,
            delay=bridge_delay,
            avcc=config.with_parameter_sets(sps, pps).to_bytes(),
        )

    def encoder(self) -> CodecContext:
        return _encoder(self.options, self, self.rate, self.colors)

    @property
    def fingerprint(self) -> bytes:
        """What a bridge's bytes depend on besides its frames: two formats with the same
        fingerprint encode the same frames alike."""
        settings = (
            sorted(self.options.items()),
            self.width,
            self.height,
            self.pix_fmt,
            str(self.rate),
            self.colors,
            self.length_size,
            av.library_versions["libavcodec"],
        )
        return repr(settings).encode() + self.avcc

    def encode_run(self, frames: list[av.VideoFrame]) -> list[Encoded]:
        """`frames` as one bridge on its own, timed from 0."""
        encoder = self.encoder()
        run = []
        try:
            for n, frame in enumerate(frames):
                run += self.packets(encoder.encode(_prepared(frame, n, encoder)))
            run += self.packets(encoder.encode(None))
        except av.FFmpegError as exc:
            raise _failed(exc) from exc
        return run

    def packets(self, packets: list[av.Packet]) -> list[Encoded]:
        """An encoder's packets as the clips' track stores them."""
        return [
            Encoded(
                packet.pts, packet.is_keyframe, to_length_prefixed(bytes(packet), self.length_size)
            )
            for packet in packets
        ]


def _profile(config: AvcConfig) -> str | None:
    """The x264 profile of the clips' SPS, if x264 can encode within it."""
    profiles = {unit[1] for unit in config.sps if len(unit) > 1}
    return X264_PROFILES.get(config.profile) if profiles == {config.profile} else None


def _encoder(options: dict, size, rate: Fraction, colors) -> CodecContext:
    """libx264 with `options`, at the width, height and pixel format of `size`."""
    encoder = CodecContext.create("libx264", "w")
    # yuvj420p as the clips have it, if they do: frames pass through unconverted.
    encoder.width, encoder.height, encoder.pix_fmt = size.width, size.height, size.pix_fmt
    encoder.time_base, encoder.framerate = 1 / rate, rate
    encoder.colorspace, encoder.color_primaries, encoder.color_trc, encoder.color_range = colors
    # Parameter sets go to extradata, which is where the avcC record takes them from,
    # rather than in-band, where they would replace the clips' own.
    encoder.flags |= Flags.global_header
    encoder.thread_count, encoder.thread_type = 1, "NONE"  # see BRIDGE_DETERMINISM
    encoder.options = dict(options)
    encoder.open()
    return encoder


class _Bridge:
    """Consecutive output frames encoded by one libx264 session, opened on demand."""

    def __init__(self, format: _BridgeFormat, track: _Track) -> None:
        self._format, self._track = format, track
        self._encoder: CodecContext | None = None

    def add(self, frame: av.VideoFrame, output: int) -> None:
        try:
            if self._encoder is None:
                self._encoder = self._format.encoder()
            self._write(self._encoder.encode(_prepared(frame, output, self._encoder)))
        except av.FFmpegError as exc:
            raise _failed(exc) from exc

    def close(self) -> None:
        """Flush the session, so the next packet written can be a copied one."""
        if self._encoder is not None:
            try:
                self._write(self._encoder.encode(None))
            except av.FFmpegError as exc:
                raise _failed(exc) from exc
            self._encoder = None

    def _write(self, packets: list[av.Packet]) -> None:
        self._track.write_run(self._format.packets(packets), 0)  # timed in output frames


def _prepared(frame: av.VideoFrame, pts: int, encoder: CodecContext) -> av.VideoFrame:
    frame.pts, frame.time_base = pts, encoder.time_base
    # Decoded frames carry their source picture type, which libx264 would obey.
    frame.pict_type = PictureType.NONE
    return frame


def _failed(exc: av.FFmpegError) -> MediaError:
    return MediaError(f"Could not encode the frames around a cut ({exc.strerror}).")
