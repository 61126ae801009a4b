"""The worker: its tasks never sleep, and its clock hands out what falls due, once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from projects import pipeline, tasks
from projects.models import Opening, Take
from projects.worker import Clock
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_naps(monkeypatch):
    """Any sleep inside a task fails the test: a sleeping task holds a worker's slot."""

    def nap(seconds):
        raise AssertionError(f"a task slept {seconds} s")

    monkeypatch.setattr(time, "sleep", nap)


def test_the_tasks_do_their_step_and_return_without_sleeping(simulator, user, no_naps):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    first, second = pipeline.queue_takes(project)
    tasks.start(project.pk)
    first.refresh_from_db()
    assert first.status == Take.Status.QUEUED and first.next_look_at is not None
    assert Take.objects.get(pk=second.pk).status == Take.Status.WAITING

    deadline = timezone.now() + timedelta(seconds=20)
    while first.status != Take.Status.DONE:
        assert timezone.now() < deadline, first.status
        tasks.look([first.pk])  # as the clock would hand it out, however early
        first.refresh_from_db()
    # The shot it unblocked went out in the same task.
    assert Take.objects.get(pk=second.pk).status == Take.Status.QUEUED


def test_the_clock_hands_out_each_due_read_once_and_sleeps_until_the_next(user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CUT)])
    shot_a, shot_b = project.shots.in_order()
    now = timezone.now()
    due = Take.objects.create(
        shot=shot_a, status=Take.Status.RUNNING, remote_id="t1", next_look_at=now
    )
    Take.objects.create(
        shot=shot_b,
        status=Take.Status.RUNNING,
        remote_id="t2",
        next_look_at=now + timedelta(seconds=0.3),
    )
    handed = []
    one, two = (
        Clock(enqueue=lambda *a: handed.append(a)),
        Clock(enqueue=lambda *a: handed.append(a)),
    )

    nap = one.tick()
    two.tick()  # a second worker's clock finds nothing left to hand out

    reads = [args for args in handed if args[0] == "projects.tasks.look"]
    # The API lists tasks: the one due soon after comes along in the same request.
    assert reads == [("projects.tasks.look", [due.pk, due.pk + 1])]
    assert [args[0] for args in handed].count("projects.tasks.recover") == 2  # each sweeps once
    assert 0 < nap <= 0.5
    # Claimed, so it is not due again until a lease has passed without a read.
    assert Take.objects.get(pk=due.pk).next_look_at > now + timedelta(seconds=30)


def test_the_clock_hands_out_retries_when_their_time_comes(user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    Take.objects.create(shot=project.shots.get(), not_before=timezone.now() - timedelta(seconds=1))
    handed = []
    Clock(enqueue=lambda *a: handed.append(a)).tick()
    assert ("projects.tasks.start", project.pk) in handed
