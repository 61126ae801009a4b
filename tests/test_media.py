"""Tests for projects.media against real MP4 files written with PyAV."""

import gc
from array import array
from pathlib import Path

import av
import av.logging
import pytest
from PIL import Image

from projects import media
from tests.clips import Pictures, expected_frame, make_clip, mean_abs_diff, read_counter

RED, GREEN, BLUE, YELLOW = (170, 40, 40), (40, 150, 60), (40, 70, 170), (190, 170, 30)
SIZE = {"width": 864, "height": 496}
SMALL = {"width": 480, "height": 272}
FRAME = 1 / 24
# Decoded frames of make_clip's clips differ from the drawn ones by about 2 (compression);
# a neighbouring frame differs by about 7 and a frame of another colour by far more.
SAME = 4

# x264's veryfast: a third less work than its default for the same clips (these tests
# read frames and packets, never how x264 chose to encode them).
FAST = {"preset": "veryfast"}
CLIPS = {
    "red": {"color": RED, **FAST},
    "green": {"color": GREEN, **FAST},
    "blue": {"color": BLUE, **FAST},
    "red_audio": {"color": RED, "audio": True, **FAST},
    "green_audio": {"color": GREEN, "audio": True, **FAST},
    "blue_audio": {"color": BLUE, "audio": True, **FAST},
    "small_yellow": {"color": YELLOW, "width": 640, "height": 480, "seconds": 2, "fps": 30, **FAST},
    "mpeg4_blue": {"color": BLUE, "codec": "mpeg4", "seconds": 2},
    # Long, with many keyframes; its size does not matter.
    "keyframes": {"seconds": 6, "keyframe_interval": 24, **SMALL, **FAST},
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


def expected(index: int, color=(40, 90, 160), **size) -> Image.Image:
    return expected_frame(index, color=color, **(size or SIZE))


def decode_all(path: Path) -> tuple[Pictures, list[float], list[str]]:
    """Every video frame, every audio sample of the first channel, and FFmpeg's complaints."""
    frames, samples = [], array("f")
    # A container another test stopped reading early (a first frame, say) is closed when
    # the garbage collector gets to it, and its decoder then says it had frames left: in
    # the capture below (it hears every thread), unless that happens first.
    gc.collect()
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


def test_probe_describes_the_clip(clip):
    info = media.probe(clip("red_audio"))
    assert info == media.ClipInfo(
        duration=pytest.approx(4.0, abs=1e-3),
        width=864,
        height=496,
        fps=24.0,
        frames=96,
        video_codec="h264",
        has_audio=True,
    )

    small = media.probe(clip("small_yellow"))
    assert (small.width, small.height, small.fps, small.frames) == (640, 480, 30.0, 60)
    assert not small.has_audio
    assert small.duration == pytest.approx(2.0, abs=1e-3)
    assert media.probe(clip("mpeg4_blue")).video_codec == "mpeg4"


def test_first_and_last_frames(clip):
    first = media.first_frame(clip("red"))
    last = media.last_frame(clip("red"))

    assert first.mode == last.mode == "RGB"
    assert first.size == last.size == (864, 496)
    assert mean_abs_diff(first, expected(0, RED)) < SAME
    assert mean_abs_diff(last, expected(95, RED)) < SAME
    assert mean_abs_diff(first, last) > 2 * SAME
    assert (read_counter(first), read_counter(last)) == (0, 95)


def test_last_frame_after_seeking_past_keyframes(clip):
    # With a keyframe every second, last_frame starts decoding well after the start.
    last = media.last_frame(clip("keyframes"))

    assert read_counter(last) == 143
    assert mean_abs_diff(last, expected(143, **SMALL)) < SAME


def test_save_png_round_trips(tmp_path, clip):
    path = tmp_path / "last.png"
    media.save_png(media.last_frame(clip("red")), path)

    with Image.open(path) as saved:
        assert saved.format == "PNG"
        assert read_counter(saved) == 95


def test_make_poster_writes_a_scaled_jpeg_from_a_third_in(tmp_path, clip):
    poster = tmp_path / "poster.jpg"
    media.make_poster(clip("red"), poster)

    with Image.open(poster) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 367)
        assert read_counter(image.convert("RGB")) == 32  # 4 s / 3 at 24 fps

    media.make_poster(clip("red"), poster, max_width=320)
    with Image.open(poster) as image:
        assert image.size == (320, 184)
    assert [p.name for p in tmp_path.iterdir()] == ["poster.jpg"]


@pytest.mark.parametrize("audio", [False, True], ids=["silent", "with-audio"])
def test_concat_of_compatible_clips_copies_packets(tmp_path, clip, audio):
    names = ["red", "green", "blue"]
    inputs = [clip(f"{name}_audio" if audio else name) for name in names]
    output = tmp_path / "export.mp4"
    calls = []

    result = media.concat(inputs, output, progress=calls.append)

    assert result.mode == "copy"
    assert result.duration == pytest.approx(12.0, abs=FRAME)
    assert result.frames == 288
    info = media.probe(output)
    assert info.duration == pytest.approx(sum(media.probe(p).duration for p in inputs), abs=FRAME)
    assert (info.frames, info.has_audio, info.width, info.height) == (288, audio, 864, 496)
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls)

    frames, samples, complaints = decode_all(output)
    assert complaints == []
    assert len(frames) == 288
    for seam, before, after in [(96, RED, GREEN), (192, GREEN, BLUE)]:
        assert mean_abs_diff(frames[seam - 1], expected(95, before)) < SAME
        assert mean_abs_diff(frames[seam], expected(0, after)) < SAME
    if audio:
        # One AAC frame of slack per clip: copied frames can't be trimmed.
        assert len(samples) == pytest.approx(12 * 48000, abs=3 * 1024)


def test_concat_of_different_sizes_and_rates_reencodes_with_boxing(tmp_path, clip):
    inputs = [clip("red"), clip("small_yellow"), clip("green")]
    output = tmp_path / "export.mp4"

    result = media.concat(inputs, output)

    assert result.mode == "reencode"
    assert result.duration == pytest.approx(10.0, abs=FRAME)
    assert result.frames == 240
    info = media.probe(output)
    assert (info.width, info.height, info.fps, info.video_codec) == (864, 496, 24.0, "h264")

    frames, _, complaints = decode_all(output)
    assert complaints == []
    assert len(frames) == 240
    assert mean_abs_diff(frames[95], expected(95, RED)) < SAME
    # The 4:3 clip keeps its shape: scaled to the full height with black bars at the sides.
    boxed = frames[96]
    assert max(boxed.getpixel((10, 248))) < 25
    assert max(boxed.getpixel((853, 248))) < 25
    assert mean_abs_diff(boxed.crop((250, 200, 700, 300)), Image.new("RGB", (450, 100), YELLOW)) < 6
    assert mean_abs_diff(frames[144], expected(0, GREEN)) < SAME


def test_concat_with_and_without_audio_adds_silence(tmp_path, clip):
    output = tmp_path / "export.mp4"

    result = media.concat([clip("red_audio"), clip("mpeg4_blue")], output)

    assert result.mode == "reencode"
    assert result.duration == pytest.approx(6.0, abs=FRAME)
    assert media.probe(output).has_audio
    frames, samples, complaints = decode_all(output)
    assert complaints == []
    assert len(frames) == 144
    assert read_counter(frames[96]) == 0
    assert len(samples) == pytest.approx(6 * 48000, abs=1024)
    assert max(abs(s) for s in samples[48000 : 3 * 48000]) > 0.1  # the first clip's tone
    assert max(abs(s) for s in samples[4 * 48000 + 2048 :]) < 1e-3  # the silent clip


def test_non_video_files_raise_media_error(tmp_path, clip):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    sound = tmp_path / "sound.m4a"
    with av.open(str(sound), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000, layout="stereo")
        silence = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        silence.sample_rate = 48000
        for plane in silence.planes:
            plane.update(bytes(plane.buffer_size))
        out.mux(stream.encode(silence))
        out.mux(stream.encode())

    for call in (media.probe, media.first_frame, media.last_frame):
        with pytest.raises(media.MediaError, match="notes.mp4"):
            call(text)
    with pytest.raises(media.MediaError, match="no video track"):
        media.probe(sound)
    with pytest.raises(media.MediaError, match="missing.mp4"):
        media.probe(tmp_path / "missing.mp4")
    with pytest.raises(media.MediaError, match="notes.mp4"):
        media.concat([clip("red"), text], tmp_path / "export.mp4")
    with pytest.raises(media.MediaError):
        media.concat([], tmp_path / "export.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4", "sound.m4a"]


def test_interrupted_concat_leaves_nothing_behind(tmp_path, clip):
    output = tmp_path / "export.mp4"
    output.write_bytes(b"previous export")

    def crash(fraction):
        if fraction > 0.5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        media.concat([clip("red"), clip("small_yellow")], output, progress=crash)

    assert [p.name for p in tmp_path.iterdir()] == ["export.mp4"]
    assert output.read_bytes() == b"previous export"
