"""The Seedance simulator over real loopback HTTP: the Ark v3 API, its files, its command."""

import base64
import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

from projects.simulator import Simulator
from projects.simulator.engine import Task
from projects.simulator.inputs import PIXELS
from tests.clips import Pictures
from tests.live import free_port

ROOT = Path(__file__).resolve().parent.parent
TASKS = "/contents/generations/tasks"
FAST = "doubao-seedance-2-0-fast-260128"


@pytest.fixture
def sim(small_clips):
    with Simulator(delay=0.3, small=small_clips) as simulator:
        yield simulator


@pytest.fixture
def api(sim):
    with httpx.Client(
        base_url=sim.url + "/api/v3", headers={"Authorization": "Bearer test-key"}, timeout=10
    ) as client:
        yield client


def small_clip(**fields):
    """A create body for the cheapest clip: 480p, 4 s, silent, always the same picture."""
    body = {
        "model": FAST,
        "content": [{"type": "text", "text": "A paper boat drifting down a rainy street"}],
        "resolution": "480p",
        "ratio": "16:9",
        "duration": 4,
        "generate_audio": False,
        "seed": 11,
    }
    body.update(fields)
    return body


def create(api, body, **headers):
    response = api.post(TASKS, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def wait(api, task_id, timeout=30):
    """Poll until the task finishes; return its last body and the statuses seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = api.get(f"{TASKS}/{task_id}").json()
        if not seen or seen[-1] != task["status"]:
            seen.append(task["status"])
        if task["status"] not in ("queued", "running"):
            return task, seen
        time.sleep(0.02)
    raise AssertionError(f"{task_id} still {seen[-1]} after {timeout} s")


def picture(width=1000, height=600):
    """A smooth test picture with distinct regions, the kind H.264 keeps well."""
    down = Image.linear_gradient("L").resize((width, height))
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    image = Image.merge("RGB", (down, across, down.point(lambda v: 255 - v)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.3, height * 0.3, width * 0.55, height * 0.7), fill=(240, 200, 40))
    draw.rectangle((width * 0.65, height * 0.2, width * 0.9, height * 0.8), fill=(30, 60, 160))
    return image


def data_uri(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def mean_difference(a, b):
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def decode(data):
    """(video stream facts, decoded frames as images, audio stream or None) of an MP4."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        facts = {
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "rate": video.average_rate,
            "codec": video.codec_context.name,
        }
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_facts = audio and {
            "codec": audio.codec_context.name,
            "channels": audio.codec_context.channels,
            "seconds": float(audio.duration * audio.time_base),
        }
        frames = Pictures(list(container.decode(video=0)))
    return facts, frames, audio_facts


@pytest.mark.full_clips
def test_task_goes_queued_running_succeeded_and_the_clip_decodes(api):
    task_id = create(api, small_clip(), **{"X-Simulator-Delay": "0.8"})
    assert task_id.startswith("cgt-") and len(task_id) == len("cgt-20260514183217-t8rzv")

    task, seen = wait(api, task_id)
    assert seen == ["queued", "running", "succeeded"]
    assert task["error"] is None
    assert set(task["content"]) == {"video_url"}
    assert task["usage"] == {"completion_tokens": 40594, "total_tokens": 40594}  # 864*496*97//1024
    assert {key: task[key] for key in ("resolution", "ratio", "duration", "framespersecond")} == {
        "resolution": "480p",
        "ratio": "16:9",
        "duration": 4,
        "framespersecond": 24,
    }
    assert task["generate_audio"] is False
    assert task["seed"] == 11
    assert task["execution_expires_after"] == 172800
    assert task["created_at"] <= task["updated_at"] <= time.time()

    download = httpx.get(task["content"]["video_url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert int(download.headers["content-length"]) == len(download.content)
    facts, frames, audio = decode(download.content)
    assert facts == {"width": 864, "height": 496, "rate": 24, "codec": "h264"}
    assert len(frames) == 96
    assert audio is None
    # The clip moves: its ends differ clearly.
    assert mean_difference(frames[0], frames[-1]) > 5


def test_audio_track_is_aac_mono_of_the_clip_length(api):
    # A small clip: the same frames and sound as a full one, for far less work.
    task, _ = wait(api, create(api, small_clip(generate_audio=True)))
    _, frames, audio = decode(httpx.get(task["content"]["video_url"]).content)
    assert len(frames) == 96
    assert audio["codec"] == "aac" and audio["channels"] == 1
    assert audio["seconds"] == pytest.approx(4, abs=0.1)


@pytest.mark.full_clips
def test_first_frame_is_kept_and_the_last_frame_chains_into_the_next_clip(api):
    source = picture()
    first = create(
        api,
        small_clip(
            content=[
                {"type": "text", "text": "The boat sails into the sunset"},
                {
                    "type": "image_url",
                    "image_url": {"url": data_uri(source)},
                    "role": "first_frame",
                },
            ],
            ratio="adaptive",
            return_last_frame=True,
        ),
    )
    task, _ = wait(api, first)
    assert task["ratio"] == "16:9"  # 1000x600 is nearest to 16:9
    _, frames, _ = decode(httpx.get(task["content"]["video_url"]).content)
    expected = ImageOps.fit(source, (864, 496), Image.Resampling.BICUBIC)
    assert mean_difference(frames[0], expected) < 4
    # Nothing is drawn over frame 0, not even low down where the caption goes.
    assert (
        mean_difference(frames[0].crop((0, 370, 864, 496)), expected.crop((0, 370, 864, 496))) < 4
    )

    png = httpx.get(task["content"]["last_frame_url"])
    assert png.headers["content-type"] == "image/png"
    last_frame = Image.open(io.BytesIO(png.content))
    assert last_frame.size == (864, 496)
    assert mean_difference(last_frame, frames[-1]) < 8

    # The next clip starts from that PNG, fetched by URL as a client chaining clips would.
    second = create(
        api,
        small_clip(
            content=[
                {"type": "text", "text": "Night falls"},
                {"type": "image_url", "image_url": {"url": task["content"]["last_frame_url"]}},
            ]
        ),
    )
    task, _ = wait(api, second)
    _, frames, _ = decode(httpx.get(task["content"]["video_url"]).content)
    assert mean_difference(frames[0], last_frame) < 4


def test_tokens_follow_width_height_and_frames_plus_one():
    def tokens(resolution, ratio, duration):
        width, height = PIXELS[resolution][ratio]
        return Task(
            id="cgt-x", style="ark", model=FAST, prompt="", width=width, height=height,
            resolution=resolution, ratio=ratio, duration=duration, generate_audio=True,
            watermark=False, seed=1, return_last_frame=False, callback_url=None,
            expires_after=172800, delay=0,
        ).tokens  # fmt: skip

    assert tokens("720p", "16:9", 5) == 108900
    assert tokens("480p", "16:9", 4) == 864 * 496 * 97 // 1024
    assert tokens("1080p", "21:9", 15) == 2206 * 946 * 361 // 1024


@pytest.mark.parametrize(
    ("change", "status", "code", "param"),
    [
        ({"model": None}, 400, "MissingParameter", "model"),
        (
            {"model": "doubao-seedance-1-0-pro-250528"},
            404,
            "InvalidEndpointOrModel.NotFound",
            "model",
        ),
        ({"content": None}, 400, "MissingParameter", "content"),
        ({"content": []}, 400, "InvalidParameter", "content"),
        ({"resolution": "1080p"}, 400, "InvalidParameter", "resolution"),
        ({"resolution": "4k"}, 400, "InvalidParameter", "resolution"),
        ({"ratio": "1280:720"}, 400, "InvalidParameter", "ratio"),
        ({"duration": 3}, 400, "InvalidParameter", "duration"),
        ({"duration": 16}, 400, "InvalidParameter", "duration"),
        ({"duration": 5.0}, 400, "InvalidParameter", "duration"),
        ({"seed": 2**32}, 400, "InvalidParameter", "seed"),
        ({"execution_expires_after": 60}, 400, "InvalidParameter", "execution_expires_after"),
        ({"generate_audio": "yes"}, 400, "InvalidParameter", "generate_audio"),
        ({"camera_fixed": True}, 400, "InvalidParameter", "camera_fixed"),
        ({"callback_url": "ftp://example.com/"}, 400, "InvalidParameter", "callback_url"),
        (
            {"content": [{"type": "audio_url", "audio_url": {"url": "https://example.com/a.mp3"}}]},
            400,
            "InvalidParameter",
            "content",
        ),
        (
            {
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:,"}, "role": "first_frame"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:,"},
                        "role": "reference_image",
                    },
                ]
            },
            400,
            "InvalidParameter",
            "content",
        ),
        (
            {
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:,"}, "role": "last_frame"}
                ]
            },
            400,
            "InvalidParameter",
            "content",
        ),
        (
            {
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:,"}, "role": "reference_image"}
                ]
                * 10
            },
            400,
            "InvalidParameter",
            "content",
        ),
        (
            {"content": [{"type": "image_url", "image_url": {"url": "data:,"}}]},
            400,
            "InvalidParameter",
            "content[0].image_url.url",
        ),
        (
            {"content": [{"type": "image_url", "image_url": {"url": data_uri(picture(64, 64))}}]},
            400,
            "InvalidParameter",
            "content[0].image_url.url",
        ),
    ],
)
def test_invalid_creates_get_ark_error_bodies(sim, api, change, status, code, param):
    response = api.post(TASKS, json=small_clip(**change))
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["type"] == ("BadRequest" if status == 400 else "NotFound")
    assert error["message"].endswith(f"Request id: {response.headers['x-request-id']}")
    assert sim.create_count == 0


def test_image_that_cannot_be_fetched_names_its_param(sim, api):
    missing = f"{sim.url}/files/cgt-nothing.png?expires=9999999999&signature=bad"
    response = api.post(
        TASKS,
        json=small_clip(
            content=[
                {"type": "text", "text": "x"},
                {"type": "image_url", "image_url": {"url": missing}, "role": "first_frame"},
            ]
        ),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "content[1].image_url.url"
    assert "403" in response.json()["error"]["message"]


def test_null_parameters_mean_not_set(api):
    body = {
        "model": FAST,
        "content": [{"type": "text", "text": "Fog over a harbour"}],
        **dict.fromkeys(
            [
                "resolution", "ratio", "duration", "generate_audio", "watermark", "seed",
                "return_last_frame", "callback_url", "execution_expires_after",
                "camera_fixed", "frames", "draft", "service_tier",
            ]
        ),
    }  # fmt: skip
    task_id = create(api, body, **{"X-Simulator-Delay": "60"})
    task = api.get(f"{TASKS}/{task_id}").json()
    assert task["status"] == "queued"
    assert task["resolution"] == "720p"
    assert task["ratio"] == "16:9"  # adaptive without a first frame
    assert task["duration"] == 5
    assert task["generate_audio"] is True
    assert 0 <= task["seed"] < 2**32
    assert task["execution_expires_after"] == 172800
    assert "content" not in task and "usage" not in task
    assert api.delete(f"{TASKS}/{task_id}").status_code == 200


def test_duration_minus_one_lets_the_model_pick_five_seconds(api):
    task_id = create(api, small_clip(duration=-1), **{"X-Simulator-Delay": "60"})
    assert api.get(f"{TASKS}/{task_id}").json()["duration"] == 5
    api.delete(f"{TASKS}/{task_id}")


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dXNlcjpwYXNz"])
def test_missing_bearer_is_401(sim, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.post(sim.url + "/api/v3" + TASKS, json=small_clip(), headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "AuthenticationError"
    assert "Request id:" in error["message"]


def test_configured_api_key_must_match():
    with Simulator(delay=0.2, api_key="secret") as sim:
        url = sim.url + "/api/v3" + TASKS
        wrong = httpx.get(url, headers={"Authorization": "Bearer other"})
        right = httpx.get(url, headers={"Authorization": "Bearer secret"})
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_list_filters_by_task_ids_status_and_pages(api):
    ids = [create(api, small_clip(), **{"X-Simulator-Delay": "60"}) for _ in range(3)]
    listed = api.get(TASKS, params={"filter.task_ids": ids[:2]}).json()
    assert listed["total"] == 2
    assert {item["id"] for item in listed["items"]} == set(ids[:2])
    assert all(item["status"] == "queued" for item in listed["items"])

    assert api.get(TASKS, params={"filter.status": "succeeded"}).json() == {"total": 0, "items": []}
    page = api.get(TASKS, params={"page_num": 2, "page_size": 2, "filter.model": FAST}).json()
    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == [ids[0]]  # newest first
    assert api.get(TASKS, params={"page_size": 501}).status_code == 400
    for task_id in ids:
        api.delete(f"{TASKS}/{task_id}")


def test_delete_cancels_queued_refuses_running_and_deletes_finished(api):
    queued = create(api, small_clip(), **{"X-Simulator-Delay": "60"})
    assert api.delete(f"{TASKS}/{queued}").json() == {}
    assert api.get(f"{TASKS}/{queued}").json()["status"] == "cancelled"

    running = create(api, small_clip(), **{"X-Simulator-Delay": "1.5"})
    while api.get(f"{TASKS}/{running}").json()["status"] == "queued":
        time.sleep(0.02)
    refused = api.delete(f"{TASKS}/{running}")
    assert refused.status_code == 400
    assert "cannot be cancelled" in refused.json()["error"]["message"]

    # A finished task (cancelled counts) is deleted for good.
    assert api.delete(f"{TASKS}/{queued}").status_code == 200
    gone = api.get(f"{TASKS}/{queued}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ResourceNotFound"
    assert api.delete(f"{TASKS}/{queued}").status_code == 404


def test_file_links_are_signed_and_refuse_an_api_key(sim, api):
    task, _ = wait(api, create(api, small_clip(return_last_frame=True)))
    video_url = task["content"]["video_url"]
    assert video_url.startswith(f"{sim.url}/files/{task['id']}.mp4?expires=")

    with_key = httpx.get(video_url, headers={"Authorization": "Bearer test-key"})
    assert with_key.status_code == 400
    tampered = httpx.get(video_url[:-4] + "0000")
    assert tampered.status_code == 403
    bumped = httpx.get(video_url.replace("expires=", "expires=1"))
    assert bumped.status_code == 403
    expired = httpx.get(sim.link(f"{task['id']}.mp4", int(time.time()) - 1))
    assert expired.status_code == 403 and b"expired" in expired.content

    head = httpx.head(video_url)
    assert head.status_code == 200 and int(head.headers["content-length"]) > 10_000
    part = httpx.get(video_url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["content-range"].startswith("bytes 0-99/")
    assert httpx.head(task["content"]["last_frame_url"]).headers["content-type"] == "image/png"


def test_control_endpoints_record_count_and_reset(sim, api):
    task_id = create(api, small_clip(), **{"X-Simulator-Delay": "60"})
    api.get(TASKS, params={"filter.task_ids": [task_id, "cgt-other"]})

    recorded = httpx.get(sim.url + "/_simulator/requests").json()
    assert recorded == sim.requests
    create_call, list_call = recorded
    assert create_call["method"] == "POST"
    assert create_call["path"] == "/api/v3" + TASKS
    assert create_call["headers"]["Authorization"] == "Bearer test-key"
    assert create_call["headers"]["X-Simulator-Delay"] == "60"
    assert create_call["json"]["model"] == FAST
    assert list_call["query"] == {"filter.task_ids": [task_id, "cgt-other"]}
    assert list_call["json"] is None

    stats = httpx.get(sim.url + "/_simulator/stats").json()
    assert stats == {"creates": 1, "creates_by_style": {"ark": 1}, "tasks": {"queued": 1}}
    assert sim.create_count == 1
    assert create_call["style"] == list_call["style"] == "ark"

    assert httpx.post(sim.url + "/_simulator/reset").json() == {}
    assert sim.requests == []
    assert httpx.get(sim.url + "/_simulator/stats").json() == {
        "creates": 0,
        "creates_by_style": {},
        "tasks": {},
    }
    assert api.get(f"{TASKS}/{task_id}").status_code == 404


def test_requests_record_the_connection_they_came_on(sim, api):
    for _ in range(3):
        assert api.get(TASKS).status_code == 200
    kept = {entry["peer"] for entry in sim.requests}
    for _ in range(3):
        assert httpx.get(sim.url + "/api/v3" + TASKS, headers=api.headers).status_code == 200
    separate = [entry["peer"] for entry in sim.requests[3:]]

    # One keep-alive connection for the one client, a new one for each of the others.
    assert len(kept) == 1
    assert len(set(separate)) == 3
    assert kept.isdisjoint(separate)
    assert all(isinstance(port, int) and port > 0 for port in kept | set(separate))


def test_file_downloads_are_not_recorded(sim, api):
    task, _ = wait(api, create(api, small_clip()))
    before = len(sim.requests)
    httpx.get(task["content"]["video_url"])
    assert len(sim.requests) == before


def test_callback_gets_each_status_change(api):
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        callback_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        task, _ = wait(api, create(api, small_clip(callback_url=callback_url)))
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert [body["status"] for body in received] == ["running", "succeeded"]
    assert received[-1]["id"] == task["id"]
    assert received[-1]["content"] == task["content"]


def test_stop_removes_its_data_dir_and_keeps_a_given_one(tmp_path):
    with Simulator(delay=0.1) as sim:
        made = sim.data_dir
        assert made.is_dir()
    assert not made.exists()

    with Simulator(delay=0.1, data_dir=tmp_path / "clips") as sim:
        pass
    assert (tmp_path / "clips").is_dir()


def test_a_taken_port_fails_without_leaving_a_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            Simulator(port=taken.getsockname()[1])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_management_command_serves_and_stops_cleanly(tmp_path, signum, small_clips):
    port = free_port()
    process = subprocess.Popen(
        ["uv", "run", "manage.py", "seedance_simulator", "--port", str(port), "--delay", "0.2"],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path), "SIMULATOR_SMALL": str(small_clips)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        assert [p.name for p in tmp_path.glob("seedance-simulator-*")]

        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v3", headers={"Authorization": "Bearer k"}
        )
        task, seen = wait(api, create(api, small_clip()))
        assert seen[-1] == "succeeded"
        assert httpx.get(task["content"]["video_url"]).status_code == 200

        # Like Ctrl-C in a terminal (or a supervisor's TERM): the whole process group.
        os.killpg(process.pid, signum)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert out == ""
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    assert not list(tmp_path.glob("seedance-simulator-*"))
