"""A create whose answer was lost is matched on everything it sent, never on a look-alike."""

import pytest

from projects import pipeline
from projects.models import Opening, Take
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.PIPELINE_LEASE_SECONDS = 1.5  # provider calls time out after 0.5 s
    settings.PIPELINE_FIND_SECONDS = 2.0  # an uncertain create is looked for this long


def regenerate(project):
    pipeline.queue_takes(project, shots=list(project.shots.all()))
    pipeline.run_here(project)
    return project.shots.get().latest_take


def test_a_lost_create_with_a_fixed_seed_adopts_its_own_task_not_an_earlier_ones(simulator, user):
    project = make_project(user, shots=[{"prompt": "A kite", "opening": Opening.CUT, "seed": 7}])
    earlier = regenerate(project)
    assert earlier.status == Take.Status.DONE

    simulator.add_fault("create", {"lose_answer": True}, count=1)
    again = regenerate(project)

    assert again.status == Take.Status.DONE
    assert simulator.create_count == 2
    assert again.remote_id != earlier.remote_id
    assert "found among the provider's" in again.note


def test_a_lost_create_that_made_nothing_is_not_taken_for_a_look_alike(simulator, user):
    project = make_project(user, shots=[{"prompt": "A kite", "opening": Opening.CUT, "seed": 7}])
    assert regenerate(project).status == Take.Status.DONE

    simulator.add_fault("create", {"timeout": True}, count=1)  # no task is made
    again = regenerate(project)

    # The earlier task echoes the same seed and settings, but not this create's lifetime.
    assert again.status == Take.Status.UNCERTAIN and again.remote_id == ""
    assert "was not among the provider's" in again.error
    assert simulator.create_count == 1 and again.attempts == 1


def test_the_fingerprint_of_what_was_sent_travels_with_the_create(simulator, user):
    project = make_project(user, shots=[{"prompt": "A kite", "opening": Opening.CUT, "seed": 7}])
    first = regenerate(project)
    second = regenerate(project)

    creates = [r["json"] for r in simulator.requests if r["method"] == "POST"]
    lifetimes = [create["execution_expires_after"] for create in creates]
    # Same prompt, seed and settings, yet two takes: two fingerprints, two lifetimes.
    assert first.fingerprint != second.fingerprint
    assert lifetimes[0] != lifetimes[1]
    assert all(169200 < lifetime <= 172800 for lifetime in lifetimes)
