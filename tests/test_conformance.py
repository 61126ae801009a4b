"""Every API style chains three shots through the simulator, and its wire matches its document.

The simulator records each request it receives; these tests read them back and hold
them to the gateway's document. Styles that fetch frames by URL get them from this app,
served by a live server, through signed links.
"""

import time

import pytest

from projects import media, pipeline
from projects.models import Opening, Take
from projects.providers import SIMULATOR_PREFIXES
from tests.factories import make_project
from tests.test_pipeline import mean_difference

# Every test here compares the frames at each seam (small clips show the same frames).
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]

# Each style with settings its document allows, the smallest the style makes.
CASES = {
    "ark": {"model": "doubao-seedance-2-0-fast-260128", "resolution": "480p", "duration": 4},
    "dieyuyun": {"model": "doubao-seedance-2-0", "resolution": "720p", "duration": 5},
    "wisgate": {"model": "doubao-seedance-2", "resolution": "720p", "duration": 4},
    "openai-videos": {
        "model": "doubao-seedance-2-0-fast-260128",
        "resolution": "480p",
        "duration": 4,
    },
    "futurmix": {"model": "doubao-seedance-2-0-260128", "resolution": "480p", "duration": 4},
}


@pytest.fixture
def bridges_handed_over(monkeypatch):
    """The takes the driver hands to bridge preparation, which is left out here.

    Preparing a continue's bridge encodes its whole first GOP again (here, the whole
    full-size clip, at the export's preset): most of these tests' work, and about neither
    the wire nor the seams. tests/test_bridges_prepared.py holds a render to it."""
    handed = []
    monkeypatch.setattr("projects.pipeline.driver.prepare", handed.append)
    return handed


@pytest.fixture
def chain_in(simulator, settings, live_server, user, bridges_handed_over):
    """Generate three chained shots in one style; returns the takes and the wire creates."""

    def run(style):
        case = CASES[style]
        settings.SEEDANCE_BASE_URL = simulator.url + SIMULATOR_PREFIXES[style]
        settings.SEEDANCE_API_STYLE = style
        settings.PUBLIC_BASE_URL = live_server.url
        shots = [
            {"prompt": "Drone shot over an autumn valley", "opening": Opening.CUT},
            {"prompt": "The drone dives toward the river", "opening": Opening.CONTINUE},
            {"prompt": "It skims the water", "opening": Opening.CONTINUE},
        ]
        project = make_project(
            user,
            shots=[{**shot, "duration": case["duration"]} for shot in shots],
            model=case["model"],
            resolution=case["resolution"],
            ratio="16:9",
        )
        pipeline.queue_takes(project)
        pipeline.run_here(project)
        takes = [shot.latest_take for shot in project.timeline()]
        assert [t.status for t in takes] == [Take.Status.DONE] * 3, [t.error for t in takes]
        # Each done take went on to have its bridges prepared, as a render does.
        assert sorted(t.pk for t in bridges_handed_over) == sorted(t.pk for t in takes)
        creates = [r for r in simulator.requests if r["method"] == "POST"]
        assert [r["style"] for r in creates] == [style] * 3
        return takes, [r["json"] for r in creates]

    return run


def assert_seams_match(takes):
    """Each continue starts on the frame its shot before ends on: within a few levels
    (one encode each), where each clip's own first and last frames lie well apart (its
    zoom and pan; more than the tolerance and then some, so a match means something)."""
    for before, after in zip(takes, takes[1:], strict=False):
        assert after.upstream_take == before
        last = media.last_frame(before.video.path)
        assert mean_difference(last, media.first_frame(after.video.path)) < 3
        assert mean_difference(media.first_frame(before.video.path), last) > 4


def frame_links(live_server):
    return f"{live_server.url}/inputs/"


def test_ark_chains_on_returned_last_frames_sent_as_data_uris(chain_in, settings, callbacks_held):
    takes, creates = chain_in("ark")
    assert_seams_match(takes)
    assert [t.last_frame_source for t in takes] == ["provider"] * 3
    for number, body in enumerate(creates):
        frames = [i for i in body["content"] if i["type"] == "image_url"]
        assert [i["role"] for i in frames] == ([] if number == 0 else ["first_frame"])
        assert all(i["image_url"]["url"].startswith("data:image/png;base64,") for i in frames)
        assert body["return_last_frame"] is True and body["generate_audio"] is False
        # The app is reachable (PUBLIC_BASE_URL), so the provider is asked to call back.
        assert body["callback_url"].startswith(f"{settings.PUBLIC_BASE_URL}/callbacks/")
        assert isinstance(body["duration"], int)
    # And it calls back when each task ends, at the address it was given. The last
    # callback is sent just after the status it reports can be read: it is waited for.
    expected = {
        (body["callback_url"], take.remote_id, "succeeded")
        for take, body in zip(takes, creates, strict=True)
    }
    deadline = time.monotonic() + 10
    while not expected <= ended(callbacks_held) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert expected <= ended(callbacks_held)


def ended(callbacks):
    return {(url, body["id"], body["status"]) for url, body in list(callbacks)}


def test_dieyuyun_chains_with_frames_fetched_by_signed_url(chain_in, live_server):
    takes, creates = chain_in("dieyuyun")
    assert_seams_match(takes)
    assert [t.last_frame_source for t in takes] == ["video"] * 3
    documented = {"model", "prompt", "size", "duration", "mode", "image", "metadata"}
    for number, body in enumerate(creates):
        assert set(body) <= documented
        assert body["size"] == "1280x720" and body["duration"] == 5
        assert set(body["metadata"]) <= {"generate_audio", "seed", "camera_fixed", "watermark"}
        if number == 0:
            assert body["mode"] == "text" and "image" not in body
        else:
            assert body["mode"] == "image"
            assert body["image"].startswith(frame_links(live_server))


def test_wisgate_chains_with_i2v_images_by_url(chain_in, live_server):
    takes, creates = chain_in("wisgate")
    assert_seams_match(takes)
    for number, body in enumerate(creates):
        assert set(body) <= {"prompt", "model", "duration", "size", "mode", "images", "videos"}
        assert body["model"] == "doubao-seedance-2" and body["size"] == "1280x720"
        if number:
            assert body["mode"] == "i2v"
            (image,) = body["images"]
            assert image.startswith(frame_links(live_server))


def test_openai_videos_chains_with_seconds_as_a_string_and_roles_in_metadata(chain_in):
    takes, creates = chain_in("openai-videos")
    assert_seams_match(takes)
    for number, body in enumerate(creates):
        assert body["seconds"] == "4"
        assert "duration" not in body
        metadata = body.get("metadata") or {}
        # Never the same parameter at the top level and in metadata.
        assert not (set(metadata) - {"content"}) & set(body)
        roles = [i["role"] for i in metadata.get("content", [])]
        assert roles == ([] if number == 0 else ["first_frame"])


def test_futurmix_chains_with_settings_only_under_metadata(chain_in):
    takes, creates = chain_in("futurmix")
    assert_seams_match(takes)
    for number, body in enumerate(creates):
        assert set(body) == {"model", "prompt", "duration", "metadata"}
        assert {"generate_audio", "ratio", "watermark"} <= set(body["metadata"])
        roles = [i["role"] for i in body["metadata"]["content"]]
        assert roles == ([] if number == 0 else ["first_frame"])
