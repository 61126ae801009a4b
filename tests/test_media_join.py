"""Tests for media.join, trim and frame_at: every output frame decoded and identified."""

import math
from array import array
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import numpy as np
import pytest
from av.filter import Graph
from PIL import Image

from projects import media
from projects.media import Piece, Transition
from projects.media.avc import AvcConfig, sps_id
from tests.clips import (
    TONE_HZ,
    Pictures,
    expected_frame,
    make_clip,
    mean_abs_diff,
    read_counter,
    read_sync_mark,
)

RED, GREEN, BLUE = (170, 40, 40), (40, 150, 60), (40, 70, 170)
SIZE = {"width": 480, "height": 272}
FPS = 24
PER_FRAME = 48000 // FPS  # samples
# Decoded frames differ from the drawn ones by about 2; a neighbouring frame by about 7.
SAME = 4
# Clips as a provider's would be: B-frames in a pyramid and a keyframe every second, so
# frames 24, 48 start GOPs and most cut points fall inside one.
PROVIDER = {**SIZE, "seconds": 3, "bframes": True, "keyframe_interval": 24}

CLIPS = {
    "red": {**PROVIDER, "color": RED, "audio": True},
    "green": {**PROVIDER, "color": GREEN, "audio": True},
    "blue": {**PROVIDER, "color": BLUE, "audio": True},
    "green_silent": {**PROVIDER, "color": GREEN},
    "quiet": {**PROVIDER, "color": BLUE, "audio": True, "volume": 0.01},
    # Joined fifty times for its sound: its pictures need only carry their counters.
    "marked": {
        "width": 320,
        "height": 176,
        "seconds": 0.5,
        "bframes": True,
        "audio": True,
        "sync_marks": True,
    },
    "big_green": {**PROVIDER, "width": 640, "height": 360, "color": GREEN, "audio": True},
    # Settings other encoders use: Baseline with no B-frames and SPS id 1 at level 4; Main
    # with B-frames, more references, SPS id 5 and the parameter sets repeated in-band
    # before every IDR picture, with keyframes every 18 frames. Splicing must not assume
    # x264's own defaults.
    "baseline": {
        **PROVIDER,
        "color": RED,
        "audio": True,
        "x264": "bframes=0:cabac=0:8x8dct=0:weightp=0:ref=1:sps-id=1:level=4.0",
    },
    "main": {
        **PROVIDER,
        "color": GREEN,
        "audio": True,
        "x264": "8x8dct=0:ref=4:sps-id=5:repeat-headers=1:keyint=18:min-keyint=18:scenecut=0",
    },
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Path of the named clip from CLIPS, written on first use and shared by the module."""
    directory = tmp_path_factory.mktemp("clips")

    def get(name: str) -> Path:
        path = directory / f"{name}.mp4"
        if not path.exists():
            make_clip(path, **CLIPS[name])
        return path

    return get


def expected(index: int, color) -> Image.Image:
    return expected_frame(index, color=color, **SIZE)


def decode(path: Path) -> tuple[Pictures, list[float], list[str]]:
    """Every video frame, the first channel's samples, and FFmpeg's complaints."""
    frames, samples = [], array("f")
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture(local=False) as logs, av.open(str(path)) as container:
            for frame in container.decode(*container.streams):
                if isinstance(frame, av.VideoFrame):
                    frames.append(frame)
                else:
                    samples.frombytes(bytes(frame.planes[0])[: frame.samples * 4])
    finally:
        av.logging.set_level(None)
    return Pictures(frames), samples.tolist(), [message for _, _, message in logs]


def copied_packets(path: Path, sources: list[Path]) -> int:
    """How many of the video packets of `path` are, byte for byte, packets of `sources`."""

    def packets(clip: Path) -> list[bytes]:
        with av.open(str(clip)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.dts is not None]

    theirs = {data for source in sources for data in packets(source)}
    return sum(data in theirs for data in packets(path))


def counters(frames: Pictures) -> list[int]:
    return frames.counters()


def assert_ends_together(path: Path, samples: list[float], frames: int) -> None:
    """Sound and picture last exactly as long as each other in the headers, and within
    the last AAC frame's padding when decoded."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        video_end = video.duration * video.time_base
        audio_end = audio.duration * audio.time_base
    assert video_end == Fraction(frames, FPS)
    assert audio_end == video_end
    # Decoders hand out the last AAC frame whole: up to 1024 samples of padding.
    assert 0 <= len(samples) - frames * PER_FRAME < 1024


def test_seamless_join_drops_the_joint_frame_at_each_continue(tmp_path, clip):
    pieces = [
        Piece(clip("red")),
        Piece(clip("green"), joins="continue"),
        Piece(clip("blue"), joins="continue"),
    ]
    output = tmp_path / "cut.mp4"
    calls = []

    result = media.join(pieces, output, progress=calls.append)

    assert result.mode == "smart"
    assert result.frames == 3 * 72 - 2
    assert result.duration == pytest.approx(214 / FPS)
    # Only each continuing clip's start up to its next keyframe (frames 1..23) is encoded;
    # every other packet is the clip's own, byte for byte.
    assert result.reencoded == 2 * 23
    assert copied_packets(output, [piece.path for piece in pieces]) == 214 - 46
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls)
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert counters(frames) == [*range(72), *range(1, 72), *range(1, 72)]
    for at, index, color in [(0, 0, RED), (71, 71, RED), (72, 1, GREEN), (95, 24, GREEN)]:
        assert mean_abs_diff(frames[at], expected(index, color)) < SAME
    # The frame after each seam is the continuing clip's second.
    assert mean_abs_diff(frames[143], expected(1, BLUE)) < SAME
    assert_ends_together(output, samples, 214)


def test_a_continue_trimmed_in_loses_no_frame_and_its_bridge_is_prepared_as_joined(tmp_path, clip):
    # Its first frame, the repeat of the shot before, is trimmed away already: frame 5
    # follows the red clip's last, and nothing more is dropped, picture or sound.
    pieces = [
        Piece(clip("red")),
        Piece(clip("green"), first=5, joins="continue"),
        Piece(clip("blue"), joins="continue"),
    ]
    bridges = media.Folder(tmp_path / "bridges")
    media.prepare(pieces[1:], bridges)
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output, bridges=bridges)

    frames, samples, complaints = decode(output)
    assert complaints == []
    assert counters(frames) == [*range(72), *range(5, 72), *range(1, 72)]
    assert mean_abs_diff(frames[72], expected(5, GREEN)) < SAME
    assert result.frames == 72 + 67 + 71
    assert_ends_together(output, samples, 72 + 67 + 71)
    # What prepare() encoded ahead is what the join needed: nothing encoded twice.
    assert result.reencoded and result.prepared == result.reencoded


def test_plain_join_keeps_every_frame_by_copying(tmp_path, clip):
    pieces = [Piece(clip("red")), Piece(clip("green"), joins="continue")]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output, seamless=False)

    assert (result.mode, result.frames, result.reencoded) == ("copy", 144, 0)
    frames, _, complaints = decode(output)
    assert complaints == []
    assert counters(frames) == [*range(72), *range(72)]


def test_forced_reencode_gives_the_same_frames(tmp_path, clip):
    pieces = [
        Piece(clip("red"), 3, 40),
        Piece(clip("green"), joins="continue"),
        Piece(clip("blue"), 10, 30, transition=Transition("dip", 6)),
    ]
    smart = media.join(pieces, tmp_path / "smart.mp4")
    forced = media.join(pieces, tmp_path / "forced.mp4", force_reencode=True)

    assert (smart.mode, forced.mode) == ("smart", "reencode")
    assert forced.frames == smart.frames == 38 + 71 + 21
    assert forced.reencoded == forced.frames
    smart_frames, smart_samples, _ = decode(tmp_path / "smart.mp4")
    forced_frames, forced_samples, complaints = decode(tmp_path / "forced.mp4")
    assert complaints == []
    assert counters(forced_frames) == counters(smart_frames)
    assert counters(forced_frames)[:40] == [*range(3, 41), 1, 2]
    for a, b in zip(smart_frames, forced_frames, strict=True):
        assert mean_abs_diff(a, b) < SAME
    assert len(forced_samples) == pytest.approx(len(smart_samples), abs=1024)


def test_trims_are_frame_exact_inside_gops_with_b_frames(tmp_path, clip):
    # In and out points away from keyframes (0, 24, 48) and from the P-frames B-frames hang
    # off, so both ends need encoding: an out point can't be made by dropping packets.
    pieces = [Piece(clip("red"), 5, 42), Piece(clip("green"), 13, 50), Piece(clip("blue"), 30)]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    assert result.mode == "smart"
    assert result.frames == 38 + 38 + 42
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert counters(frames) == [*range(5, 43), *range(13, 51), *range(30, 72)]
    assert mean_abs_diff(frames[37], expected(42, RED)) < SAME
    assert mean_abs_diff(frames[38], expected(13, GREEN)) < SAME
    # Encoded: red 5..23 and 41..42, green 13..23 and 49..50, blue 30..47; the rest is
    # copied, including red 24..40 (a decode-order prefix of its GOP).
    assert result.reencoded == 19 + 2 + 11 + 2 + 18
    assert copied_packets(output, [piece.path for piece in pieces]) == 118 - 52
    assert_ends_together(output, samples, 118)


def test_trims_on_gop_boundaries_copy_everything(tmp_path, clip):
    pieces = [Piece(clip("red"), 24, 47), Piece(clip("green"), 0, 23), Piece(clip("blue"), 48)]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    assert (result.mode, result.frames, result.reencoded) == ("copy", 72, 0)
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert counters(frames) == [*range(24, 48), *range(24), *range(48, 72)]
    assert_ends_together(output, samples, 72)


def test_trim_writes_one_piece(tmp_path, clip):
    output = tmp_path / "trimmed.mp4"

    result = media.trim(Piece(clip("red"), 10, 33, joins="continue"), output)

    assert (result.mode, result.frames) == ("smart", 24)
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert counters(frames) == list(range(10, 34))
    assert_ends_together(output, samples, 24)


def test_crossfade_blends_the_overlapping_frames(tmp_path, clip):
    # 11 frames: the middle one (j = 5) weighs both pieces at (5 + 1) / 12 = 1/2.
    pieces = [
        Piece(clip("red"), 0, 47),
        Piece(clip("green"), 24, transition=Transition("crossfade", 11)),
    ]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    assert result.mode == "smart"
    assert result.frames == 48 + 48 - 11
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert mean_abs_diff(frames[36], expected(36, RED)) < SAME  # the last before it
    middle = Image.blend(expected(42, RED), expected(29, GREEN), 0.5)
    assert mean_abs_diff(frames[42], middle) < SAME
    assert mean_abs_diff(frames[42], expected(42, RED)) > 4 * SAME
    assert mean_abs_diff(frames[48], expected(35, GREEN)) < SAME  # the first after it
    assert counters(frames)[48:] == list(range(35, 72))
    assert_ends_together(output, samples, 85)
    # The sound crossfades too: the tone never drops out.
    assert min(_levels(samples)[2:-2]) > 0.1


def test_dip_passes_through_black(tmp_path, clip):
    pieces = [Piece(clip("red"), 0, 47), Piece(clip("green"), transition=Transition("dip", 8))]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    assert result.frames == 48 + 72  # no overlap
    frames, samples, complaints = decode(output)
    assert complaints == []
    black = Image.new("RGB", (SIZE["width"], SIZE["height"]))
    # Red fades out over its last 4 frames (44..47, the last black), green in over its
    # first 4 (48..51, the first black).
    assert mean_abs_diff(frames[43], expected(43, RED)) < SAME
    assert mean_abs_diff(frames[47], black) < 2
    assert mean_abs_diff(frames[48], black) < 2
    assert mean_abs_diff(frames[45], black) > 20
    assert mean_abs_diff(frames[52], expected(4, GREEN)) < SAME
    assert counters(frames)[52:] == list(range(4, 72))
    levels = _levels(samples)
    assert levels[47] < 0.05 and levels[48] < 0.05  # sound dips with the picture
    assert levels[40] > 0.1 and levels[56] > 0.1
    assert_ends_together(output, samples, 120)


def test_pieces_with_and_without_sound_are_joined_with_silence(tmp_path, clip):
    pieces = [
        Piece(clip("red")),
        Piece(clip("green_silent"), joins="continue"),
        Piece(clip("blue"), 0, 30),
    ]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    assert result.mode == "smart"
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert len(frames) == 72 + 71 + 31
    levels = _levels(samples)
    assert min(levels[1:71]) > 0.1
    assert max(levels[73:142]) < 1e-3
    assert min(levels[144:173]) > 0.1
    assert_ends_together(output, samples, 174)


def test_continue_seams_do_not_click(tmp_path, clip):
    # The red tone ends at 3 s in phase 0; green's, from its second frame, restarts at a
    # third of a cycle: a step of 0.17 if the seam were cut hard.
    output = tmp_path / "cut.mp4"
    media.join([Piece(clip("red")), Piece(clip("green"), joins="continue")], output)

    _, samples, _ = decode(output)
    seam = 72 * PER_FRAME
    steepest = 0.2 * 2 * math.pi * TONE_HZ / 48000  # the tone's own largest step
    around = samples[seam - 1000 : seam + 1000]
    assert max(abs(b - a) for a, b in zip(around, around[1:], strict=False)) < 2 * steepest


def test_fifty_continues_keep_sound_in_sync(tmp_path, clip):
    pieces = [Piece(clip("marked"))] + [Piece(clip("marked"), joins="continue")] * 49
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    frames, samples, complaints = decode(output)
    assert complaints == []
    assert result.frames == len(frames) == 12 + 49 * 11
    shown = counters(frames)
    assert shown == [*range(12), *list(range(1, 12)) * 49]
    assert_ends_together(output, samples, len(frames))
    # The sound playing under every frame is the sound of that frame, to the end.
    heard = [
        read_sync_mark(samples[k * PER_FRAME + 500 : k * PER_FRAME + 1500])
        for k in range(len(frames))
    ]
    assert heard == [n % 4 for n in shown]


def test_loudness_normalisation_brings_a_quiet_tone_to_minus_16_lufs(tmp_path, clip):
    output = tmp_path / "cut.mp4"
    pieces = [Piece(clip("quiet")), Piece(clip("quiet"), joins="continue")]

    media.join(pieces, output, normalize=True)
    plain = tmp_path / "plain.mp4"
    media.join(pieces, plain)

    assert _loudness(plain) < -35
    assert _loudness(output) == pytest.approx(-16, abs=1)
    frames, samples, _ = decode(output)
    assert_ends_together(output, samples, len(frames))


def test_clips_from_other_encoder_settings_splice_correctly(tmp_path, clip):
    for name in ("baseline", "main"):
        pieces = [
            Piece(clip(name), 2, 50),
            Piece(clip(name), joins="continue"),
            Piece(clip(name), 7, 60, transition=Transition("crossfade", 4)),
        ]
        output = tmp_path / f"{name}.mp4"

        result = media.join(pieces, output)

        assert result.mode == "smart"
        frames, _, complaints = decode(output)
        assert complaints == []
        # The second piece's last 4 frames and the third's first 4 are crossfaded.
        assert counters(frames)[: 49 + 67] == [*range(2, 51), *range(1, 68)]
        assert counters(frames)[-50:] == list(range(11, 61))
        with av.open(str(output)) as container:
            config = AvcConfig.parse(bytes(container.streams.video[0].codec_context.extradata))
        with av.open(str(clip(name))) as container:
            source = AvcConfig.parse(bytes(container.streams.video[0].codec_context.extradata))
        # The clip's own parameter sets, and the bridges' beside them under another id.
        assert config.sps[0] == source.sps[0] and config.pps[0] == source.pps[0]
        assert len(config.sps) == 2 and sps_id(config.sps[1]) != sps_id(source.sps[0])
        assert (config.profile, config.level) == (source.profile, source.level)


def test_clips_that_differ_are_reencoded_with_trims_and_continues(tmp_path, clip):
    pieces = [
        Piece(clip("red"), 5, 40),
        Piece(clip("big_green"), joins="continue"),
        Piece(clip("blue"), transition=Transition("crossfade", 6)),
    ]
    output = tmp_path / "cut.mp4"

    result = media.join(pieces, output)

    assert result.mode == "reencode"
    frames, samples, complaints = decode(output)
    assert complaints == []
    assert result.frames == len(frames) == 36 + 71 + 72 - 6
    assert counters(frames)[:37] == [*range(5, 41), 1]
    assert counters(frames)[-60:] == list(range(12, 72))
    assert_ends_together(output, samples, len(frames))


def test_frame_at_is_exact_between_keyframes(clip):
    for index in (0, 1, 23, 24, 37, 71):
        image = media.frame_at(clip("red"), index)
        assert image.mode == "RGB"
        assert read_counter(image) == index
        assert mean_abs_diff(image, expected(index, RED)) < SAME
    assert read_counter(media.frame_at(clip("red"), -1)) == 71
    with pytest.raises(media.MediaError, match="72 frames"):
        media.frame_at(clip("red"), 72)


def test_impossible_pieces_are_refused(tmp_path, clip):
    with pytest.raises(ValueError):
        Piece(clip("red"), joins="continue", transition=Transition("dip", 4))
    with pytest.raises(ValueError):
        Piece(clip("red"), 10, 5)
    with pytest.raises(media.MediaError, match="72 frames"):
        media.join([Piece(clip("red"), 0, 72)], tmp_path / "cut.mp4")
    with pytest.raises(media.MediaError, match="too short"):
        media.join(
            [Piece(clip("red"), 0, 5), Piece(clip("green"), transition=Transition("crossfade", 8))],
            tmp_path / "cut.mp4",
        )
    with pytest.raises(media.MediaError, match="no frames left"):
        media.join(
            [Piece(clip("red")), Piece(clip("green"), 0, 0, joins="continue")],
            tmp_path / "cut.mp4",
        )
    with pytest.raises(media.MediaError):
        media.join([], tmp_path / "cut.mp4")
    assert list(tmp_path.iterdir()) == []


def _levels(samples: list[float]) -> list[float]:
    """Peak level of the sound under each frame, from the middle of its time."""
    frames = len(samples) // PER_FRAME
    middles = np.asarray(samples[: frames * PER_FRAME]).reshape(frames, PER_FRAME)[:, 500:1500]
    return np.abs(middles).max(axis=1).tolist()


def _loudness(path: Path) -> float:
    """Integrated loudness (LUFS) by FFmpeg's ebur128 meter."""
    graph = Graph()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chain = [
            graph.add_abuffer(template=stream),
            graph.add("ebur128", "metadata=1"),
            graph.add("abuffersink"),
        ]
        for a, b in zip(chain, chain[1:], strict=False):
            a.link_to(b)
        graph.configure()
        measured = None
        for frame in container.decode(stream):
            graph.push(frame)
            while True:
                try:
                    measured = graph.pull().metadata.get("lavfi.r128.I", measured)
                except (av.BlockingIOError, av.EOFError):
                    break
    return float(measured)


def test_sound_written_alongside_the_picture_fails_cleanly_either_side(tmp_path, clip):
    from projects.media.join import inspect, place
    from projects.media.soundtrack import alongside
    from projects.media.writing import AtomicMp4

    # Sound at 44.1 kHz is read from its file when the sound is made (48 kHz AAC is kept
    # in memory when the clip is inspected).
    broken = make_clip(tmp_path / "broken.mp4", **PROVIDER, audio=True, sample_rate=44100)
    pieces = [Piece(clip("green")), Piece(broken, joins="continue")]
    sources = {str(piece.path): inspect(piece.path) for piece in pieces}
    placed = place(pieces, sources, Fraction(FPS), seamless=True)
    broken.write_bytes(b"not a video any more")  # the sound meets it in its own thread

    output = tmp_path / "out" / "cut.mp4"
    with (
        pytest.raises(media.MediaError, match="broken.mp4"),
        AtomicMp4(output) as target,
        alongside(target, placed),
    ):
        pass  # the picture's side succeeds
    with (
        pytest.raises(RuntimeError, match="picture failed"),
        AtomicMp4(output) as target,
        alongside(target, placed[:1]),
    ):
        raise RuntimeError("the picture failed")
    assert list(output.parent.iterdir()) == []


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def test_smart_joins_copy_the_clips_sound_moved_less_than_half_an_aac_frame(tmp_path, clip):
    from projects.media.join import inspect, place
    from projects.media.soundcopy import FRAME, LEAD, _Copy, plan_sound
    from projects.media.soundtrack import DECLICK, _sample_of

    pieces = [
        Piece(clip("red")),
        Piece(clip("green"), first=5, joins="continue"),
        Piece(clip("blue"), joins="continue"),
    ]
    output = tmp_path / "cut.mp4"
    media.join(pieces, output)

    theirs = {data for name in ("red", "green", "blue") for data in audio_packets(clip(name))}
    ours = audio_packets(output)
    assert sum(data in theirs for data in ours) > 0.9 * len(ours)
    # Where each piece's frames were copied, its sound is its clip's to the sample (and to
    # float rounding), moved by the plan's shift; around the seams it is encoded, within
    # AAC's own error.
    sources = {str(piece.path): inspect(piece.path) for piece in pieces}
    placed = place(pieces, sources, Fraction(FPS), seamless=True)
    at = _sample_of(Fraction(FPS))
    plan = plan_sound(placed, at, round(DECLICK * 48000))
    assert all(abs(shift) <= FRAME // 2 for shift in plan.shifts) and any(plan.shifts)
    _, samples, _ = decode(output)
    copies = [s for s in plan.segments if isinstance(s, _Copy)]
    assert len(copies) == 3
    for piece, shift, copy in zip(placed, plan.shifts, copies, strict=True):
        _, theirs, _ = decode(piece.source.path)
        offset = piece.first * PER_FRAME - at(piece.start) - shift  # output to clip sample
        interior = range(copy.start + FRAME, copy.end)  # its first frame blends with a bridge
        assert max(abs(samples[t] - theirs[t + offset]) for t in interior) < 1e-5
        near = range(max(at(piece.start), copy.start - LEAD), copy.start)
        assert max(abs(samples[t] - theirs[t + offset]) for t in near) < 0.02


def test_normalised_sound_is_encoded_whole(tmp_path, clip):
    output = tmp_path / "cut.mp4"
    media.join([Piece(clip("red")), Piece(clip("green"), joins="continue")], output, normalize=True)

    theirs = set(audio_packets(clip("red"))) | set(audio_packets(clip("green")))
    assert not theirs & set(audio_packets(output))
