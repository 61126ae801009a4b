"""A create whose answer is uncertain is never sent again by the app: it is found by what
was sent, or left to a person, who may send it again knowing it may be billed twice.

On the worker's own code (its clock and tasks, in this process) against the simulator.
"""

import signal
import subprocess

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects import pipeline
from projects.access import callback_token
from projects.models import Opening, Role, Take
from projects.pipeline.leases import HOST
from projects.pipeline.requests import build_request, fingerprinted, kept
from projects.providers import Found, LostCreate, get_client
from projects.providers.ark import ArkStyle
from projects.providers.base import GenerationRequest
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.PIPELINE_LEASE_SECONDS = 1.5  # provider calls time out after 0.5 s
    settings.PIPELINE_FIND_SECONDS = 8.0


@pytest.mark.parametrize(
    ("create", "lists"),
    [
        ({"latency": 1.0}, None),  # the client gives up first; the task is made after
        ({"lose_answer": True}, {"lag": 1.5}),  # made, then the connection drops
    ],
    ids=["read-timeout", "dropped-connection"],
)
def test_a_create_without_an_answer_is_found_once_the_list_shows_it(
    simulator, user, worker, create, lists
):
    simulator.add_fault("create", create, count=1)
    if lists:
        simulator.add_fault("list", lists)
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])

    (take,) = worker.generate(project)

    assert take.status == Take.Status.DONE
    assert simulator.create_count == 1 and take.attempts == 1
    assert "its task was found among the provider's" in take.note


def test_a_504_whose_task_was_made_is_followed_not_sent_again(simulator, user, worker):
    simulator.add_fault("create", {"status": 504, "after": True}, count=1)
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])

    (take,) = worker.generate(project)

    assert take.status == Take.Status.DONE
    assert simulator.create_count == 1
    assert [r["method"] for r in simulator.requests].count("POST") == 1


def test_a_5xx_that_made_nothing_waits_for_a_person_who_may_send_it_again(
    simulator, user, worker, client, settings, django_capture_on_commit_callbacks
):
    # Nothing was made: no list lag to outwait, so a short window (still two looks: at
    # once, and as it closes).
    settings.PIPELINE_FIND_SECONDS = 1.0
    simulator.add_fault("create", {"status": 503}, count=1)
    project = make_project(user, shots=[("A lighthouse", Opening.CUT), ("Its beam", "continue")])

    first, second = worker.generate(project)

    assert first.status == Take.Status.UNCERTAIN and first.next_look_at is None
    assert second.status == Take.Status.WAITING  # its chain waits with it
    assert simulator.create_count == 0 and first.attempts == 1
    client.force_login(user)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "The gateway may have made this shot; check its console before sending again." in page
    assert "Send again (may be billed twice)" in page
    # A viewer of the team is not offered it, and may not.
    viewer = make_user("vic")
    project.team.memberships.create(user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert "Send again" not in client.get(project.get_absolute_url()).content.decode()
    send_again = reverse("take-send-again", args=[project.pk, first.pk])
    assert client.post(send_again).status_code == 403

    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(send_again, HTTP_HX_REQUEST="true")
    first, second = worker.generate(project)

    assert [first.status, second.status] == [Take.Status.DONE, Take.Status.DONE]
    assert simulator.create_count == 2 and first.attempts == 2
    assert "knowing it may be billed twice" in first.note


def test_a_callback_or_a_sweep_leaves_a_create_in_the_air_to_its_worker(
    simulator, user, worker, settings, django_capture_on_commit_callbacks
):
    settings.PIPELINE_LEASE_SECONDS = 30  # the owner's lease outlives the test's steps
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    client = get_client()
    # Another worker process, alive, is sending this take's create as it was kept.
    owner = subprocess.Popen(["sleep", "60"])
    take.attempts, take.seed = 1, 7
    request = fingerprinted(build_request(take.shot, None, client, seed=7, kind=take.kind), take)
    Take.objects.filter(pk=take.pk).update(
        status=Take.Status.SUBMITTING,
        provider="ark",
        worker=f"{HOST}:{owner.pid}",
        heartbeat_at=timezone.now(),
        submitted_at=timezone.now(),
        attempts=1,
        seed=7,
        request=kept(request),
    )

    # The provider calls back (a task of the callback's take changed); the sweep runs.
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("take-callback", args=[callback_token(take, 3600)]), {})
    worker.drain()
    worker.run("projects.tasks.recover")

    take.refresh_from_db()
    assert take.status == Take.Status.SUBMITTING and take.worker.endswith(f":{owner.pid}")
    assert simulator.requests == []  # nothing looked for, nothing sent

    made = client.create(request)  # the owner's create lands; then the owner dies
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    worker.until(lambda: Take.objects.get(pk=take.pk).status == Take.Status.DONE)

    take.refresh_from_db()
    assert take.remote_id == made and simulator.create_count == 1
    assert "found among the provider's" in take.note


def test_the_task_is_looked_for_by_what_was_sent_not_by_the_edited_shot(simulator, user, worker):
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    # The first look, at once, cannot see the task; the shot is edited before the next
    # (a second later at the soonest, and only once worker.until below runs the clock).
    simulator.add_fault("list", {"lag": 2.0})
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    pipeline.queue_takes(project)
    worker.run("projects.tasks.start", project.pk)
    take = project.shots.get().latest_take
    assert take.status == Take.Status.UNCERTAIN and take.next_look_at is not None

    shot = project.shots.get()
    shot.prompt, shot.duration = "A lighthouse in a storm", 6
    shot.save()
    project.resolution = "720p"
    project.save()
    worker.until(lambda: not Take.objects.working().exists())

    take.refresh_from_db()
    assert take.status == Take.Status.DONE and simulator.create_count == 1
    assert (take.request["prompt"], take.request["duration"]) == ("A lighthouse", 4)
    assert take.duration == pytest.approx(4, abs=0.1)


def lister(items):
    """An Ark-style client whose list answers `items`: a gateway's answer, the internet."""

    def answer(request):
        return httpx.Response(200, json={"total": len(items), "items": items})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return ArkStyle("https://gateway.example/api/v3", "key", http)


def test_a_task_that_echoes_less_than_was_sent_is_unsure_never_a_match():
    request = GenerationRequest(
        model="m", prompt="p", duration=5, resolution="720p", ratio="16:9", seed=7,
        fingerprint="ab" * 32,
    )  # fmt: skip
    echoes = {
        "seed": 7,
        "duration": 5,
        "resolution": "720p",
        "ratio": "16:9",
        "generate_audio": False,
        "execution_expires_after": lister([]).create_body(request)["execution_expires_after"],
    }
    ours = {"id": "cgt-ours", "status": "running", "created_at": 1000, **echoes}
    bare = {"id": "cgt-bare", "status": "running", "created_at": 1000}
    other = {**ours, "id": "cgt-other", "seed": 8}
    older = {**ours, "id": "cgt-older", "created_at": 100}
    lost = LostCreate(request, since=990)

    found = lister([ours, bare, other, older]).find_lost(lost)

    assert isinstance(found, Found)
    assert [t.id for t in found.matches] == ["cgt-ours"]
    assert [t.id for t in found.unsure] == ["cgt-bare"]
