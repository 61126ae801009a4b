"""The simulator's gateway styles over real loopback HTTP: each one's wire, quirks and refusals."""

import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import httpx
import pytest
from PIL import Image, ImageOps

from projects.simulator import Simulator
from projects.simulator.render import small_size
from tests.test_simulator import FAST, TASKS, data_uri, mean_difference, picture, small_clip

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
STANDARD = "doubao-seedance-2-0-260128"


@pytest.fixture
def sim(small_clips):
    with Simulator(delay=0.3, small=small_clips) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def shared():
    """One simulator for the tests that only get refusals: no task is ever made on it."""
    with Simulator(delay=0.3, api_key="test-key") as simulator:
        yield simulator
    assert simulator.create_count == 0


@pytest.fixture
def host():
    """A plain web server for images the styles fetch by URL: host.put(name, data) -> URL."""
    files = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            data = files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class Host:
        @staticmethod
        def put(name, data):
            files[f"/{name}"] = data
            return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield Host
    server.shutdown()
    server.server_close()


def client(sim, style, key="test-key"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=sim.base_url(style), headers=headers, timeout=10)


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def poll(api, path, timeout=30):
    """Get `path` until its status is final; return the last body and the statuses seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(path).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in ("completed", "failed"):
            return body, seen
        time.sleep(0.02)
    raise AssertionError(f"{path} still {seen[-1]} after {timeout} s")


def probe(data):
    """(width, height, frame count, has audio, first frame) of an MP4, decoding one frame."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        first = next(container.decode(video=0)).to_image()
        return (
            video.codec_context.width,
            video.codec_context.height,
            video.frames,
            bool(container.streams.audio),
            first,
        )


def rendered_size(sim, task_id):
    """The size the simulator's task was asked to render at: a small clip is an eighth of
    each side of it (render.small_size), the full size is rendered by test_simulator."""
    task = sim.engine.get(task_id)
    return task.width, task.height


def refused(response, status, code, param=None):
    """Check an OpenAI-compatible error body; return its message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert (
        error["type"]
        == {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "invalid_request_error",
        }[status]
    )
    if param is not None:
        assert error["param"] == param
    return error["message"]


# dieyuyun


DIEYUYUN = "/v1/video/generations"


def dieyuyun_body(**fields):
    return {"model": "doubao-seedance-2-0", "prompt": "A lighthouse at night", **fields}


def test_dieyuyun_image_mode_runs_queued_processing_completed(sim, host):
    source = picture(600, 1000)
    api = client(sim, "dieyuyun")
    created = api.post(
        DIEYUYUN,
        json=dieyuyun_body(mode="image", image=host.put("p.png", png(source)), size="720x1280"),
        headers={"X-Simulator-Delay": "0.8"},
    )
    assert created.status_code == 200, created.text
    answer = created.json()
    assert set(answer) == {"task_id", "status", "progress", "created_at"}
    assert answer["task_id"].startswith("task_")
    assert (answer["status"], answer["progress"]) == ("queued", 0)
    assert ISO.fullmatch(answer["created_at"])

    task, seen = poll(api, f"{DIEYUYUN}/{answer['task_id']}")
    assert seen == ["queued", "processing", "completed"]
    assert task["progress"] == 100 and ISO.fullmatch(task["completed_at"])
    assert "error" not in task
    assert {key: task["metadata"][key] for key in ("duration", "size")} == {
        "duration": 5,
        "size": "720x1280",
    }
    # Asked for 720x1280; rendered small, at an eighth of each side of it.
    assert rendered_size(sim, task["task_id"]) == (720, 1280)
    width, height, frames, audio, first = probe(httpx.get(task["metadata"]["url"]).content)
    assert (width, height, frames, audio) == (*small_size(720, 1280), 120, False)  # no audio
    expected = ImageOps.fit(source, small_size(720, 1280), Image.Resampling.BICUBIC)
    assert mean_difference(first, expected) < 4
    assert sim.creates_by_style == {"dieyuyun": 1}
    assert {entry["style"] for entry in sim.requests} == {"dieyuyun"}


@pytest.mark.parametrize(
    ("change", "status", "code", "param"),
    [
        ({"mode": "image", "image": data_uri(picture())}, 400, "invalid_value", "image"),
        ({"mode": "image"}, 400, "missing_required_parameter", "image"),
        ({"image": "https://example.com/a.png"}, 400, "invalid_value", "image"),
        (
            {"mode": "audio", "image": "https://example.com/a.png"},
            400,
            "missing_required_parameter",
            "metadata.audio_url",
        ),
        ({"duration": 6}, 400, "invalid_value", "duration"),
        ({"duration": "5"}, 400, "invalid_value", "duration"),
        ({"size": "864x496"}, 400, "invalid_value", "size"),
        ({"metadata": {"seed": "1"}}, 400, "invalid_value", "metadata.seed"),
        ({"prompt": None}, 400, "missing_required_parameter", "prompt"),
        ({"model": STANDARD}, 404, "model_not_found", "model"),
    ],
)
def test_dieyuyun_refusals(shared, change, status, code, param):
    message = refused(
        client(shared, "dieyuyun").post(DIEYUYUN, json=dieyuyun_body(**change)), status, code, param
    )
    assert param in message or code == "model_not_found"


# wisgate


WISGATE = "/v1/videos"


def test_wisgate_i2v_portrait_720p_with_meta_data_underscore(sim, host):
    first, last = picture(700, 1000), picture(700, 1000).rotate(180)
    api = client(sim, "wisgate")
    created = api.post(
        WISGATE,
        json={
            "model": "doubao-seedance-2",
            "prompt": "A door opens onto a garden",
            "mode": "i2v",
            "size": "720x1080",
            "images": [host.put("first.png", png(first)), host.put("last.png", png(last))],
            "unknown_field": "ignored",
        },
        headers={"X-Simulator-Delay": "0.5"},
    )
    assert created.status_code == 200, created.text
    answer = created.json()
    assert answer["id"].startswith("video_") and answer["object"] == "video"
    assert (answer["status"], answer["progress"]) == ("queued", 0)
    assert abs(answer["created_at"] - time.time()) < 5  # unix seconds

    task, seen = poll(api, f"{WISGATE}/{answer['id']}")
    assert seen == ["queued", "in_progress", "completed"]
    assert set(task["meta_data"]) == {"url"} and "metadata" not in task
    assert task["expires_at"] > time.time() + 3600
    width, height, frames, _, picture_0 = probe(httpx.get(task["meta_data"]["url"]).content)
    # 720x1080 is the document's portrait 720p, 2:3, rendered as asked (small: an eighth of
    # each side); 4 s by default.
    assert rendered_size(sim, answer["id"]) == (720, 1080)
    assert (width, height, frames) == (*small_size(720, 1080), 96)
    assert mean_difference(picture_0, ImageOps.fit(first, small_size(720, 1080))) < 4


def test_wisgate_refuses_data_uris_and_references_of_4_mb(sim, host):
    api = client(sim, "wisgate")

    def create(**fields):
        return api.post(WISGATE, json={"model": "doubao-seedance-2", "prompt": "x", **fields})

    refused(create(mode="i2v", images=[data_uri(picture())]), 400, "invalid_value", "images[0]")
    big = host.put("big.png", png(picture(400, 400)) + b"\0" * (4 * 1024 * 1024))
    message = refused(create(mode="r2v", images=[big]), 400, "invalid_value", "images[0]")
    assert "4 MB" in message
    refused(create(mode="i2v"), 400, "missing_required_parameter", "images")
    refused(create(mode="i2v", images=[big] * 3), 400, "invalid_value", "images")
    refused(create(images=[big]), 400, "invalid_value", "mode")
    refused(create(size="720x1280"), 400, "invalid_value", "size")
    refused(create(duration=16), 400, "invalid_value", "duration")
    refused(create(model="doubao-seedance-2-0"), 404, "model_not_found", "model")
    assert sim.create_count == 0


# openai-videos


OPENAI = "/v1/videos"


def openai_body(**fields):
    return {
        "model": FAST,
        "prompt": "Snow falling on a quiet street",
        "seconds": "4",
        "resolution": "480p",
        "ratio": "16:9",
        "generate_audio": False,
        **fields,
    }


def test_openai_videos_milliseconds_metadata_url_and_authenticated_content(sim):
    api = client(sim, "openai-videos")
    source = picture()
    frame = {"type": "image_url", "image_url": {"url": data_uri(source)}, "role": "first_frame"}
    created = api.post(OPENAI, json=openai_body(metadata={"content": [frame]}, seed=7))
    assert created.status_code == 200, created.text
    video = created.json()
    assert video["id"].startswith("video_") and video["object"] == "video"
    assert (video["model"], video["status"], video["seconds"]) == (FAST, "queued", "4")
    assert video["size"] == "864x496" and video["error"] is None
    assert abs(video["created_at"] / 1000 - time.time()) < 5  # milliseconds

    done, seen = poll(api, f"{OPENAI}/{video['id']}")
    assert seen[-1] == "completed" and set(seen) <= {"queued", "in_progress", "completed"}
    assert done["completed_at"] >= done["created_at"] and done["progress"] == 100
    assert done["expires_at"] > (time.time() + 3600) * 1000
    assert "last_frame_url" not in str(done)
    from_url = httpx.get(done["metadata"]["url"]).content
    width, height, frames, audio, first = probe(from_url)
    assert rendered_size(sim, video["id"]) == (864, 496)
    assert (width, height, frames, audio) == (*small_size(864, 496), 96, False)
    assert mean_difference(first, ImageOps.fit(source, small_size(864, 496))) < 4

    content = api.get(f"{OPENAI}/{video['id']}/content")
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    assert content.content == from_url
    unauthenticated = httpx.get(f"{sim.base_url('openai-videos')}{OPENAI}/{video['id']}/content")
    refused(unauthenticated, 401, "invalid_api_key")


def test_openai_videos_content_waits_for_completion(sim):
    api = client(sim, "openai-videos")
    video = api.post(OPENAI, json=openai_body(), headers={"X-Simulator-Delay": "60"}).json()
    assert video["expires_at"] == video["created_at"] + 172800 * 1000
    message = refused(api.get(f"{OPENAI}/{video['id']}/content"), 404, "not_found")
    assert "queued" in message


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"seconds": 4}, "invalid_value", "seconds"),
        ({"seconds": "four"}, "invalid_value", "seconds"),
        ({"seconds": "16"}, "invalid_value", "seconds"),
        ({"duration": 4}, "invalid_value", "duration"),
        ({"metadata": {"duration": 4}}, "invalid_value", "metadata.duration"),
        ({"metadata": {"ratio": "16:9"}}, "invalid_value", "metadata.ratio"),
        ({"metadata": {"generate_audio": True}}, "invalid_value", "metadata.generate_audio"),
        ({"resolution": "1080p"}, "invalid_value", "resolution"),
        ({"size": "1280x720"}, "invalid_value", "size"),
        ({"n": 2}, "invalid_value", "n"),
        (
            {"metadata": {"content": [{"type": "text", "text": "again"}]}},
            "invalid_value",
            "metadata.content",
        ),
        ({"prompt": None}, "missing_required_parameter", "prompt"),
    ],
)
def test_openai_videos_refuses_duplicates_and_a_number_of_seconds(shared, change, code, param):
    api = client(shared, "openai-videos")
    refused(api.post(OPENAI, json=openai_body(**change)), 400, code, param)


def test_openai_videos_reads_legacy_metadata_and_size(sim):
    api = client(sim, "openai-videos")
    body = {
        "model": STANDARD,
        "prompt": "x",
        "size": "1920x1080",
        "metadata": {"duration": 7, "seed": 3},
    }
    video = api.post(OPENAI, json=body, headers={"X-Simulator-Delay": "60"}).json()
    assert (video["seconds"], video["size"]) == ("7", "1920x1080")
    assert sim.engine.get(video["id"]).seed == 3


# futurmix


FUTURMIX = "/video/generations"


def test_futurmix_reads_everything_from_metadata(sim):
    api = client(sim, "futurmix")
    created = api.post(
        FUTURMIX,
        json={
            "model": FAST,
            "prompt": "A teapot spinning slowly",
            "duration": 4,
            "metadata": {"resolution": "480p", "ratio": "1:1", "generate_audio": True, "seed": 5},
        },
    )
    assert created.status_code == 200, created.text
    answer = created.json()
    assert set(answer) == {"task_id", "status"} and answer["status"] == "queued"

    task, seen = poll(api, f"{FUTURMIX}/{answer['task_id']}")
    assert seen[-1] == "completed" and "error" not in task
    assert set(task) == {"task_id", "status", "progress", "metadata"}
    assert rendered_size(sim, answer["task_id"]) == (640, 640)
    width, height, frames, audio, _ = probe(httpx.get(task["metadata"]["url"]).content)
    assert (width, height, frames, audio) == (*small_size(640, 640), 96, True)


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"ratio": "16:9"}, "invalid_value", "ratio"),
        ({"generate_audio": False}, "invalid_value", "generate_audio"),
        ({"resolution": "480p"}, "invalid_value", "resolution"),
        ({"seed": 1}, "invalid_value", "seed"),
        ({"duration": 16}, "invalid_value", "duration"),
        ({"metadata": {"resolution": "1080p"}}, "invalid_value", "metadata.resolution"),
        (
            {"metadata": {"content": [{"type": "text", "text": "twice"}]}},
            "invalid_value",
            "metadata.content",
        ),
        (
            {
                "metadata": {
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:,"}, "role": "last_frame"}
                    ]
                }
            },
            "invalid_value",
            "metadata.content",
        ),
        ({"prompt": None}, "missing_required_parameter", "prompt"),
    ],
)
def test_futurmix_refuses_upstream_parameters_outside_metadata(shared, change, code, param):
    body = {"model": FAST, "prompt": "x", "duration": 4, **change}
    refused(client(shared, "futurmix").post(FUTURMIX, json=body), 400, code, param)


# What the styles share


CREATES = {
    "dieyuyun": (DIEYUYUN, dieyuyun_body()),
    "wisgate": (WISGATE, {"model": "doubao-seedance-2", "prompt": "x"}),
    "openai-videos": (OPENAI, openai_body()),
    "futurmix": (FUTURMIX, {"model": FAST, "prompt": "x"}),
}


@pytest.mark.parametrize("style", CREATES)
@pytest.mark.parametrize("key", [None, "wrong"])
def test_gateways_want_the_bearer_key(shared, style, key):
    path, body = CREATES[style]
    refused(client(shared, style, key).post(path, json=body), 401, "invalid_api_key")
    refused(client(shared, style, key).get(f"{path}/anything"), 401, "invalid_api_key")


@pytest.mark.parametrize("style", CREATES)
def test_a_style_knows_only_its_own_tasks_and_routes(sim, style):
    path, body = CREATES[style]
    api = client(sim, style)
    answer = api.post(path, json=body, headers={"X-Simulator-Delay": "60"}).json()
    task_id = answer.get("task_id") or answer["id"]
    assert api.get(f"{path}/{task_id}").status_code == 200
    ark = client(sim, "ark")
    assert ark.get(f"{TASKS}/{task_id}").status_code == 404
    assert ark.get(TASKS).json()["total"] == 0
    refused(api.get("/v2/nothing"), 404, "not_found")
    refused(api.post(path, content=b"[1]"), 400, "invalid_value")
    assert sim.creates_by_style == {style: 1}


def test_ark_also_answers_under_the_seedance_prefix(sim):
    reseller = httpx.Client(
        base_url=sim.url + "/seedance/api/v3",
        headers={"Authorization": "Bearer k", "Accept-Encoding": "identity"},
    )
    created = reseller.post(TASKS, json=small_clip(), headers={"X-Simulator-Delay": "60"})
    task_id = created.json()["id"]
    assert reseller.get(f"{TASKS}/{task_id}").json()["status"] == "queued"
    assert client(sim, "ark").get(f"{TASKS}/{task_id}").status_code == 200
    assert [(entry["style"], entry["path"][:16]) for entry in sim.requests] == [
        ("ark", "/seedance/api/v3"),
        ("ark", "/seedance/api/v3"),
        ("ark", "/api/v3/contents"),
    ]
    assert httpx.get(sim.url + "/_simulator/stats").json()["creates_by_style"] == {"ark": 1}


def test_the_apiyi_prefix_answers_false_gzip_unless_asked_for_identity(sim):
    """Its document: Python clients cannot decode its answers without Accept-Encoding: identity."""
    apiyi = httpx.Client(
        base_url=sim.url + "/seedance/api/v3", headers={"Authorization": "Bearer k"}
    )
    with pytest.raises(httpx.DecodingError):
        apiyi.post(TASKS, json=small_clip(), headers={"X-Simulator-Delay": "60"})
    # The create went through all the same; only its answer cannot be read.
    assert sim.create_count == 1
    with pytest.raises(httpx.DecodingError):
        apiyi.get(f"{TASKS}/cgt-nothing")  # refusals too
    with apiyi.stream("GET", TASKS) as raw:
        assert raw.headers["Content-Encoding"] == "gzip"
        # Plain JSON under the gzip label: curl, decoding nothing unasked, reads it.
        task_id = json.loads(b"".join(raw.iter_raw()))["items"][0]["id"]

    asked = apiyi.get(TASKS, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in asked.headers
    assert [item["id"] for item in asked.json()["items"]] == [task_id]
    # The native prefix answers any client plainly.
    native = client(sim, "ark").get(f"{TASKS}/{task_id}")
    assert "Content-Encoding" not in native.headers
    assert native.json()["status"] == "queued"
    assert [entry["headers"].get("Accept-Encoding") for entry in sim.requests][-2:] == [
        "identity",
        apiyi.headers["Accept-Encoding"],  # httpx's default, as every request above sent
    ]


def test_reference_videos_and_audio_are_fetched_and_checked(sim, host, tmp_path):
    """Like the service, the simulator downloads each reference and looks inside it."""
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "walk.mp4", width=352, height=288, seconds=1, audio=True)
    video = host.put("walk.mp4", clip.read_bytes())
    image = data_uri(picture(864, 496))

    def references(video_link, audio_link):
        return {
            "content": [
                {"type": "text", "text": "A fox in the snow"},
                {"type": "image_url", "image_url": {"url": image}, "role": "reference_image"},
                {"type": "video_url", "video_url": {"url": video_link}, "role": "reference_video"},
                {"type": "audio_url", "audio_url": {"url": audio_link}, "role": "reference_audio"},
            ]
        }

    with client(sim, "ark") as api:
        gone = video.replace("walk.mp4", "gone.mp4")  # never put on the host
        missing = api.post(TASKS, json=small_clip(**references(gone, video)))
        assert missing.status_code == 400
        error = missing.json()["error"]
        assert error["param"] == "content[2].video_url.url"
        assert "could not be downloaded: HTTP 404" in error["message"]

        still = host.put("still.png", png(picture(400, 400)))
        silent = api.post(TASKS, json=small_clip(**references(video, still)))
        assert silent.status_code == 400
        assert silent.json()["error"]["param"] == "content[3].audio_url.url"
        assert sim.create_count == 0

        # The clip's sound track serves as the reference audio too.
        made = api.post(TASKS, json=small_clip(**references(video, video)))
        assert made.status_code == 200, made.text
