"""The pipeline under injected faults: nothing paid twice, nothing stuck, the take says why."""

from datetime import timedelta

import pytest

from projects import pipeline
from projects.models import Opening, Take
from projects.providers import SIMULATOR_PREFIXES
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.PIPELINE_LEASE_SECONDS = 1.5  # provider calls time out after 0.5 s
    settings.PIPELINE_FIND_SECONDS = 2.0  # an uncertain create is looked for this long


def generate_one(user, prompt="A lighthouse at dusk"):
    project = make_project(user, shots=[(prompt, Opening.CUT)])
    pipeline.queue_takes(project)
    pipeline.run_here(project)
    return project.shots.get().latest_take


def test_a_create_whose_answer_was_lost_is_found_not_sent_again(simulator, user):
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    take = generate_one(user)
    assert take.status == Take.Status.DONE
    assert simulator.create_count == 1
    assert "found among the provider's" in take.note


def test_a_create_that_timed_out_is_never_sent_again_by_itself(simulator, user):
    simulator.add_fault("create", {"timeout": True}, count=1)  # it made nothing, unknown to us
    take = generate_one(user)
    assert take.status == Take.Status.UNCERTAIN and take.next_look_at is None
    assert "did not answer in time" in take.note
    assert take.error.endswith("check its console before sending again.")
    assert simulator.create_count == 0 and take.attempts == 1
    creates = [r for r in simulator.requests if r["method"] == "POST"]
    assert len(creates) == 1


def test_rate_limits_are_waited_out_as_retry_after_says(simulator, user):
    simulator.add_fault("create", {"status": 429, "retry_after": 1}, count=2)
    take = generate_one(user)
    assert take.status == Take.Status.DONE
    assert (take.attempts, simulator.create_count) == (3, 1)
    assert take.submitted_at - take.created_at >= timedelta(seconds=2)


def test_refusals_that_made_nothing_are_retried_until_the_attempts_run_out(
    simulator, user, settings
):
    settings.PIPELINE_MAX_ATTEMPTS = 2
    simulator.add_fault("create", {"status": 429, "retry_after": 0})
    take = generate_one(user)
    assert take.status == Take.Status.FAILED
    assert take.error.startswith("Gave up after 2 tries:")
    assert simulator.create_count == 0


def test_failing_reads_of_a_task_are_retried_without_a_new_create(simulator, user):
    simulator.add_fault("get", {"status": 500}, count=3)
    take = generate_one(user)
    assert take.status == Take.Status.DONE
    assert simulator.create_count == 1


def test_a_failed_download_reads_the_task_again_for_a_fresh_url(simulator, user):
    simulator.add_fault("download", {"status": 403}, count=1)
    take = generate_one(user)
    assert take.status == Take.Status.DONE and take.video


def test_a_lost_answer_where_tasks_cannot_be_listed_is_not_paid_twice(simulator, user, settings):
    settings.SEEDANCE_BASE_URL = simulator.url + SIMULATOR_PREFIXES["futurmix"]
    settings.SEEDANCE_API_STYLE = "futurmix"
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    project = make_project(user, shots=[("A", Opening.CUT)], model="doubao-seedance-2-0-260128")
    pipeline.queue_takes(project)
    pipeline.run_here(project)
    take = project.shots.get().latest_take
    assert take.status == Take.Status.UNCERTAIN
    assert "cannot list its tasks" in take.error and "may have made this shot" in take.error
    assert simulator.create_count == 1


def test_the_card_tells_how_a_lost_answer_was_resolved(simulator, user, client):
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    take = generate_one(user)
    client.force_login(user)
    page = client.get(take.shot.project.get_absolute_url()).content.decode()
    assert "its task was found among the provider" in page
