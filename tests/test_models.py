"""The models' own promises: states moved by conditional claims, changes stamped, a
shot's current take safe to ask for on its own."""

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import Opening, Project, Shot, Take
from tests.factories import make_project, make_take, make_takes

pytestmark = pytest.mark.django_db


def test_a_shot_read_alone_knows_its_current_take(user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    first, second = make_takes(project)

    alone = Shot.objects.get(pk=second.shot_id)  # no timeline() has run
    assert alone.current_take == second
    assert alone.chain == 1

    Shot.objects.filter(pk=first.shot_id).update(prompt="A, changed")
    assert Shot.objects.get(pk=second.shot_id).current_take is None  # stale downstream


def test_a_claim_moves_a_take_only_from_the_status_it_expects(user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    take = Take.objects.create(shot=project.shots.get(), number=1)
    other = Take.objects.get(pk=take.pk)

    assert Take.objects.claim(take, Take.Status.WAITING, Take.Status.SUBMITTING, attempts=1)
    assert (take.status, take.attempts) == (Take.Status.SUBMITTING, 1)
    # Another process that read it before still thinks it waits: its claim fails.
    assert not Take.objects.claim(other, Take.Status.WAITING, Take.Status.SUBMITTING)
    assert other.status == Take.Status.WAITING

    assert take.fail("No.")
    take.refresh_from_db()
    assert (take.status, take.error) == (Take.Status.FAILED, "No.")
    assert not other.fail("Too late.")  # it moved on meanwhile


def test_every_write_stamps_updated_at_even_an_update_of_a_few_fields(user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    long_ago = timezone.now() - timedelta(days=1)
    Project.objects.filter(pk=project.pk).update(updated_at=long_ago)
    shot = project.shots.get()
    take = make_take(shot)
    Take.objects.filter(pk=take.pk).update(updated_at=long_ago)

    Take.objects.filter(pk=take.pk).update(progress=0.5)
    assert Take.objects.get(pk=take.pk).updated_at > long_ago
    Shot.objects.filter(pk=shot.pk).update(updated_at=long_ago)
    shot.prompt = "B"
    shot.save(update_fields=["prompt"])
    assert Shot.objects.get(pk=shot.pk).updated_at > long_ago
    project.touch()
    assert Project.objects.get(pk=project.pk).updated_at > long_ago


def test_takes_in_flight_are_those_sent_and_not_over_at_the_provider(user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    shot = project.shots.get()
    for number, status in enumerate(Take.Status.values, start=1):
        Take.objects.create(shot=shot, number=number, status=status, remote_id=f"t{number}")
    assert set(Take.objects.in_flight().values_list("status", flat=True)) == {
        "submitting",
        "queued",
        "running",
    }
    assert set(Take.objects.unfinished().values_list("status", flat=True)) == {
        "waiting",
        "submitting",
        "uncertain",  # until a person decides, when no longer looked for
        "queued",
        "running",
        "collecting",
    }
