"""The native-style client against the simulator over real HTTP, and its parsing."""

import io
import time

import httpx
import PIL.Image
import pytest

from projects.providers import (
    GenerationRequest,
    Image,
    ProviderError,
    TaskState,
    get_client,
)
from projects.providers.ark import ArkStyle
from projects.simulator import Simulator


def png(size=(640, 360), color=(40, 120, 200)):
    out = io.BytesIO()
    PIL.Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


ARK = ArkStyle("https://ark.example/api/v3", "key", http=None)


def request(**overrides):
    fields = {
        "model": "doubao-seedance-2-0-fast-260128",
        "prompt": "A red kite",
        "duration": 4,
        "resolution": "480p",
        "ratio": "16:9",
    }
    return GenerationRequest(**{**fields, **overrides})


def wait_until_finished(client, task_id, timeout=20):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        task = client.get(task_id)
        if not seen or seen[-1] != task.state:
            seen.append(task.state)
        if task.state.finished:
            return task, seen
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still {seen[-1]} after {timeout} s")


def test_a_task_goes_from_queued_through_running_to_succeeded(simulator):
    simulator.delay = 1.0  # a quarter of it queued: each state is read a few times
    client = get_client()
    task_id = client.create(request())
    task, seen = wait_until_finished(client, task_id)

    assert seen == [TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]
    assert task.tokens == 864 * 496 * 97 // 1024
    assert task.video_url and task.last_frame_url
    with client.download(task.video_url, ".mp4") as video:
        assert video.read(12)[4:8] == b"ftyp"
    with client.download(task.last_frame_url, ".png") as frame:
        assert frame.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_wire_request_is_the_documented_native_shape(simulator):
    get_client().create(request(first_frame=Image(data=png()), seed=7, generate_audio=False))
    (sent,) = [r for r in simulator.requests if r["method"] == "POST"]

    assert sent["path"] == "/api/v3/contents/generations/tasks"
    assert sent["headers"]["Authorization"] == "Bearer test-key"
    body = sent["json"]
    assert body["content"][0] == {"type": "text", "text": "A red kite"}
    assert body["content"][1]["role"] == "first_frame"
    assert body["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    # 2.0 makes sound unless told otherwise, so the choice is always sent.
    assert body["generate_audio"] is False
    assert body["return_last_frame"] is True
    assert (body["duration"], body["resolution"], body["ratio"], body["seed"]) == (
        4,
        "480p",
        "16:9",
        7,
    )


def test_a_refused_request_becomes_a_permanent_error_with_the_providers_words(simulator):
    with pytest.raises(ProviderError) as caught:
        get_client().create(request(resolution="1080p"))
    error = caught.value
    assert error.permanent
    assert error.status == 400
    assert error.code == "InvalidParameter"
    assert error.request_id
    assert "1080p" in error.message or "resolution" in error.message


def test_a_wrong_key_is_a_permanent_authentication_error(settings):
    with Simulator(port=0, delay=0.1, api_key="the-right-key") as sim:
        settings.SEEDANCE_BASE_URL = f"{sim.url}/api/v3"
        settings.SEEDANCE_API_KEY = "a-wrong-key"
        with pytest.raises(ProviderError) as caught:
            get_client().create(request())
    assert caught.value.permanent and caught.value.status == 401


def test_the_ark_style_reads_a_gateway_that_garbles_gzip_with_or_without_its_preset(
    simulator, settings
):
    # The simulator's apiyi prefix sends what its document warns of: unreadable gzip,
    # unless the client asks for no encoding. Plain `ark` asks, so no preset is needed.
    with pytest.raises(httpx.DecodingError):
        httpx.get(f"{simulator.url}/seedance/api/v3/contents/generations/tasks/cgt-x")

    settings.SEEDANCE_BASE_URL = f"{simulator.url}/seedance/api/v3"
    for preset in ("", "apiyi"):
        settings.SEEDANCE_PRESET = preset
        client = get_client()
        # A task no clip is rendered for: only the answers matter here.
        task_id = client.create(request(prompt="A red kite [sim:expire] [sim:delay=60]"))
        assert client.get(task_id).state == TaskState.QUEUED
        assert simulator.requests[-1]["headers"]["Accept-Encoding"] == "identity"


def test_a_configured_provider_without_a_key_is_refused_before_sending(settings):
    settings.SEEDANCE_BASE_URL = "https://ark.cn-beijing.volces.com/api/v3"
    settings.SEEDANCE_API_KEY = ""
    with pytest.raises(ProviderError, match="SEEDANCE_API_KEY") as caught:
        get_client()
    assert caught.value.permanent


def test_an_unreachable_provider_is_a_transient_error(settings):
    settings.SEEDANCE_BASE_URL = "http://127.0.0.1:9/api/v3"
    settings.SEEDANCE_API_KEY = "k"
    with pytest.raises(ProviderError) as caught:
        get_client().get("cgt-1")
    assert not caught.value.permanent


def test_an_ark_error_body_says_whether_retrying_helps():
    def answer(status, code, headers=None):
        body = {
            "error": {
                "code": code,
                "message": f"{code} happened. Request id: 2026abc",
                "param": "",
                "type": "BadRequest",
            }
        }
        return httpx.Response(status, json=body, headers=headers or {})

    from projects.providers.style import error_from_response

    limited = error_from_response(
        answer(429, "RateLimitExceeded.EndpointRPMExceeded", {"Retry-After": "7"})
    )
    assert (limited.permanent, limited.retry_after, limited.request_id) == (False, 7, "2026abc")
    assert error_from_response(answer(500, "InternalServiceError")).permanent is False
    assert error_from_response(answer(403, "AccountOverdueError")).permanent is True
    moderated = error_from_response(answer(400, "InputTextSensitiveContentDetected"))
    assert moderated.permanent and moderated.moderation


def test_it_parses_the_documented_task_object():
    task = ARK.parse_task(
        {
            "id": "cgt-20260514183217-t8rzv",
            "model": "doubao-seedance-2-0-260128",
            "status": "succeeded",
            "error": None,
            "content": {
                "video_url": "https://x/v.mp4?X-Tos-Expires=86400",
                "last_frame_url": "https://x/f.png",
            },
            "usage": {"completion_tokens": 108900, "total_tokens": 108900},
            "created_at": 1778754737,
            "updated_at": 1778755025,
            "seed": 1276,
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "framespersecond": 24,
        }
    )
    assert task.state == TaskState.SUCCEEDED
    assert (task.tokens, task.seed, task.duration) == (108900, 1276, 5)
    assert task.last_frame_url == "https://x/f.png"


def test_a_failed_task_carries_its_error():
    task = ARK.parse_task(
        {
            "id": "cgt-1",
            "status": "failed",
            "error": {"code": "OutputVideoSensitiveContentDetected", "message": "Blocked."},
        }
    )
    assert task.state == TaskState.FAILED
    assert task.error.moderation and task.error.permanent


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("processing", TaskState.RUNNING),
        ("in_progress", TaskState.RUNNING),
        ("Completed", TaskState.SUCCEEDED),
        ("error", TaskState.FAILED),
        ("canceled", TaskState.CANCELLED),
        ("warming_up", TaskState.UNKNOWN),
        ("", TaskState.UNKNOWN),
        (None, TaskState.UNKNOWN),
    ],
)
def test_any_style_reads_every_status_word_and_an_unknown_one_as_unfinished(status, state):
    task = ARK.parse_task({"id": "cgt-1", "status": status})
    assert task.state == state
    assert task.state.finished == (state not in (TaskState.RUNNING, TaskState.UNKNOWN))


@pytest.mark.parametrize("style", ["ark", "dieyuyun", "wisgate", "openai-videos", "futurmix"])
def test_a_rate_limit_in_any_style_is_transient_and_says_when_to_retry(simulator, settings, style):
    from projects.providers import SIMULATOR_PREFIXES, STYLES

    settings.SEEDANCE_BASE_URL = simulator.url + SIMULATOR_PREFIXES[style]
    settings.SEEDANCE_API_STYLE = style
    simulator.add_fault("create", {"status": 429, "retry_after": 3}, count=1)
    model = STYLES[style].models[0]
    with pytest.raises(ProviderError) as caught:
        get_client().create(request(model=model, duration=5, resolution="720p"))
    assert (caught.value.permanent, caught.value.status, caught.value.retry_after) == (
        False,
        429,
        3,
    )
    assert simulator.create_count == 0


def test_a_server_error_is_transient_and_a_forbidden_key_permanent(simulator):
    simulator.add_fault("create", {"status": 503}, count=1)
    with pytest.raises(ProviderError) as caught:
        get_client().create(request())
    assert not caught.value.permanent
    simulator.add_fault("create", {"status": 403, "code": "AccountOverdueError"}, count=1)
    with pytest.raises(ProviderError) as caught:
        get_client().create(request())
    assert caught.value.permanent and caught.value.code == "AccountOverdueError"
