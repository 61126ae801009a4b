"""Stopping work never destroys a paid video: cancel reads first, and deleting a shot or a
project with takes at the provider cancels what is queued, lets the rest finish and keeps
what it cost in the team's spend.

On the worker's own code (its clock and tasks, in this process) against the simulator.
"""

import pytest
from django.urls import reverse

from projects import arrange, costs, limits, pipeline
from projects.models import Opening, Project, Shot, Take, Team
from projects.simulator.engine import Status as Remote
from tests.factories import make_project
from tests.worker import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.PIPELINE_LEASE_SECONDS = 1.5


def sent(project, worker):
    """Generate `project`'s shots: every take sent and queued, none read yet."""
    pipeline.queue_takes(project)
    worker.run("projects.tasks.start", project.pk)
    takes = list(Take.objects.filter(shot__project=project).order_by("shot__position"))
    assert {take.status for take in takes} == {Take.Status.QUEUED}
    return takes


def remote(simulator, take):
    return simulator.engine.get(take.remote_id)


def deletes(simulator):
    return [r for r in simulator.requests if r["method"] == "DELETE"]


def cancel(client, project, capture):
    with capture(execute=True):
        client.post(reverse("project-cancel", args=[project.pk]), HTTP_HX_REQUEST="true")


def test_cancel_collects_a_task_that_finished_since_it_was_last_read_and_deletes_nothing(
    simulator, user, client_of, worker, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = sent(project, worker)
    wait_until(lambda: remote(simulator, take).status == Remote.SUCCEEDED)  # unread

    cancel(client_of, project, django_capture_on_commit_callbacks)
    worker.drain()

    take.refresh_from_db()
    assert take.status == Take.Status.DONE and take.video
    assert deletes(simulator) == []
    assert remote(simulator, take) is not None  # still there, with its files


def test_cancel_leaves_a_running_task_to_finish_and_collects_it(
    simulator, user, client_of, worker, django_capture_on_commit_callbacks
):
    # Running from 0.75 s to 3 s: over two seconds for the cancel to find it running.
    project = make_project(user, shots=[("A lighthouse [sim:delay=3]", Opening.CUT)])
    (take,) = sent(project, worker)
    wait_until(lambda: remote(simulator, take).status == Remote.RUNNING)  # unread

    cancel(client_of, project, django_capture_on_commit_callbacks)
    worker.drain()
    take.refresh_from_db()
    assert take.status == Take.Status.RUNNING
    assert "cannot stop it: collected when done" in take.note
    worker.until(lambda: Take.objects.get(pk=take.pk).status == Take.Status.DONE)

    assert deletes(simulator) == []


def test_cancel_cancels_a_task_still_queued(
    simulator, user, client_of, worker, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("A lighthouse [sim:delay=60]", Opening.CUT)])
    (take,) = sent(project, worker)

    cancel(client_of, project, django_capture_on_commit_callbacks)
    worker.drain()

    take.refresh_from_db()
    assert take.status == Take.Status.CANCELLED
    assert remote(simulator, take).status == Remote.CANCELLED
    assert [r["method"] for r in simulator.requests] == ["POST", "GET", "DELETE"]


def test_deleting_a_project_at_work_cancels_the_queued_lets_the_running_finish_and_bills_it(
    simulator, user, client_of, worker, django_capture_on_commit_callbacks
):
    project = make_project(
        user,
        shots=[("Runs [sim:delay=2]", Opening.CUT), ("Waits [sim:delay=60]", Opening.CUT)],
    )
    running, queued = sent(project, worker)
    wait_until(lambda: remote(simulator, running).status == Remote.RUNNING)

    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(reverse("project-delete", args=[project.pk]))
    assert not Project.objects.filter(pk=project.pk).exists()  # gone from every page
    assert client_of.get(project.get_absolute_url()).status_code == 404
    worker.until(lambda: not Project.everywhere.filter(pk=project.pk).exists())

    assert remote(simulator, queued).status == Remote.CANCELLED
    assert remote(simulator, running).status == Remote.SUCCEEDED
    assert simulator.create_count == 2
    billed = remote(simulator, running).tokens
    spend = costs.team_spend(project.team)
    assert spend["total"] == billed
    assert spend["by_project"] == [("Autumn valley (deleted)", billed)]
    # The team's budget counts it: a shot that would pass it is not sent.
    Team.objects.filter(pk=project.team.pk).update(monthly_budget_tokens=billed + 10)
    again = make_project(user, title="Harbour", shots=[("A", Opening.CUT)])
    (take,) = pipeline.queue_takes(again)
    assert not limits.claim(take, refuse=costs.over_budget).claimed
    take.refresh_from_db()
    assert "has 10 left" in take.error


def test_a_shot_deleted_for_good_while_it_runs_is_collected_then_goes(
    simulator, user, worker, django_capture_on_commit_callbacks
):
    project = make_project(
        user, shots=[("Runs [sim:delay=2]", Opening.CUT), ("Stays", Opening.CUT)]
    )
    take, _ = sent(project, worker)
    shot = take.shot
    wait_until(lambda: remote(simulator, take).status == Remote.RUNNING)

    with django_capture_on_commit_callbacks(execute=True):
        arrange.remove(shot)
        arrange.move(project, project.shots.get(), 0)  # the next change: no undo now
    assert arrange.removed(project) is None
    worker.until(lambda: not Shot.everywhere.filter(pk=shot.pk).exists())

    assert remote(simulator, take).status == Remote.SUCCEEDED
    billed = sum(task.tokens for task in simulator.engine.tasks())  # both shots'
    assert costs.team_spend(project.team)["total"] == billed
