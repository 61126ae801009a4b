"""The simulator's small clips: tiny, plain and quick, yet valid and as long as asked."""

import io
import runpy
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from PIL import Image

import projects.simulator
from projects.management.commands import seedance_simulator, storyboard
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

SETTINGS = Path(__file__).resolve().parent.parent / "storyboard" / "settings.py"


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


class FakeSimulator:
    """Stands in for the server the commands start, remembering how it was made."""

    made = []

    def __init__(self, **options):
        self.made.append(options)
        self.url = "http://127.0.0.1:8765"

    def serve_forever(self):
        raise KeyboardInterrupt

    def stop(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


@pytest.fixture
def fake_simulator(monkeypatch):
    FakeSimulator.made = []
    monkeypatch.setattr(seedance_simulator, "Simulator", FakeSimulator)
    monkeypatch.setattr(projects.simulator, "Simulator", FakeSimulator)
    # The command takes over SIGINT and SIGTERM; pytest's own handlers must stay.
    monkeypatch.setattr(seedance_simulator.signal, "signal", lambda *args: None)
    return FakeSimulator.made


@pytest.mark.parametrize(
    ("setting", "args", "small"),
    [
        (False, [], False),
        (True, [], True),
        (False, ["--small"], True),
        (True, ["--no-small"], False),
    ],
)
def test_the_command_renders_small_by_setting_or_option(
    settings, fake_simulator, setting, args, small
):
    settings.SIMULATOR_SMALL = setting
    out = io.StringIO()
    call_command("seedance_simulator", *args, stdout=out)
    assert [options["small"] for options in fake_simulator] == [small]
    assert ("small clips" in out.getvalue()) is small


def test_render_wait_starts_a_small_simulator_when_set(settings, fake_simulator, monkeypatch):
    settings.SEEDANCE_BASE_URL = settings.SEEDANCE_PRESET = ""
    settings.SIMULATOR_SMALL = True
    monkeypatch.setattr(storyboard, "_simulator_answers", lambda: False)
    with storyboard.local_provider(io.StringIO()):
        pass
    assert [options["small"] for options in fake_simulator] == [True]


@pytest.mark.parametrize(("value", "small"), [(None, False), ("true", True), ("false", False)])
def test_simulator_small_is_read_from_the_environment(monkeypatch, value, small):
    if value is None:
        monkeypatch.delenv("SIMULATOR_SMALL", raising=False)
    else:
        monkeypatch.setenv("SIMULATOR_SMALL", value)
    assert runpy.run_path(str(SETTINGS))["SIMULATOR_SMALL"] is small


def test_a_simulator_small_that_is_no_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("SIMULATOR_SMALL", "tiny")
    with pytest.raises(ImproperlyConfigured, match="SIMULATOR_SMALL"):
        runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize(
    ("setting", "args", "fps"), [(24, [], 24), (25, [], 25), (24, ["--fps", "30"], 30)]
)
def test_the_command_renders_at_the_rate_set_or_asked_for(
    settings, fake_simulator, setting, args, fps
):
    settings.SIMULATOR_FPS = setting
    out = io.StringIO()
    call_command("seedance_simulator", *args, stdout=out)
    assert [options["fps"] for options in fake_simulator] == [fps]
    assert (f"{fps} fps" in out.getvalue()) is (fps != 24)
