"""Real gateways as they behave: base URLs, answer shapes, Retry-After, inputs, downloads.

Each test talks to the simulator over loopback HTTP, switched to behave like the gateway
in question (see the simulator's fault switches).
"""

import time

import pytest
from django.utils import timezone

from projects import pipeline
from projects.models import Opening, Take
from projects.providers import SIMULATOR_PREFIXES, GenerationRequest, TaskState, get_client
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
