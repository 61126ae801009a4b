"""The simulator's injected faults, prompt directives and enforced limits, over real HTTP."""

import json
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from projects.simulator import Simulator
from projects.simulator.engine import Engine
from tests.test_simulator import TASKS, small_clip, wait
from tests.test_simulator_styles import CREATES, client, poll

# Each style's create path and a body it accepts, ark's included.
STYLES = {"ark": (TASKS, small_clip()), **CREATES}
ERRORS = {
    # style -> (rate-limit code, server-error code, error type of 429, of 503)
    "ark": ("RateLimitExceeded", "InternalServiceError", "TooManyRequests", "ServiceUnavailable"),
    **dict.fromkeys(
        CREATES, ("rate_limit_exceeded", "server_error", "rate_limit_error", "server_error")
    ),
}
# A prompt that makes a task no clip is rendered for, so tests stay cheap.
NEVER_RUNS = "[sim:expire] [sim:delay=60]"


@pytest.fixture
def sim(small_clips):
    with Simulator(delay=0.3, small=small_clips) as simulator:
        yield simulator


@pytest.fixture
def ark(sim):
    return client(sim, "ark")


def create(api, style, prompt=None, **headers):
    """POST a create of `style`; return the response."""
    path, body = STYLES[style]
    if prompt is not None:
        body = (
            small_clip(content=[{"type": "text", "text": prompt}])
            if style == "ark"
            else {**body, "prompt": prompt}
        )
    return api.post(path, json=body, headers=headers)


def task_id(answer):
    return answer.get("id") or answer["task_id"]


@pytest.mark.parametrize("style", STYLES)
def test_status_faults_answer_in_the_styles_own_error_body(sim, style):
    limited, broken, limited_type, broken_type = ERRORS[style]
    api = client(sim, style)
    sim.add_fault("create", {"status": 429, "retry_after": 2}, style=style, count=1)
    sim.add_fault("create", {"status": 503}, count=1)
    sim.add_fault(
        "*", {"status": 403, "code": "AccountOverdueError", "message": "Pay up."}, count=1
    )

    first = create(api, style)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert first.json()["error"]["code"] == limited
    assert first.json()["error"]["type"] == limited_type
    second = create(api, style)
    assert second.status_code == 503 and "retry-after" not in second.headers
    assert (second.json()["error"]["code"], second.json()["error"]["type"]) == (broken, broken_type)
    third = api.get(f"{STYLES[style][0]}/whatever")
    assert third.status_code == 403
    assert third.json()["error"]["code"] == "AccountOverdueError"
    assert third.json()["error"]["message"].startswith("Pay up.")
    # Each rule is used up; a fault never made a task.
    assert create(api, style, NEVER_RUNS).status_code == 200
    assert sim.create_count == 1


def test_rules_match_by_style_and_op_and_the_first_match_applies(sim, ark):
    wisgate = client(sim, "wisgate")
    sim.add_fault("get", {"status": 500}, style="wisgate")
    sim.add_fault("*", {"status": 502})
    assert wisgate.get("/v1/videos/x").status_code == 500
    assert wisgate.get("/v1/videos/y").status_code == 500  # no count: every time
    assert ark.get(f"{TASKS}/x").status_code == 502
    assert create(wisgate, "wisgate").status_code == 502
    sim.clear_faults()
    assert ark.get(f"{TASKS}/x").status_code == 404


def test_latency_answers_late_but_normally(sim, ark):
    sim.add_fault("get", {"latency": 0.4}, count=1)
    started = time.monotonic()
    late = ark.get(f"{TASKS}/cgt-none")
    assert time.monotonic() - started >= 0.4
    assert late.status_code == 404 and late.json()["error"]["code"] == "ResourceNotFound"
    started = time.monotonic()
    ark.get(f"{TASKS}/cgt-none")
    assert time.monotonic() - started < 0.3


def test_timeout_never_answers_and_creates_nothing():
    with Simulator(delay=0.3) as sim:
        sim.add_fault("create", {"timeout": True})
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                sim.base_url() + TASKS,
                json=small_clip(),
                headers={"Authorization": "Bearer k"},
                timeout=0.5,
            )
        assert sim.create_count == 0
        assert [entry["method"] for entry in sim.requests] == ["POST"]
        started = time.monotonic()
    # The held connection lets go as the server stops.
    assert time.monotonic() - started < 2


def test_a_lost_answer_still_makes_the_task_that_a_list_then_finds(sim, ark):
    sim.add_fault("create", {"lose_answer": True}, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        create(ark, "ark")
    assert sim.create_count == 1
    (lost,) = ark.get(TASKS).json()["items"]
    found = ark.get(TASKS, params={"filter.task_ids": [lost["id"], "cgt-other"]}).json()
    assert found["total"] == 1 and found["items"][0]["id"] == lost["id"]
    task, _ = wait(ark, lost["id"])
    assert task["status"] == "succeeded"


def test_expire_ends_a_created_task_as_expired_without_running(sim, ark):
    sim.add_fault("create", {"expire": True}, style="ark", count=1)
    sim.add_fault("create", {"expire": True}, style="dieyuyun", count=1)
    task, seen = wait(ark, create(ark, "ark").json()["id"])
    assert seen == ["queued", "expired"]
    assert task["error"] is None and "content" not in task

    dieyuyun = client(sim, "dieyuyun")
    path = f"{STYLES['dieyuyun'][0]}/{task_id(create(dieyuyun, 'dieyuyun').json())}"
    task, seen = poll(dieyuyun, path)
    assert seen == ["queued", "failed"]
    assert task["error"]["code"] == "expired"


def test_expire_and_moderation_on_get_end_the_task_being_read(sim, ark):
    first = create(ark, "ark", **{"X-Simulator-Delay": "60"}).json()["id"]
    second = create(ark, "ark", **{"X-Simulator-Delay": "60"}).json()["id"]
    sim.add_fault("get", {"expire": True}, count=1)
    assert ark.get(f"{TASKS}/{first}").json()["status"] == "expired"
    assert ark.get(f"{TASKS}/{first}").json()["status"] == "expired"
    assert ark.get(f"{TASKS}/{second}").json()["status"] == "queued"

    sim.add_fault("get", {"moderation": True}, count=1)
    moderated = ark.get(f"{TASKS}/{second}").json()
    assert moderated["status"] == "failed"
    assert moderated["error"]["code"] == "OutputVideoSensitiveContentDetected"


@pytest.mark.parametrize(
    ("style", "code"),
    [("ark", "OutputVideoSensitiveContentDetected"), ("futurmix", "content_policy_violation")],
)
def test_moderation_fails_the_created_task_with_the_styles_code(sim, style, code):
    sim.add_fault("create", {"moderation": True})
    api = client(sim, style)
    answer = create(api, style).json()
    path = f"{STYLES[style][0]}/{task_id(answer)}"
    task, seen = wait(api, task_id(answer)) if style == "ark" else poll(api, path)
    assert seen[-1] == "failed"
    assert task["error"]["code"] == code


def test_faults_over_http_and_per_request_header(sim, ark):
    control = sim.url + "/_simulator/faults"
    assert httpx.post(control, json={"op": "get", "status": 502, "count": 1}).json() == {}
    assert httpx.get(control).json() == [{"op": "get", "style": None, "count": 1, "status": 502}]
    assert ark.get(f"{TASKS}/x").status_code == 502
    assert httpx.get(control).json() == []
    httpx.post(control, json={"op": "*", "latency": 5})
    assert httpx.delete(control).json() == {}
    assert ark.get(f"{TASKS}/x").status_code == 404
    for bad in ({"op": "get"}, {"op": "get", "lose_answer": True}, {"op": "x", "status": 500}):
        assert httpx.post(control, json=bad).json()["error"]["code"] == "InvalidFault"

    moderated = create(ark, "ark", **{"X-Simulator-Fault": '{"moderation": true}'}).json()
    task, _ = wait(ark, moderated["id"])
    assert task["error"]["code"] == "OutputVideoSensitiveContentDetected"
    header = {"X-Simulator-Fault": '{"status": 429, "retry_after": 0.2}'}
    limited = ark.get(f"{TASKS}/x", headers=header)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    for bad in ("{nope", '{"lose_answer": true}', '{"status": 200}'):
        refused = ark.get(f"{TASKS}/x", headers={"X-Simulator-Fault": bad})
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "X-Simulator-Fault"


def test_add_fault_refuses_what_cannot_apply(sim):
    for op, action, extra in [
        ("get", {"lose_answer": True}, {}),
        ("list", {"expire": True}, {}),
        ("create", {"status": 500, "latency": 1}, {}),
        ("create", {"latency": 1, "code": "x"}, {}),
        ("create", {"timeout": False}, {}),
        ("create", {"status": 302}, {}),
        ("upload", {"status": 500}, {}),
        ("create", {"status": 500}, {"style": "sora"}),
        ("create", {"status": 500}, {"count": 0}),
        ("create", {"status": 429, "retry_after_as": "weeks"}, {}),
        ("create", {"latency": 1, "retry_after_as": "ms"}, {}),
        ("get", {"statuses": {}}, {}),
        ("get", {"statuses": {"in_progress": 3}}, {}),
        ("cancel", {"statuses": {"queued": "pending"}}, {}),
        ("get", {"result_host": "http://elsewhere/"}, {}),
        ("download", {"result_host": "localhost"}, {}),
    ]:
        with pytest.raises(ValueError):
            sim.add_fault(op, action, **extra)


def test_retry_after_in_each_form(sim, ark):
    def header(form):
        fault = {"status": 429, "retry_after": 2.5, "retry_after_as": form}
        return ark.get(f"{TASKS}/x", headers={"X-Simulator-Fault": json.dumps(fault)}).headers

    assert header("seconds")["retry-after"] == "3"
    assert header("decimal")["retry-after"] == "2.5"
    assert header("ms")["retry-after-ms"] == "2500" and "retry-after" not in header("ms")
    said = parsedate_to_datetime(header("date")["retry-after"]).timestamp()
    assert 2 <= said - time.time() <= 4


def test_statuses_and_result_host_change_what_answers_show(sim, ark):
    created = create(ark, "ark").json()
    wait(ark, created["id"])
    sim.add_fault("*", {"statuses": {"succeeded": "SUCCESS"}}, style="ark")
    assert ark.get(f"{TASKS}/{created['id']}").json()["status"] == "SUCCESS"
    listed = ark.get(TASKS, params={"filter.task_ids": created["id"]}).json()
    assert [item["status"] for item in listed["items"]] == ["SUCCESS"]
    sim.clear_faults()
    sim.add_fault("get", {"result_host": "localhost"}, style="ark", count=1)
    moved = ark.get(f"{TASKS}/{created['id']}").json()
    assert moved["status"] == "succeeded"
    port = sim.url.rsplit(":", 1)[1]
    assert moved["content"]["video_url"].startswith(f"http://localhost:{port}/files/")
    assert httpx.get(moved["content"]["video_url"]).status_code == 200
    again = ark.get(f"{TASKS}/{created['id']}").json()
    assert again["content"]["video_url"].startswith(sim.url)


def test_download_faults_hit_signed_files(sim, ark):
    task, _ = wait(ark, create(ark, "ark").json()["id"])
    video_url = task["content"]["video_url"]
    sim.add_fault("download", {"status": 503, "retry_after": 3}, style="ark", count=1)
    failing = httpx.get(video_url)
    assert failing.status_code == 503 and failing.headers["retry-after"] == "3"
    assert b"<Code>InternalError</Code>" in failing.content
    sim.add_fault("download", {"timeout": True}, style="wisgate")  # another style's files only
    assert httpx.get(video_url).status_code == 200
    sim.add_fault("download", {"timeout": True}, count=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(video_url, timeout=0.3)


@pytest.mark.parametrize("style", ["ark", "wisgate"])
def test_prompt_directives_set_fate_and_delay_and_leave_the_picture(sim, style):
    api = client(sim, style)
    path = STYLES[style][0]
    waiting = task_id(create(api, style, "A kite [sim:delay=60] over the sea").json())
    assert sim.engine.get(waiting).prompt == "A kite over the sea"
    assert sim.engine.get(waiting).delay == 60

    codes = {
        "ark": {
            "moderation": "OutputVideoSensitiveContentDetected",
            "fail": "InternalServiceError",
        },
        "wisgate": {"moderation": "content_policy_violation", "fail": "server_error"},
    }[style]
    for directive, code in codes.items():
        ended = task_id(create(api, style, f"[sim:{directive}] A kite").json())
        task, _ = wait(api, ended) if style == "ark" else poll(api, f"{path}/{ended}")
        assert (task["status"], task["error"]["code"]) == ("failed", code)
        assert sim.engine.get(ended).prompt == "A kite"
    assert api.get(f"{path}/{waiting}").json()["status"] == "queued"

    unknown = create(api, style, "A kite [sim:explode]")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == ("content" if style == "ark" else "prompt")
    assert "[sim:explode]" in unknown.json()["error"]["message"]


def test_documented_limits_refuse_with_retry_after():
    with Simulator(delay=0.3, limits=True) as sim:
        api = client(sim, "dieyuyun")
        for _ in range(2):
            assert create(api, "dieyuyun", NEVER_RUNS).status_code == 200
        busy = create(api, "dieyuyun", NEVER_RUNS)
        assert busy.status_code == 429 and 55 <= int(busy.headers["retry-after"]) <= 60
        assert busy.json()["error"]["code"] == "rate_limit_exceeded"
        assert "2 tasks" in busy.json()["error"]["message"]
        assert sim.creates_by_style == {"dieyuyun": 2}

        # Five requests a minute, the refused create among them.
        assert api.get("/v1/video/generations/x").status_code == 404
        assert api.get("/v1/video/generations/x").status_code == 404
        for _ in range(2):
            limited = api.get("/v1/video/generations/x")
            assert limited.status_code == 429 and 55 <= int(limited.headers["retry-after"]) <= 60
            assert "5 requests a minute" in limited.json()["error"]["message"]
        # Only the styles whose documents state limits get them.
        ark = client(sim, "ark")
        assert all(ark.get(f"{TASKS}/x").status_code == 404 for _ in range(6))


def test_limits_set_per_style(sim):
    sim.set_limits("futurmix", rpm=2, concurrency=1)
    api = client(sim, "futurmix")
    assert create(api, "futurmix", NEVER_RUNS).status_code == 200
    assert create(api, "futurmix", NEVER_RUNS).status_code == 429  # one unfinished at a time
    assert create(api, "futurmix", NEVER_RUNS).status_code == 429  # two a minute
    sim.set_limits("futurmix")
    assert create(api, "futurmix", NEVER_RUNS).status_code == 200
    with pytest.raises(ValueError):
        sim.set_limits("futurmix", rpm=0)


def test_a_task_slower_than_its_expiry_expires(tmp_path):
    engine = Engine(tmp_path)
    engine.start()
    try:
        task = engine.create(
            new_id=lambda: "cgt-slow", style="ark", model="m", prompt="", width=864, height=496,
            resolution="480p", ratio="16:9", duration=4, generate_audio=False, watermark=False,
            seed=1, return_last_frame=False, callback_url=None, expires_after=0.1, delay=60,
        )  # fmt: skip
        assert task.status == "queued"
        deadline = time.monotonic() + 5
        while engine.get("cgt-slow").status == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.get("cgt-slow").status == "expired"
        assert engine.get("cgt-slow").error.kind == "expired"
    finally:
        engine.close()
