"""Real gateways as they behave: base URLs, answer shapes, Retry-After, inputs, downloads.

Each test talks to the simulator over loopback HTTP, switched to behave like the gateway
in question (see the simulator's fault switches).
"""

import json
import struct
import time

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from projects import pipeline
from projects.models import Opening, Take
from projects.providers import (
    SEED_PROBLEM,
    SIMULATOR_PREFIXES,
    STYLES,
    GenerationRequest,
    ProviderError,
    TaskState,
    get_client,
)
from tests.clips import make_clip
from tests.factories import make_project

# Where each OpenAI-style gateway lives on the simulator, without its version segment.
GATEWAY_ROOTS = {
    "dieyuyun": "/dieyuyun",
    "wisgate": "/wisgate",
    "openai-videos": "/openai-videos",
    "futurmix": "/futurmix",
}
# A request each style takes as it is.
MODELS = {
    "ark": "doubao-seedance-2-0-fast-260128",
    "dieyuyun": "doubao-seedance-2-0",
    "wisgate": "doubao-seedance-2",
    "openai-videos": "doubao-seedance-2-0-fast-260128",
    "futurmix": "doubao-seedance-2-0-fast-260128",
}


def request(style, **overrides):
    fields = {
        "model": MODELS[style],
        "prompt": "A red kite",
        "duration": 5,
        "resolution": "720p",
        "ratio": "16:9",
    }
    return GenerationRequest(**{**fields, **overrides})


def use_style(settings, simulator, style, base_url=None):
    settings.SEEDANCE_BASE_URL = base_url or simulator.url + SIMULATOR_PREFIXES[style]
    settings.SEEDANCE_API_STYLE = style


def until_finished(client, task_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(task_id)
        if task.state.finished:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} unfinished after {timeout} s")


# Base URLs.


@pytest.mark.parametrize("style", list(GATEWAY_ROOTS))
@pytest.mark.parametrize("tail", ["", "/", "/v1"])
def test_an_openai_style_base_url_works_with_or_without_v1(simulator, settings, style, tail):
    use_style(settings, simulator, style, simulator.url + GATEWAY_ROOTS[style] + tail)
    client = get_client()
    task_id = client.create(request(style))
    assert client.get(task_id).id == task_id
    assert simulator.creates_by_style == {style: 1}
    assert all("/v1/v1/" not in entry["path"] for entry in simulator.requests)


# Retry-After.


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["decimal", "date", "ms"])
def test_a_create_waits_as_long_as_retry_after_says_in_any_form(simulator, user, form):
    simulator.add_fault(
        "create", {"status": 429, "retry_after": 7.5, "retry_after_as": form}, count=1
    )
    project = make_project(user, shots=[("A lighthouse at dusk", Opening.CUT)])
    pipeline.queue_takes(project)
    sent = timezone.now()
    pipeline.start_ready(project)
    take = project.shots.get().latest_take
    assert take.status == Take.Status.WAITING and simulator.create_count == 0
    # The date form counts whole seconds, so it may say up to a second more.
    waits = (take.not_before - sent).total_seconds()
    assert 6.5 <= waits <= 9.5, waits


# Answer shapes and status words.

# Each gateway's answer said with the other family's words.
SYNONYMS = {
    "ark": {"running": "in_progress", "succeeded": "completed"},
    "dieyuyun": {"processing": "running", "completed": "succeeded"},
    "wisgate": {"in_progress": "processing", "completed": "succeeded"},
    "openai-videos": {"in_progress": "running", "completed": "succeeded"},
    "futurmix": {"in_progress": "processing", "completed": "succeeded"},
}
SETTINGS = {
    "ark": {"resolution": "480p", "duration": 4},
    "dieyuyun": {"resolution": "720p", "duration": 5},
    "wisgate": {"resolution": "720p", "duration": 4},
    "openai-videos": {"resolution": "480p", "duration": 4},
    "futurmix": {"resolution": "480p", "duration": 4},
}


def project_in(user, style, prompts, **settings):
    case = SETTINGS[style]
    shots = [{"prompt": prompt, "duration": case["duration"]} for prompt in prompts]
    settings = {"model": MODELS[style], "resolution": case["resolution"], **settings}
    return make_project(user, shots=shots, **settings)


@pytest.mark.django_db
@pytest.mark.parametrize("style", list(SYNONYMS))
def test_a_gateway_answering_with_synonyms_still_chains_its_shots(simulator, settings, user, style):
    use_style(settings, simulator, style)
    settings.PUBLIC_BASE_URL = ""
    simulator.add_fault("*", {"statuses": SYNONYMS[style]}, style=style)
    project = project_in(user, style, ["A kite rises", "It loops over the dunes"])
    if style in ("dieyuyun", "wisgate"):  # they fetch frames by URL: a cut each
        project.shots.update(opening=Opening.CUT)
    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [take.status for take in takes] == [Take.Status.DONE] * 2, [t.error for t in takes]
    assert simulator.creates_by_style == {style: 2}


@pytest.mark.django_db
def test_an_unknown_status_keeps_the_take_reading_with_the_word_on_its_card(
    simulator, settings, user, client_of
):
    use_style(settings, simulator, "futurmix")
    project = project_in(user, "futurmix", ["A kite rises [sim:delay=2]"])
    simulator.add_fault("get", {"statuses": {"in_progress": "warming_up"}}, style="futurmix")
    pipeline.queue_takes(project)
    pipeline.start_ready(project)
    take = project.shots.get().latest_take
    until = time.monotonic() + 10
    while "warming_up" not in take.note and time.monotonic() < until:
        pipeline.poll_many([take])
        take.refresh_from_db()
    assert take.status in (Take.Status.QUEUED, Take.Status.RUNNING)
    assert "“warming_up”" in take.note
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "warming_up" in page

    simulator.clear_faults()
    pipeline.run_here(project, deadline=time.monotonic() + 30)
    take.refresh_from_db()
    assert take.status == Take.Status.DONE and take.note == ""
    assert simulator.create_count == 1


ARK_SHAPE = {
    "id": "cgt-1",
    "status": "succeeded",
    "content": {"video_url": "https://cdn.example/v.mp4", "last_frame_url": "https://cdn/f.png"},
    "usage": {"completion_tokens": 108900},
    "created_at": 1780732857,
    "updated_at": 1780732991,
    "duration": 5,
}
OPENAI_SHAPE = {
    "task_id": "cgt-1",
    "status": "completed",
    "progress": 100,
    "metadata": {"url": "https://cdn.example/v.mp4"},
    "created_at": 1780732857000,
    "completed_at": "2026-06-06T08:03:11Z",
    "seconds": "5",
}


@pytest.mark.parametrize("style", list(MODELS))
@pytest.mark.parametrize("answer", [ARK_SHAPE, OPENAI_SHAPE], ids=["ark-shape", "openai-shape"])
def test_every_style_reads_both_shapes_of_a_task_answer(style, answer):
    task = STYLES[style]("https://gateway.example", "key", http=None).parse_task(answer)
    assert (task.id, task.state, task.duration) == ("cgt-1", TaskState.SUCCEEDED, 5)
    assert task.video_url == "https://cdn.example/v.mp4"
    assert task.created_at == 1780732857
    assert task.finished_at == 1780732991


# Result downloads.


def finished_task(simulator, **fault):
    """A succeeded ark task, read with `fault` (an answer switch) in force on its get."""
    client = get_client()
    task_id = client.create(request("ark", resolution="480p", duration=4))
    until_finished(client, task_id)
    if fault:
        simulator.add_fault("get", fault, count=1)
    return client.get(task_id)


@pytest.mark.django_db
def test_a_render_collects_its_clip_from_another_host_without_the_key(simulator, user):
    # The simulator's file links refuse an Authorization header, as signed links do.
    simulator.add_fault("*", {"result_host": "localhost"})
    project = make_project(user, shots=[("A kite", Opening.CUT), ("It dives", Opening.CONTINUE)])
    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [take.status for take in takes] == [Take.Status.DONE] * 2
    assert simulator.create_count == 2
    assert takes[1].last_frame_source == "provider"


def test_the_key_goes_to_the_exact_origin_of_the_base_url_only(simulator):
    task = finished_task(simulator, result_host="localhost")
    assert task.video_url.startswith("http://localhost:")
    # A gateway at the root of its host (as dieyuyun's and wisgate's are): its key must
    # not follow a URL that merely starts with the same text, here another port.
    rooted = STYLES["dieyuyun"]("http://localhost", "secret", httpx.Client(timeout=10))
    with rooted.download(task.video_url, ".mp4") as video:
        assert video.read(8)[4:8] == b"ftyp"
    # The API's own route under its base URL still gets it.
    client = STYLES["openai-videos"](simulator.base_url("openai-videos"), "k", httpx.Client())
    video_id = client.create(request("openai-videos", resolution="480p", duration=4))
    until_finished(client, video_id)
    with client.download(f"{client.base_url}/v1/videos/{video_id}/content", ".mp4") as video:
        assert video.read(8)[4:8] == b"ftyp"


@pytest.mark.parametrize(
    "url",
    ["{sim}/files/x.mp4", "http://localhost:9/x.mp4", "file:///etc/passwd", "ftp://ftp.test/x"],
)
def test_a_public_gateway_never_sends_the_app_to_an_internal_or_odd_address(simulator, url):
    public = STYLES["ark"]("https://1.1.1.1/api/v3", "key", httpx.Client(timeout=5))
    with pytest.raises(ProviderError) as refused:
        public.download(url.format(sim=simulator.url))
    assert refused.value.permanent and "Refused to download" in str(refused.value)


@pytest.mark.django_db
def test_a_result_larger_than_the_cap_is_refused(simulator, settings, user):
    settings.SEEDANCE_MAX_DOWNLOAD_BYTES = 1000
    project = make_project(user, shots=[("A kite", Opening.CUT)])
    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)
    take = project.shots.get().latest_take
    assert take.status == Take.Status.FAILED
    assert "SEEDANCE_MAX_DOWNLOAD_BYTES" in take.error
    assert simulator.create_count == 1


def test_a_download_gives_up_at_its_deadline(simulator, settings):
    settings.SEEDANCE_DOWNLOAD_SECONDS = 0.5
    task = finished_task(simulator)
    simulator.add_fault("download", {"latency": 5}, count=1)
    with pytest.raises(ProviderError) as late:
        get_client().download(task.video_url)
    assert not late.value.permanent


# Endpoint ids, and the project's fast model.

# An endpoint of the standard model whose name happens to hold "fast", and one of the
# fast model: only the project can say which is which.
FINAL_ENDPOINT = "ep-20260214093000-fast1"
DRAFT_ENDPOINT = "ep-20260214093001-quick"


@pytest.mark.django_db
def test_endpoint_ids_draft_and_final_on_the_models_the_project_names(simulator, user, client_of):
    project = make_project(user, shots=[("A kite", Opening.CUT), ("It dives", Opening.CONTINUE)])
    saved = client_of.post(
        reverse("project-settings", args=[project.pk]),
        {
            "title": project.title,
            "model": FINAL_ENDPOINT,
            "draft_model": DRAFT_ENDPOINT,
            "resolution": "1080p",
            "ratio": "16:9",
            "version": project.version,
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    project.refresh_from_db()

    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)
    pipeline.queue_finals(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)

    takes = Take.objects.filter(shot__project=project).order_by("kind", "shot__position")
    assert [(t.kind, t.status) for t in takes] == [("draft", "done")] * 2 + [("final", "done")] * 2
    creates = [e["json"] for e in simulator.requests if e["method"] == "POST"]
    assert [(c["model"], c["resolution"]) for c in creates] == [
        (DRAFT_ENDPOINT, "480p"),
        (DRAFT_ENDPOINT, "480p"),
        (FINAL_ENDPOINT, "1080p"),
        (FINAL_ENDPOINT, "1080p"),
    ]


def test_a_known_model_drafts_on_its_fast_sibling_unless_the_project_names_another():
    ark = STYLES["ark"]
    final = {"model": "dreamina-seedance-2-0-260128", "resolution": "720p", "ratio": "16:9"}
    assert ark.draft_settings(final)["model"] == "dreamina-seedance-2-0-fast-260128"
    assert ark.draft_settings(final, DRAFT_ENDPOINT)["model"] == DRAFT_ENDPOINT
    endpoint = {**final, "model": FINAL_ENDPOINT}
    assert ark.draft_settings(endpoint)["model"] == FINAL_ENDPOINT
    assert ark.settings_problems(request("ark", model=FINAL_ENDPOINT, resolution="1080p")) == []
    refused = ark.settings_problems(request("ark", resolution="1080p"))
    assert refused == ["The fast model goes up to 720p; pick 480p or 720p."]


# Input checks.


def post_shot(client, project, **fields):
    data = {"prompt": "A fox in the snow", "duration": 5, "opening": "cut", **fields}
    return client.post(reverse("shot-create", args=[project.pk]), data)


@pytest.mark.django_db
def test_a_seed_outside_the_apis_range_is_refused_in_the_form(simulator, user, client_of):
    project = make_project(user)
    for seed in (2**32, -2):
        refused = post_shot(client_of, project, seed=seed)
        assert refused.status_code == 400 and SEED_PROBLEM in refused.content.decode()
    assert post_shot(client_of, project, seed=2**32 - 1).status_code == 302
    assert post_shot(client_of, project, seed=-1).status_code == 302
    assert [shot.seed for shot in project.shots.all()] == [2**32 - 1, None]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [2**32, -2, 2**70, "7"])
def test_a_seed_outside_the_apis_range_is_refused_from_the_file_and_the_command_line(
    simulator, user, tmp_path, seed
):
    storyboard = tmp_path / "autumn.json"
    shots = [{"prompt": "Drone shot over a valley", "duration": 4, "seed": seed}]
    storyboard.write_text(json.dumps({"title": "Autumn", "shots": shots}))
    with pytest.raises(CommandError, match="A seed is a whole number from -1"):
        call_command("storyboard", "import", str(storyboard), "--owner", user.username)


def bigger_than_4_mb(mp4):
    """A real clip followed by a 'free' box: still a valid MP4, over 4 MB."""
    padding = 4 * 1024 * 1024 + 1
    return mp4 + struct.pack(">I", padding + 8) + b"free" + bytes(padding)


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "a.mp4", width=352, height=288, seconds=2)


@pytest.mark.django_db
def test_wisgate_refuses_a_reference_video_of_4_mb_in_the_form(
    simulator, settings, user, client_of, mp4
):
    use_style(settings, simulator, "wisgate")
    settings.PUBLIC_BASE_URL = "http://app.example"
    project = make_project(user, model="doubao-seedance-2", resolution="720p")
    big = SimpleUploadedFile("big.mp4", bigger_than_4_mb(mp4.read_bytes()))
    refused = post_shot(client_of, project, references=[big])
    assert refused.status_code == 400
    assert "Reference video 1 is 4.0 MB; the wisgate API takes files under 4 MB." in (
        refused.content.decode()
    )
    small = SimpleUploadedFile("small.mp4", mp4.read_bytes())
    assert post_shot(client_of, project, references=[small]).status_code == 302


def test_the_wisgate_simulator_refuses_a_reference_video_of_4_mb(simulator, mp4):
    (simulator.data_dir / "big.mp4").write_bytes(bigger_than_4_mb(mp4.read_bytes()))
    body = {
        "model": "doubao-seedance-2",
        "prompt": "Like the video",
        "mode": "r2v",
        "videos": [simulator.link("big.mp4", int(time.time()) + 60)],
    }
    headers = {"Authorization": "Bearer k"}
    answer = httpx.post(f"{simulator.base_url('wisgate')}/v1/videos", json=body, headers=headers)
    assert answer.status_code == 400
    assert "smaller than 4 MB" in answer.json()["error"]["message"]
    assert simulator.create_count == 0


@pytest.mark.django_db
def test_wisgates_portrait_720p_is_2_3_said_and_rendered_so(simulator, settings, user, client_of):
    use_style(settings, simulator, "wisgate")
    project = make_project(user, model="doubao-seedance-2", resolution="720p")
    page = client_of.get(reverse("project-settings", args=[project.pk])).content.decode()
    assert "720×1080 (2:3, 720p)" in page
    saved = client_of.post(
        reverse("project-settings", args=[project.pk]),
        {
            "title": project.title,
            "model": "doubao-seedance-2",
            "resolution": "720p",
            "ratio": "2:3",
            "version": project.version,
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    project.refresh_from_db()
    project.shots.create(prompt="A lighthouse", duration=4, opening=Opening.CUT)
    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)
    take = project.shots.get().latest_take
    assert take.status == Take.Status.DONE, take.error
    (create,) = [e["json"] for e in simulator.requests if e["method"] == "POST"]
    assert create["size"] == "720x1080"
    (task,) = simulator.engine.tasks()
    assert (task.width, task.height, task.ratio) == (720, 1080, "2:3")


@pytest.mark.django_db
def test_a_whole_render_through_a_rate_limit_said_in_milliseconds(simulator, user):
    simulator.add_fault(
        "create", {"status": 429, "retry_after": 0.4, "retry_after_as": "ms"}, count=1
    )
    project = make_project(user, shots=[("A kite", Opening.CUT), ("It dives", Opening.CONTINUE)])
    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 60)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [take.status for take in takes] == [Take.Status.DONE] * 2
    assert [take.attempts for take in takes] == [2, 1] and simulator.create_count == 2
