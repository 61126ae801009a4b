"""One truth for frames: each take keeps its clip's frame rate and frame count as probed,
and trims, out points and seams count in them, as the export cuts; with the simulator
at a gateway's other rate, and for takes collected before takes kept them."""

import importlib
import time

import opentimelineio as otio
import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from projects import media, pipeline, storyboard_file
from projects.files import local_copy
from projects.models import Export, Opening, Take
from tests.factories import make_project, make_takes
from tests.test_cut import difference, frames_of

pytestmark = pytest.mark.django_db


@pytest.mark.simulator_fps(25)
def test_at_25_fps_trims_and_out_points_count_the_frames_the_export_cuts(
    simulator, user, client_of, tmp_path
):
    project = make_project(
        user,
        shots=[
            ("A valley at dawn [sim:end=black]", Opening.CUT),
            ("The drone dives toward the river", Opening.CONTINUE),
        ],
    )
    pipeline.queue_takes(project)
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    first, second = (shot.latest_take for shot in project.timeline())
    assert (first.frame_rate, first.frames) == (25.0, 100)
    assert second.held  # on the black end

    # The card's scrubbers run over the clip's 100 frames at 25 a second: the trim over
    # all of them, the held seam over its last two seconds.
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert 'name="trim_out" min="0" max="99" value="99" data-scrub' in page
    assert 'name="out" min="50" max="99" value="99" data-scrub' in page
    assert page.count('data-fps="25"') == 2
    trim = reverse("shot-trim", args=[project.pk, first.shot.pk])
    answer = client_of.post(trim, {"trim_in": 0, "trim_out": 99}, follow=True).content.decode()
    assert "Shot 1 plays 4.00 s in the cut." in answer
    first.shot.refresh_from_db()
    assert first.shot.trim_out is None  # its last frame: the clip's end

    # A frame picked on the held card, then an in point: the chain goes on from frame 70.
    release = reverse("shot-release", args=[project.pk, second.shot.pk])
    assert client_of.post(release, {"out": 70}, HTTP_HX_REQUEST="true").status_code == 200
    answer = client_of.post(trim, {"trim_in": 10, "trim_out": 70}, follow=True).content.decode()
    assert "Shot 1 plays 2.44 s in the cut." in answer  # 61 frames at 25 a second
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    second.refresh_from_db()
    assert second.status == Take.Status.DONE and second.upstream_out == 70

    # The export cuts where the card said: frames 10 to 70 of shot 1, then shot 2 but its
    # first frame (frame 70 again), at 25 a second.
    output = tmp_path / "cut.mp4"
    call_command("storyboard", "export", str(project.pk), "--output", str(output), "--seamless")
    sequence = frames_of(output)
    assert len(sequence) == 61 + 99
    assert media.probe(output).fps == 25
    with local_copy(first.video, ".mp4") as path:
        assert difference(sequence[0], media.frame_at(path, 10)) < 3
        assert difference(sequence[60], media.frame_at(path, 70)) < 3
    with local_copy(second.video, ".mp4") as path:
        assert difference(sequence[61], media.frame_at(path, 1)) < 3

    # Editors' timelines and the storyboard file say the same, at the same rate.
    timeline = tmp_path / "cut.otio"
    call_command("storyboard", "export", str(project.pk), "--output", str(timeline), "--seamless")
    clips = list(otio.adapters.read_from_file(str(timeline)).find_clips())
    assert [c.source_range.duration.to_frames() for c in clips] == [61, 99]
    assert {c.source_range.duration.rate for c in clips} == {25}
    assert storyboard_file.dump(project)["shots"][0]["trim"] == [0.4, 2.84]


def test_a_take_collected_before_takes_kept_their_frames_gets_them_when_next_read(user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    older, newer = make_takes(project)
    Take.objects.filter(pk__in=[older.pk, newer.pk]).update(frame_rate=None, frames=None)
    older.refresh_from_db()
    assert (older.rate, older.frame_count) == (24, 96)  # Seedance's rate until probed

    # The migration probes what is on this disk (headers only)...
    migration = importlib.import_module("projects.migrations.0017_take_frames")
    Take.objects.filter(pk=newer.pk).update(video="takes/not-there.mp4")
    migration.probe_stored_clips(apps, None)
    older.refresh_from_db()
    assert (older.frame_rate, older.frames) == (24.0, 96)
    assert Take.objects.get(pk=newer.pk).frames is None  # not on this disk

    # ...and a worker reading a clip keeps what it probed.
    Take.objects.filter(pk=older.pk).update(frame_rate=None, frames=None)
    export = Export.objects.create(project=project, takes=[older.pk])
    pipeline.export(export)
    older.refresh_from_db()
    assert (older.frame_rate, older.frames) == (24.0, 96)
