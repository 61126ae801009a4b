"""The pipeline over real HTTP to the simulator: chaining, collecting, stopping a chain."""

import base64
import io

import pytest
from PIL import Image, ImageChops, ImageStat

from projects import media, pipeline
from projects.models import Opening, Take
from tests.factories import make_project, make_take

pytestmark = pytest.mark.django_db


def mean_difference(a, b):
    """Mean absolute difference per channel, 0-255."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB").resize(a.size))
    return sum(ImageStat.Stat(diff).mean) / 3


def generate(project):
    pipeline.queue_takes(project)
    pipeline.run_here(project)
    return [shot.selected_take for shot in project.timeline()]


# Full size: at the simulator's small size, a clip's own ends came 5.7 apart in one run
# of many (a random seed's zoom and pan), too close to the seams' tolerance to tell them.
@pytest.mark.full_clips
def test_it_starts_each_continue_on_the_real_last_frame_of_the_shot_before(simulator, user):
    project = make_project(
        user,
        shots=[
            ("Drone shot over an autumn valley", Opening.CUT),
            ("The drone dives toward the river", Opening.CONTINUE),
            ("It skims the water", Opening.CONTINUE),
        ],
    )
    takes = generate(project)

    assert [t.status for t in takes] == [Take.Status.DONE] * 3
    assert takes[1].upstream_take == takes[0]
    assert takes[2].upstream_take == takes[1]
    for before, after in zip(takes, takes[1:], strict=False):
        last = media.last_frame(before.video.path)
        first = media.first_frame(after.video.path)
        assert mean_difference(last, first) < 6
        # ...and the seam is not trivially similar: the clip itself moved.
        assert mean_difference(media.first_frame(before.video.path), last) > 6


def test_it_sends_the_collected_last_frame_as_the_next_first_frame(simulator, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    first, second = generate(project)

    creates = [r for r in simulator.requests if r["method"] == "POST"]
    assert len(creates) == 2
    assert [i["role"] for i in creates[0]["json"]["content"] if i["type"] == "image_url"] == []
    image_items = [i for i in creates[1]["json"]["content"] if i["type"] == "image_url"]
    assert [i["role"] for i in image_items] == ["first_frame"]
    sent = image_items[0]["image_url"]["url"]
    assert sent.startswith("data:image/png;base64,")
    with first.last_frame.open("rb") as f:
        assert base64.b64decode(sent.split(",", 1)[1]) == f.read()
    assert creates[0]["json"]["return_last_frame"] is True


@pytest.mark.full_clips
def test_it_collects_video_poster_tokens_and_duration(simulator, user):
    project = make_project(user, shots=[("A lighthouse at dusk", Opening.CUT)])
    (take,) = generate(project)

    info = media.probe(take.video.path)
    assert (info.width, info.height) == (864, 496)
    assert take.duration == pytest.approx(4.0, abs=0.05)
    assert take.last_frame_source == "provider"
    assert take.tokens == 864 * 496 * (24 * 4 + 1) // 1024
    with take.poster.open("rb") as f:
        assert Image.open(io.BytesIO(f.read())).format == "JPEG"
    assert take.remote_id.startswith("cgt-")
    assert take.finished_at >= take.submitted_at


def test_a_failed_shot_stops_the_rest_of_its_chain_but_not_other_chains(simulator, user):
    project = make_project(
        user,
        shots=[
            # The provider refuses a seed beyond 2**32 - 1.
            {"prompt": "A", "opening": Opening.CUT, "seed": 2**33},
            ("B", Opening.CONTINUE),
            ("C", Opening.CONTINUE),
            ("D", Opening.CUT),
        ],
    )
    pipeline.queue_takes(project)
    pipeline.run_here(project)
    takes = [shot.latest_take for shot in project.timeline()]

    assert [t.status for t in takes] == ["failed", "failed", "failed", "done"]
    assert "seed" in takes[0].error
    assert takes[1].error == "Not generated: shot 1 failed."
    assert takes[2].error == "Not generated: shot 2 failed."
    assert simulator.create_count == 1  # shot 4 only: shots 2 and 3 were never sent


def test_a_continue_that_sees_its_upstream_done_but_not_yet_picked_waits(simulator, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    first, second = project.shots.in_order()
    # What a worker reads when its shots query ran just before the collect that made the
    # take done and picked it (one transaction), and its takes query just after.
    done = make_take(first, select=False)
    (waiting,) = pipeline.queue_takes(project, shots=[second])

    assert pipeline.start_ready(project) == []
    waiting.refresh_from_db()
    assert waiting.status == Take.Status.WAITING

    done.select()
    assert [take.pk for take in pipeline.start_ready(project)] == [waiting.pk]


def test_it_extracts_the_last_frame_from_the_video_when_none_is_returned(
    simulator, user, monkeypatch
):
    from projects.providers.ark import ArkStyle

    create_body = ArkStyle.create_body
    monkeypatch.setattr(
        ArkStyle,
        "create_body",
        lambda self, request: {**create_body(self, request), "return_last_frame": False},
    )
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    first, second = generate(project)

    assert first.last_frame_source == "video"
    assert (
        mean_difference(media.last_frame(first.video.path), media.first_frame(second.video.path))
        < 6
    )


def test_regenerating_a_shot_makes_a_new_take_and_the_chain_after_it_stale(simulator, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    first, second = generate(project)
    shot1 = project.shots.get(position=0)

    pipeline.queue_takes(project, shots=[shot1])
    pipeline.run_here(project)
    shots = project.timeline()

    assert shots[0].selected_take.number == 2
    assert shots[0].stale is False
    assert shots[1].selected_take == second
    assert shots[1].stale is True
    assert shots[1].current_take is None


def test_progress_is_estimated_from_time_when_the_provider_reports_none(user, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.SEEDANCE_BASE_URL = ""
    settings.SIMULATOR_DELAY = 10.0
    project = make_project(user, shots=[("A", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    take.status = Take.Status.RUNNING
    take.started_at = timezone.now() - timedelta(seconds=5)

    assert take.shown_progress() == pytest.approx(0.5, abs=0.05)
    take.started_at = timezone.now() - timedelta(seconds=60)
    assert take.shown_progress() == 0.95  # never "done" before it is


def test_a_moderation_failure_says_so_on_the_take(simulator, user):
    project = make_project(user, shots=[("A fox [sim:moderation]", Opening.CUT)])
    generate(project)
    take = project.shots.get().latest_take

    assert take.status == Take.Status.FAILED
    assert take.error.startswith("Refused by the provider's content moderation:")
    assert "OutputVideoSensitiveContentDetected" in take.error


def test_an_expired_task_fails_its_take_instead_of_looking_stuck(simulator, user):
    project = make_project(user, shots=[("A fox [sim:expire]", Opening.CUT)])
    generate(project)
    take = project.shots.get().latest_take
    assert take.status == Take.Status.FAILED
    assert "expired" in take.error


def test_regenerate_from_here_remakes_the_shot_and_the_rest_of_its_chain_in_order(simulator, user):
    project = make_project(
        user,
        shots=[
            ("A", Opening.CUT),
            ("B", Opening.CONTINUE),
            ("C", Opening.CONTINUE),
            ("D", Opening.CUT),
        ],
    )
    generate(project)
    shot2 = project.shots.get(position=1)
    shot2.prompt = "B, at night"
    shot2.save()
    shots = project.timeline()
    assert [s.stale for s in shots] == [False, True, True, False]
    assert shots[0].has_stale_after and not shots[2].has_stale_after

    queued = pipeline.queue_from(shot2)
    assert [t.shot.number for t in queued] == [2, 3]
    pipeline.run_here(project)
    shots = project.timeline()
    assert [s.stale for s in shots] == [False] * 4
    assert [s.selected_take.number for s in shots] == [1, 2, 2, 1]
    assert shots[2].selected_take.upstream_take == shots[1].selected_take


def test_cancel_stops_waiting_takes_and_cancels_queued_remote_tasks(simulator, user):
    project = make_project(user, shots=[("A [sim:delay=30]", Opening.CUT), ("B", Opening.CONTINUE)])
    pipeline.queue_takes(project)
    (first,) = pipeline.start_ready(project)
    assert first.status == Take.Status.QUEUED

    queued = pipeline.cancel(project)
    assert [t.pk for t in queued] == [first.pk]
    for take in queued:
        pipeline.cancel_remote(take)
    first.refresh_from_db()
    second = project.shots.get(position=1).latest_take
    assert first.status == Take.Status.CANCELLED and first.error == "Cancelled while queued."
    assert second.status == Take.Status.CANCELLED
    deletes = [r for r in simulator.requests if r["method"] == "DELETE"]
    assert deletes and deletes[0]["path"].endswith(first.remote_id)


def test_the_estimate_counts_tokens_price_and_time_with_chains_side_by_side(user, settings):
    from projects import costs

    settings.SEEDANCE_PRICES = {"doubao-seedance-2-0-fast-260128": 10.0}
    settings.SIMULATOR_DELAY = 10.0
    project = make_project(
        user,
        shots=[("A", Opening.CUT), ("B", Opening.CONTINUE), ("C", Opening.CUT)],
        model="doubao-seedance-2-0-fast-260128",
    )
    estimate = costs.estimate(project, project.timeline())

    per_clip = 864 * 496 * 97 // 1024
    assert (estimate.shots, estimate.tokens) == (3, 3 * per_clip)
    assert estimate.price == pytest.approx(3 * per_clip * 10 / 1e6)
    assert estimate.seconds == 20.0  # the two-shot chain; the other runs beside it
    assert costs.tokens_for("720p", "16:9", 5) == 108900


def test_a_budget_stops_submission_before_it_would_be_exceeded(simulator, user):
    per_clip = 864 * 496 * 97 // 1024
    project = make_project(
        user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)], budget_tokens=per_clip + 10
    )
    generate(project)
    first, second = [shot.latest_take for shot in project.timeline()]

    assert first.status == Take.Status.DONE
    assert second.status == Take.Status.FAILED
    assert "budget" in second.error and f"{per_clip:,}" in second.error
    assert simulator.create_count == 1


def test_takes_in_flight_together_are_read_in_one_list_request(simulator, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CUT), ("C", Opening.CUT)])
    generate(project)

    reads = [r for r in simulator.requests if r["method"] == "GET"]
    batched = [r for r in reads if len(r["query"].get("filter.task_ids", [])) == 3]
    assert batched, "three parallel takes were never read in one request"
    # One by one only once a single take was left in flight.
    first_done = min(t.finished_at for t in Take.objects.filter(shot__project=project))
    singles = [r for r in reads if "/tasks/cgt-" in r["path"]]
    assert all(r["at"] >= first_done.timestamp() for r in singles)
