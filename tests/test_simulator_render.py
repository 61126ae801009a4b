"""The simulator's clip renderer on its own: frame count, untouched first frame, motion."""

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from projects.simulator.render import render_clip
from tests.clips import Pictures


def mean_difference(a, b):
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def frames_of(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        return rate, Pictures(list(container.decode(stream)))


def test_clip_has_every_frame_and_reports_progress(tmp_path):
    calls = []
    path = tmp_path / "clip.mp4"
    last = render_clip(
        path, width=640, height=640, duration=4, prompt="Square", seed=3, progress=calls.append
    )
    rate, frames = frames_of(path)
    assert (rate, len(frames)) == (24, 96)
    assert frames[0].size == last.size == (640, 640)
    assert last.mode == "RGB"
    assert len(calls) == 96 and calls == sorted(calls) and calls[-1] == 1.0


def test_first_frame_is_cropped_scaled_and_left_untouched(tmp_path):
    # Portrait source into a landscape clip: only its middle band survives.
    source = Image.linear_gradient("L").resize((500, 900)).convert("RGB")
    path = tmp_path / "clip.mp4"
    last = render_clip(
        path, width=864, height=496, duration=4, prompt="A long caption " * 20, first_frame=source
    )
    _, frames = frames_of(path)
    expected = ImageOps.fit(source, (864, 496), Image.Resampling.BICUBIC)
    assert mean_difference(frames[0], expected) < 3
    assert mean_difference(frames[-1], last) < 8
    assert mean_difference(frames[0], frames[-1]) > 10


def test_base_picture_follows_prompt_and_seed(tmp_path):
    def first_frame(name, prompt, seed):
        path = tmp_path / f"{name}.mp4"
        render_clip(path, width=496, height=864, duration=1, prompt=prompt, seed=seed)
        return frames_of(path)[1][0]

    again = first_frame("a", "Harbour at dawn", 7), first_frame("b", "Harbour at dawn", 7)
    other = first_frame("c", "Harbour at dawn", 8)
    assert mean_difference(*again) < 0.5
    assert mean_difference(again[0], other) > 5


@pytest.mark.parametrize("fps", [25, 30])
def test_a_simulator_at_another_rate_renders_its_clips_and_their_sound_at_it(tmp_path, fps):
    path = tmp_path / "clip.mp4"
    render_clip(
        path,
        width=864,
        height=496,
        duration=4,
        prompt="Rate",
        small=True,
        generate_audio=True,
        fps=fps,
    )
    rate, frames = frames_of(path)
    assert (rate, len(frames)) == (fps, 4 * fps)
    with av.open(str(path)) as container:
        sound = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(sound))
    # As long as the picture, within the last AAC frame's padding.
    assert 0 <= samples - 4 * 48000 < 1024
    with pytest.raises(ValueError, match="frame rate"):
        render_clip(tmp_path / "odd.mp4", width=64, height=64, duration=4, prompt="", fps=23)


def test_the_native_api_says_the_rate_its_clips_are_made_at(tmp_path):
    from projects.simulator import Simulator
    from tests.test_simulator import create, small_clip, wait

    with (
        Simulator(delay=0.1, small=True, fps=30) as sim,
        httpx.Client(base_url=sim.base_url(), headers={"Authorization": "Bearer test-key"}) as api,
    ):
        task, _ = wait(api, create(api, small_clip()))
        assert task["status"] == "succeeded" and task["framespersecond"] == 30
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(httpx.get(task["content"]["video_url"]).content)
    rate, frames = frames_of(clip)
    assert (rate, len(frames)) == (30, 120)
