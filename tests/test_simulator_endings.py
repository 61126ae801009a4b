"""The simulator's spoiled endings ([sim:end=black|blur|cut]), over real HTTP: clips whose
last moments a continue should not start on, decoded with PyAV."""

import httpx
import numpy as np
import pytest

from projects.simulator import Simulator
from projects.simulator.faults import read_directives
from projects.simulator.render import ENDING_SECONDS, ENDINGS, FPS
from tests.test_simulator import TASKS, small_clip, wait
from tests.test_simulator_faults import create
from tests.test_simulator_styles import client


@pytest.fixture
def sim():
    with Simulator(delay=0.3, small=True) as simulator:
        yield simulator


def test_the_end_directive_comes_out_of_the_prompt_and_says_the_ending():
    assert read_directives("A kite [sim:end=blur] over the sea", "prompt") == (
        "A kite over the sea",
        None,
        None,
        "blur",
    )
    assert read_directives("A kite", "prompt") == ("A kite", None, None, None)


def test_an_unknown_ending_is_refused_in_the_styles_own_words(sim):
    answer = create(client(sim, "ark"), "ark", "A kite [sim:end=purple]")
    assert answer.status_code == 400
    assert "[sim:end=purple]" in answer.json()["error"]["message"]
    assert "black|blur|cut" in answer.json()["error"]["message"]


def luma_frames(data):
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="gray").astype(float) for f in container.decode(video=0)]


def sharpness(luma):
    lap = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    return lap.var()


@pytest.mark.parametrize("ending", ENDINGS)
def test_each_ending_spoils_only_the_clips_last_moments(sim, ending):
    api = client(sim, "ark")
    body = small_clip(content=[{"type": "text", "text": f"A valley [sim:end={ending}]"}])
    task, _ = wait(api, api.post(TASKS, json=body).json()["id"])
    assert task["status"] == "succeeded"
    assert sim.engine.get(task["id"]).ending == ending
    frames = luma_frames(httpx.get(task["content"]["video_url"]).content)
    spoiled = round(ENDING_SECONDS * FPS)
    before, last = frames[-spoiled - 2], frames[-1]  # just before the ending, and its end
    if ending == "black":
        assert before.mean() > 60 and last.mean() < 20
    elif ending == "blur":
        assert sharpness(last) < 0.2 * sharpness(before)
        assert abs(last.mean() - before.mean()) < 10  # the same picture, only soft
    else:  # a hard cut: one frame to the next, the picture changes at once
        cut = frames[-spoiled]
        assert np.abs(cut - frames[-spoiled - 1]).mean() > 25
        assert np.abs(frames[-2] - frames[-1]).mean() < 5  # and then it goes on, steady
