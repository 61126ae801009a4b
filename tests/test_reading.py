"""Reading tasks within what a gateway serves and allows: one by one where it has no list,
and within its daily quota, polls included, shared by every worker.

On the worker's own code (its clock and tasks, in this process) against the simulator.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from projects import limits, pipeline
from projects.models import Opening, ProviderCall, ProviderGate, Take
from projects.providers import SIMULATOR_PREFIXES
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.PIPELINE_LEASE_SECONDS = 1.5


def lists(simulator):
    return [r for r in simulator.requests if r["method"] == "GET" and r["path"].endswith("/tasks")]


def test_a_missing_list_route_is_remembered_and_tasks_are_read_one_by_one(simulator, user, worker):
    simulator.add_fault("list", {"no_route": True})
    parallel = [("Harbour [sim:delay=0.5]", Opening.CUT), ("Market [sim:delay=0.5]", Opening.CUT)]

    first = worker.generate(make_project(user, shots=parallel))
    second = worker.generate(make_project(user, title="Again", shots=parallel))

    assert {take.status for take in first + second} == {Take.Status.DONE}
    assert simulator.create_count == 4
    assert len(lists(simulator)) == 1  # the first answer was enough, for every worker
    assert ProviderGate.objects.get(provider="ark").lists is False


def test_the_apiyi_preset_reads_by_id_from_the_start(simulator, user, worker, settings):
    settings.SEEDANCE_PRESET = "apiyi"
    settings.SEEDANCE_BASE_URL = simulator.url + "/seedance/api/v3"
    simulator.add_fault("list", {"no_route": True})
    parallel = [("Harbour [sim:delay=0.5]", Opening.CUT), ("Market [sim:delay=0.5]", Opening.CUT)]

    takes = worker.generate(make_project(user, shots=parallel))

    assert {take.status for take in takes} == {Take.Status.DONE}
    assert lists(simulator) == [] and simulator.create_count == 2


@pytest.fixture
def dieyuyun(simulator, settings):
    """The dieyuyun gateway, whose quota is 3 requests a day here, told to the app and
    enforced by the simulator as the gateway would."""
    settings.SEEDANCE_API_STYLE = "dieyuyun"
    settings.SEEDANCE_BASE_URL = simulator.url + SIMULATOR_PREFIXES["dieyuyun"]
    settings.SEEDANCE_DAILY = 3
    simulator.set_limits("dieyuyun", per_day=3)
    return simulator


def test_the_daily_quota_counts_polls_and_the_card_says_until_when(
    dieyuyun, user, worker, client_of
):
    harbour = {"prompt": "Harbour [sim:delay=30]", "opening": Opening.CUT, "duration": 5}
    project = make_project(user, resolution="720p", shots=[harbour])
    pipeline.queue_takes(project)
    worker.run("projects.tasks.start", project.pk)
    first = project.shots.get().latest_take
    quota = "daily quota of 3 requests is used up until"
    worker.until(lambda: quota in Take.objects.get(pk=first.pk).note, what="the quota to end")

    market = make_project(user, resolution="720p", shots=[{**harbour, "prompt": "Market"}])
    (second,) = pipeline.queue_takes(market)
    worker.run("projects.tasks.start", market.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert len(dieyuyun.requests) == 3  # a create and two reads; never a 429 from it
    assert first.status in (Take.Status.QUEUED, Take.Status.RUNNING)
    assert first.next_look_at > timezone.now() + timedelta(hours=23)
    assert second.status == Take.Status.WAITING and quota in second.note
    assert dieyuyun.create_count == 1
    assert quota in client_of.get(project.get_absolute_url()).content.decode()


def test_reads_slow_down_as_a_daily_quota_runs_low(settings):
    settings.SEEDANCE_BASE_URL = ""
    settings.SEEDANCE_DAILY = 100
    quick = limits.read_step()
    ProviderCall.objects.bulk_create(
        ProviderCall(provider="simulator", at=timezone.now()) for _ in range(70)
    )
    assert limits.read_step() == quick  # 30 left of 100
    ProviderCall.objects.bulk_create(
        ProviderCall(provider="simulator", at=timezone.now()) for _ in range(10)
    )
    assert limits.read_step() == 864.0  # 20 left: a day's pace, 86400 s / 100
