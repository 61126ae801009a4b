"""The seam guard over real HTTP to the simulator: a continue whose start frame is black,
blurred or just after a cut holds its chain, unsent, until a person picks another frame
or regenerates the shot before; clips made by the simulator, decoded with PyAV."""

import time

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from projects import media, pipeline
from projects.media.guard import check_seam
from projects.models import Opening, Role, Take
from projects.simulator.render import FPS, render_clip
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db

SAYS = {"black": "a near-black frame", "blur": "a blurred frame", "cut": "hard scene cut"}


def chain(user, ending, **settings):
    """Three shots, the first ending as `ending` says, the others continuing it."""
    return make_project(
        user,
        shots=[
            (f"A valley at dawn [sim:end={ending}]" if ending else "A valley at dawn", Opening.CUT),
            ("The drone dives toward the river", Opening.CONTINUE),
            ("It skims the water", Opening.CONTINUE),
        ],
        **settings,
    )


def drive(project):
    """Run the project's takes here; the driver must come back, not spin on a hold."""
    pipeline.queue_takes(project)
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    return [shot.latest_take for shot in project.timeline()]


def creates(simulator):
    return [r for r in simulator.requests if r["method"] == "POST"]


# The checks on clips alone


# The clips the checks are tried on: rendered in full (overlays, text, blurs: not the
# simulator's small clips), at half of 480p's 864 x 496 a side. Every measure the checks
# judge is relative to the picture: measured at this size, luma, spread and the cut found
# are the 480p clip's, and the spoiled ends' sharpness shares (0.02 to 0.09 of the median,
# against a threshold of 0.3) are as far from passing as at 480p (0.03 to 0.11), for a
# quarter of the pixels to draw, encode and decode.
FOG = {"width": 432, "height": 248, "duration": 4, "prompt": "Fog", "seed": 3}


@pytest.fixture(scope="module")
def fog(tmp_path_factory):
    """fog(ending): the clip of fog ending so (None: an ordinary end), rendered once for
    the module; the tests only read it."""
    folder = tmp_path_factory.mktemp("fog")
    rendered = {}

    def clip(ending):
        if ending not in rendered:
            path = folder / f"{ending or 'ordinary'}.mp4"
            render_clip(path, **FOG, ending=ending)
            rendered[ending] = path
        return rendered[ending]

    return clip


@pytest.mark.parametrize(
    ("ending", "check"), [(None, None), ("black", "blank"), ("blur", "blur"), ("cut", "cut")]
)
def test_the_checks_catch_each_spoiled_ending_and_pass_an_ordinary_clip(fog, ending, check):
    path = fog(ending)
    finding = check_seam(path)
    assert (finding.check if finding else None) == check
    # A second before the end, the same clip is still a fine place to continue from.
    assert check_seam(path, out=4 * FPS - 1 - FPS) is None


def test_a_clip_ending_on_a_flat_picture_is_near_uniform(tmp_path):
    from PIL import Image

    path = tmp_path / "clip.mp4"
    grey = Image.new("RGB", (64, 64), (128, 128, 128))
    render_clip(path, **FOG, last_frame=grey)
    finding = check_seam(path)
    assert (finding.check, finding.what) == ("blank", "a near-uniform frame")


def test_a_check_turned_off_lets_its_frame_pass(fog):
    path = fog("blur")
    assert check_seam(path, checks=("blank", "cut", "blur")).check == "blur"
    assert check_seam(path, checks=("blank", "cut")) is None
    assert check_seam(path, checks=()) is None


# The chain


@pytest.mark.parametrize("ending", ["black", "blur", "cut"])
def test_a_continue_from_a_spoiled_end_holds_the_chain_and_sends_nothing(simulator, user, ending):
    first, second, third = drive(chain(user, ending))

    assert first.status == Take.Status.DONE
    assert second.status == Take.Status.WAITING
    assert second.held.startswith("Held: shot 2 would start on ")
    assert SAYS[ending] in second.held and second.held.endswith("from shot 1.")
    assert second.held_check == {"black": "blank", "blur": "blur", "cut": "cut"}[ending]
    assert (second.remote_id, second.submitted_at, second.tokens) == ("", None, None)
    assert second.upstream_take == first
    assert third.status == Take.Status.WAITING and not third.held  # waits behind it
    assert len(creates(simulator)) == 1  # shot 1 alone was paid for

    # Asked again (a worker's next round), the hold stands and still nothing is sent.
    assert pipeline.start_ready(first.shot.project) == []
    assert len(creates(simulator)) == 1


def test_an_ordinary_chain_passes_the_guard(simulator, user):
    takes = drive(chain(user, None))
    assert [t.status for t in takes] == [Take.Status.DONE] * 3
    assert [t.held for t in takes] == ["", "", ""]
    assert len(creates(simulator)) == 3


def test_the_project_setting_turns_a_check_off(simulator, user):
    takes = drive(chain(user, "blur", guard_blur=False))
    assert [t.status for t in takes] == [Take.Status.DONE] * 3
    assert len(creates(simulator)) == 3


def test_turning_the_failed_check_off_lets_a_held_chain_go_on(simulator, user):
    project = chain(user, "blur")
    _, second, _ = drive(project)
    assert second.held
    project.guard_blur = False
    project.save()
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    assert [s.latest_take.status for s in project.timeline()] == [Take.Status.DONE] * 3


# The two ways on


def pick(client, project, shot, out):
    url = reverse("shot-release", args=[project.pk, shot.pk])
    return client.post(url, {"out": out}, HTTP_HX_REQUEST="true")


def test_picking_an_earlier_frame_releases_the_hold_and_continues_from_it(
    simulator, user, client_of
):
    project = chain(user, "black")
    first, second, _ = drive(project)
    frames = round(first.duration * FPS)
    out = frames - 1 - 18  # before the fade to black began

    too_early = pick(client_of, project, second.shot, frames - 1 - 3 * FPS)
    assert too_early.status_code == 200
    second.refresh_from_db()
    assert second.held  # outside the last two seconds: refused, still held

    answer = pick(client_of, project, second.shot, out)
    assert answer.status_code == 200
    first.shot.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.shot.trim_out == out and first.approved_out == out
    assert second.held == "" and second.status == Take.Status.WAITING

    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [t.status for t in takes] == [Take.Status.DONE] * 3
    assert takes[1].upstream_out == out
    with takes[1].start_frame.open("rb") as start:
        from PIL import Image

        assert np.asarray(Image.open(start).convert("L")).mean() > 40  # not the black end
    assert len(creates(simulator)) == 3


def test_a_frame_the_director_picks_is_accepted_without_checking_it_again(
    simulator, user, client_of
):
    project = chain(user, "black")
    first, second, _ = drive(project)
    last = round(first.duration * FPS) - 1
    assert pick(client_of, project, second.shot, last).status_code == 200  # the black one
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [t.status for t in takes[:2]] == [Take.Status.DONE] * 2
    assert takes[1].held == "" and takes[1].upstream_take == first
    assert not takes[1].shot.stale
    # Continued from black, shot 2 is black through: the guard holds the next seam in turn.
    assert takes[2].held == "Held: shot 3 would start on a near-black frame from shot 2."
    assert len(creates(simulator)) == 2


def test_an_out_point_set_by_trimming_is_checked_like_any_frame(simulator, user, client_of):
    project = chain(user, "black")
    first, second, _ = drive(project)
    frames = round(first.duration * FPS)
    trim = reverse("shot-trim", args=[project.pk, first.shot.pk])

    # Trimmed to a frame inside the fade: nobody picked it to continue from, so it is checked.
    client_of.post(trim, {"trim_in": 0, "trim_out": frames - 3}, HTTP_HX_REQUEST="true")
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    second.refresh_from_db()
    assert "near-black" in second.held and second.upstream_out == frames - 3
    assert len(creates(simulator)) == 1

    # Trimmed before the fade: the new out point passes and the chain goes on from it.
    client_of.post(trim, {"trim_in": 0, "trim_out": frames - 30}, HTTP_HX_REQUEST="true")
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    second.refresh_from_db()
    assert second.status == Take.Status.DONE and second.upstream_out == frames - 30
    assert second.held == ""


def test_regenerating_the_shot_before_checks_its_new_take_afresh(simulator, user, client_of):
    project = chain(user, "cut")
    first, second, _ = drive(project)
    assert second.held
    first.shot.prompt = "A valley at dawn"  # its new take ends well
    first.shot.save()
    url = reverse("shot-regenerate", args=[project.pk, first.shot.pk])
    assert client_of.post(url, HTTP_HX_REQUEST="true").status_code == 200

    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [t.status for t in takes] == [Take.Status.DONE] * 3
    assert takes[0].number == 2 and takes[1].number == 1  # the held take itself went on
    assert takes[1].upstream_take == takes[0] and takes[1].held == ""


# What people see


def test_the_held_card_says_why_and_offers_both_ways_to_those_who_may_generate(
    simulator, user, client
):
    project = chain(user, "black")
    first, second, _ = drive(project)
    viewer = make_user("vera")
    project.team.memberships.create(user=viewer, role=Role.VIEWER)

    client.force_login(user)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Held: shot 2 would start on a near-black frame from shot 1." in page
    assert reverse("shot-release", args=[project.pk, second.shot.pk]) in page
    assert reverse("shot-regenerate", args=[project.pk, first.shot.pk]) in page
    last = round(first.duration * FPS) - 1
    assert f'min="{last + 1 - 2 * FPS}" max="{last}" value="{last}" data-scrub' in page

    client.force_login(viewer)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Held: shot 2 would start on a near-black frame from shot 1." in page
    assert reverse("shot-release", args=[project.pk, second.shot.pk]) not in page


def test_the_settings_page_turns_each_check_off(user, client_of):
    project = make_project(user)
    url = reverse("project-settings", args=[project.pk])
    page = client_of.get(url).content.decode()
    for name in ("guard_blank", "guard_cut", "guard_blur"):
        assert f'name="{name}"' in page
    form = {
        "title": project.title,
        "resolution": project.resolution,
        "ratio": project.ratio,
        "guard_blank": "on",
        "guard_blur": "on",
        "version": project.version,
    }
    assert client_of.post(url, form).status_code in (200, 302)
    project.refresh_from_db()
    assert (project.guard_blank, project.guard_cut, project.guard_blur) == (True, False, True)
    assert project.guard_checks() == ("blank", "blur")


# The command line


def test_render_wait_exits_non_zero_naming_the_held_shot_and_why(simulator, user):
    project = chain(user, "blur")
    started = time.monotonic()
    with pytest.raises(CommandError) as stopped:
        call_command("storyboard", "render", str(project.pk), "--wait")
    assert time.monotonic() - started < 60  # it stopped on the hold, not at a deadline
    message = str(stopped.value)
    assert "shot 2: Held: shot 2 would start on a blurred frame from shot 1." in message
    assert "shot 3: waits for the shot before it, which is held" in message
    assert "Gave up" not in message
    assert len(creates(simulator)) == 1


def test_media_reads_the_start_frame_the_guard_judged(fog):
    """The guard looks at the very frame a continue would start on (media.frame_at)."""
    path = fog("black")
    last = np.asarray(media.frame_at(path, -1).convert("L")).mean()
    earlier = np.asarray(media.frame_at(path, 4 * FPS - 1 - FPS).convert("L")).mean()
    assert last < 10 < earlier


def test_a_final_continue_is_guarded_too_and_render_final_stops_on_its_hold(simulator, user):
    project = chain(user, "blur", guard_blur=False)
    drive(project)  # the drafts, with the blur check off
    project.guard_blur = True
    project.save()
    started = time.monotonic()
    with pytest.raises(CommandError) as stopped:
        call_command("storyboard", "render", str(project.pk), "--wait", "--final")
    assert time.monotonic() - started < 60  # it stopped on the hold, not at a deadline
    assert "shot 2: Held: shot 2 would start on a blurred frame from shot 1." in str(stopped.value)
    final = project.shots.get(position=1).latest_of("final")
    assert final.held_check == "blur" and final.remote_id == ""
    assert len(creates(simulator)) == 3 + 1  # the drafts, and shot 1's final alone
