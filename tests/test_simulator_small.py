"""The simulator's small clips: tiny, plain and quick, yet valid and as long as asked."""

import io

import httpx
import pytest
from PIL import Image

from projects.simulator import Simulator, render
from projects.simulator.inputs import PIXELS
from projects.simulator.render import fit, render_clip, small_size
from tests.test_simulator import (
    TASKS,
    create,
    data_uri,
    decode,
    mean_difference,
    picture,
    small_clip,
    wait,
)


@pytest.mark.parametrize(
    ("size", "small"),
    [((864, 496), (108, 62)), ((2206, 946), (276, 118)), ((640, 640), (80, 80))],
)
def test_small_size_is_an_eighth_of_each_side(size, small):
    assert small_size(*size) == small


def test_small_sides_are_even_and_never_below_32():
    sizes = [size for tier in PIXELS.values() for size in tier.values()] + [(100, 300)]
    for width, height in sizes:
        small = small_size(width, height)
        assert all(side % 2 == 0 and side >= 32 for side in small), (width, height, small)
    assert small_size(100, 300) == (32, 38)


@pytest.fixture
def drawing(monkeypatch):
    """What the renderer draws that costs the most: captions and blurs, in order."""
    drawn = []
    caption, blur = render._caption, render.ImageFilter.GaussianBlur

    def spy_caption(*args):
        drawn.append("caption")
        return caption(*args)

    def spy_blur(*args):
        drawn.append("blur")
        return blur(*args)

    monkeypatch.setattr(render, "_caption", spy_caption)
    monkeypatch.setattr(render.ImageFilter, "GaussianBlur", spy_blur)
    return drawn


def test_a_full_clip_draws_a_caption_and_blurs(tmp_path, drawing):
    # The spies see the work a small clip must skip; one second is enough to show it.
    render_clip(tmp_path / "clip.mp4", width=864, height=496, duration=1, prompt="Fog", seed=2)
    assert set(drawing) == {"caption", "blur"}


def test_a_small_clip_has_every_frame_and_its_sound_without_text_or_blurs(tmp_path, drawing):
    frames_done = []
    path = tmp_path / "clip.mp4"
    last = render_clip(
        path,
        width=864,
        height=496,
        duration=4,
        prompt="Fog over a harbour",
        generate_audio=True,
        seed=2,
        small=True,
        progress=frames_done.append,
    )
    assert drawing == []
    facts, frames, audio = decode(path.read_bytes())
    assert facts == {"width": 108, "height": 62, "rate": 24, "codec": "h264"}
    # 64 times fewer pixels per frame, and not one frame fewer.
    assert len(frames) == len(frames_done) == 96
    assert audio["codec"] == "aac"
    assert audio["seconds"] == pytest.approx(4, abs=0.1)
    assert last.size == (108, 62)
    assert mean_difference(last, frames[-1]) < 8
    # The picture still moves.
    assert mean_difference(frames[0], frames[-1]) > 5


def test_a_small_simulator_answers_for_the_size_asked_and_serves_small_files():
    source = picture()
    body = small_clip(
        content=[
            {"type": "text", "text": "The boat sails into the sunset"},
            {"type": "image_url", "image_url": {"url": data_uri(source)}, "role": "first_frame"},
        ],
        generate_audio=True,
        return_last_frame=True,
    )
    with (
        Simulator(delay=0.3, small=True) as sim,
        httpx.Client(
            base_url=sim.url + "/api/v3", headers={"Authorization": "Bearer k"}, timeout=10
        ) as api,
    ):
        task, seen = wait(api, create(api, body))
        video = httpx.get(task["content"]["video_url"]).content
        png = httpx.get(task["content"]["last_frame_url"]).content
        listed = api.get(TASKS).json()["items"][0]

    assert seen[-1] == "succeeded"
    assert task["usage"]["completion_tokens"] == 864 * 496 * 97 // 1024
    assert (task["resolution"], task["ratio"], task["duration"]) == ("480p", "16:9", 4)
    assert listed == task
    facts, frames, audio = decode(video)
    assert (facts["width"], facts["height"], facts["rate"]) == (108, 62, 24)
    assert len(frames) == 96
    assert audio["seconds"] == pytest.approx(4, abs=0.1)
    # Frame 0 is still the first frame, only smaller.
    assert mean_difference(frames[0], fit(source, 108, 62)) < 6
    last_frame = Image.open(io.BytesIO(png))
    assert last_frame.size == (108, 62)
    assert mean_difference(last_frame, frames[-1]) < 8
