"""`render --wait`'s driver: it submits what an ended take unblocks at once, reads a task
when it is due, and every state it can be left in ends, with a message."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from projects import pipeline
from projects.models import Opening, Take
from tests.factories import make_project, make_take

pytestmark = pytest.mark.django_db


def test_the_next_shot_of_a_chain_goes_out_as_soon_as_the_one_before_ends(
    simulator, user, settings
):
    # A real gateway's interval: a driver that slept it through would lose 10 s a seam.
    settings.SEEDANCE_POLL_INTERVAL = 10.0
    simulator.delay = 0.5
    # Takes like these have taken half a second: each is read about when it ends.
    timed = make_project(user, shots=[("Timed", Opening.CUT)])
    make_take(timed.shots.get(), provider="ark", generation_seconds=0.5)
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    pipeline.queue_takes(project)
    pipeline.run_here(project)

    takes = [shot.selected_take for shot in project.timeline()]
    assert [take.status for take in takes] == ["done", "done"]
    seam = (takes[1].submitted_at - takes[0].generated_at).total_seconds()
    assert seam < 1.0, f"the next shot went out {seam:.2f} s after the one before ended"


def test_a_task_is_read_when_takes_like_it_have_been_finishing(simulator, user, settings):
    settings.SEEDANCE_POLL_INTERVAL = 8.0
    simulator.delay = 0.6
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CUT)])
    pipeline.queue_takes(project, shots=[project.shots.get(position=0)])
    pipeline.run_here(project)
    pipeline.queue_takes(project, shots=[project.shots.get(position=1)])
    pipeline.run_here(project)

    first, second = (shot.selected_take for shot in project.timeline())
    # The first of its kind: reads start quick and slow down, so it is seen long before
    # the poll interval.
    assert (first.generated_at - first.submitted_at).total_seconds() < 4.0
    # The second is read when takes like it end: soon, and in few reads.
    waited = (second.generated_at - second.submitted_at).total_seconds()
    assert waited < 3.0, f"a 0.6 s task was first seen done after {waited:.1f} s"
    reads = [
        r for r in simulator.requests if r["method"] == "GET" and second.remote_id in r["path"]
    ]
    assert len(reads) <= 3


def test_render_wait_gives_up_at_its_deadline_and_says_where_each_shot_is(simulator, user):
    project = make_project(user, shots=[("A lighthouse [sim:delay=30]", Opening.CUT)])
    with pytest.raises(CommandError) as stopped:
        call_command("storyboard", "render", str(project.pk), "--wait", "--timeout", "1")
    message = str(stopped.value)
    assert "Gave up waiting after 1 s" in message
    assert "shot 1: queued" in message or "shot 1: running" in message
    assert "without sending them twice" in message
    assert simulator.create_count == 1


def test_a_lost_create_the_provider_cannot_be_asked_about_ends_with_a_message(
    simulator, user, settings
):
    settings.PIPELINE_LEASE_SECONDS = 0.6  # the provider is asked for five leases
    settings.PIPELINE_FIND_SECONDS = 1.0
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    simulator.add_fault("list", {"status": 500})
    project = make_project(user, shots=[("A", Opening.CUT)])
    pipeline.queue_takes(project)

    assert pipeline.run_here(project)  # it ends, however long the provider stays down

    take = project.shots.get().latest_take
    assert take.status == Take.Status.UNCERTAIN and take.next_look_at is None
    assert "the provider could not be asked for it" in take.error
    assert "check its console before sending again" in take.error
    assert simulator.create_count == 1


def test_a_lost_create_is_looked_up_again_until_the_provider_answers(simulator, user, settings):
    settings.PIPELINE_LEASE_SECONDS = 3.0
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    simulator.add_fault("list", {"status": 503}, count=2)
    project = make_project(user, shots=[("A", Opening.CUT)])
    pipeline.queue_takes(project)
    pipeline.run_here(project)

    take = project.shots.get().latest_take
    assert take.status == Take.Status.DONE
    assert simulator.create_count == 1
    assert "found among the provider's" in take.note


def test_the_driver_reports_notes_as_the_take_goes(simulator, user, settings, capsys):
    settings.PIPELINE_LEASE_SECONDS = 3.0
    simulator.add_fault("create", {"lose_answer": True}, count=1)
    simulator.add_fault("list", {"status": 503}, count=1)
    project = make_project(user, shots=[("A", Opening.CUT)])
    call_command("storyboard", "render", str(project.pk), "--wait")
    out = capsys.readouterr().out
    assert "uncertain (The create got no sure answer" in out
    assert "Every shot has a current take." in out
