"""The cut a team hands on, made by the app: seamless, trimmed, with transitions, in every
format an editor opens; checked frame by frame on the simulator's real clips."""

import json
import zipfile

import opentimelineio as otio
import pytest
from django.core.management import call_command
from PIL import Image, ImageChops, ImageStat

from projects import cut, media, pipeline, storyboard_file
from projects.files import local_copy
from projects.models import Export, Opening, Take
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def difference(a, b):
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB").resize(a.size))
    return sum(ImageStat.Stat(diff).mean) / 3


def frames_of(path):
    """Every frame of the clip, made an image when a test looks at it."""
    import av

    from tests.clips import Pictures

    with av.open(str(path)) as container:
        return Pictures(list(container.decode(video=0)))


@pytest.fixture
def chain(simulator, user):
    """A generated project: a chain of three shots (4, 5 and 4 s), then a cut of 4 s."""
    project = make_project(
        user,
        shots=[
            {"prompt": "Drone over the valley", "opening": Opening.CUT, "duration": 4},
            {"prompt": "It dives to the river", "opening": Opening.CONTINUE, "duration": 5},
            {"prompt": "It skims the water", "opening": Opening.CONTINUE, "duration": 4},
            {"prompt": "A fox on the ridge", "opening": Opening.CUT, "duration": 4},
        ],
    )
    pipeline.queue_takes(project)
    assert pipeline.run_here(project)
    return project


def export(project, tmp_path, suffix, *flags):
    output = tmp_path / f"cut.{suffix}"
    call_command("storyboard", "export", str(project.pk), "--output", str(output), *flags)
    return output


def clips(project):
    return [shot.selected_take for shot in project.timeline()]


def test_a_seamless_export_drops_each_continues_repeated_frame(chain, tmp_path):
    seamless = frames_of(export(chain, tmp_path, "mp4", "--seamless"))
    every = frames_of(export(chain, tmp_path / ".." / tmp_path.name, "mp4"))
    takes = clips(chain)
    counts = [round(take.duration * 24) for take in takes]
    assert len(every) == sum(counts) == 17 * 24
    assert len(seamless) == sum(counts) - 2  # two continue seams
    # After each continue seam comes the continuing clip's second frame, not its first.
    with local_copy(takes[1].video, ".mp4") as second:
        second_clip = frames_of(second)
    seam = counts[0]
    assert difference(seamless[seam - 1], every[seam - 1]) < 2  # shot 1's last frame
    assert difference(seamless[seam], second_clip[1]) < 3
    assert difference(every[seam], second_clip[0]) < 3  # the plain join repeats it


def test_trims_are_frame_exact_and_the_shot_after_starts_on_the_out_point(
    simulator, user, tmp_path
):
    project = make_project(
        user,
        shots=[
            {"prompt": "Drone over the valley", "opening": Opening.CUT, "duration": 4},
            {"prompt": "It dives to the river", "opening": Opening.CONTINUE, "duration": 4},
        ],
    )
    first, second = project.shots.in_order()
    pipeline.queue_takes(project, shots=[first])
    pipeline.run_here(project)
    first.trim_in, first.trim_out = 6, 60
    first.save(update_fields=["trim_in", "trim_out"])
    pipeline.queue_takes(project)
    pipeline.run_here(project)

    one, two = clips(project)
    assert two.upstream_out == 60 and two.start_frame
    with local_copy(one.video, ".mp4") as path:
        out_point = media.frame_at(path, 60)
        in_point = media.frame_at(path, 6)
    with local_copy(two.video, ".mp4") as path:
        assert difference(media.first_frame(path), out_point) < 6  # not shot 1's last frame
        assert difference(media.first_frame(path), media.last_frame(path)) > 3

    sequence = frames_of(export(project, tmp_path, "mp4", "--seamless"))
    assert len(sequence) == (60 - 6 + 1) + 96 - 1
    assert difference(sequence[0], in_point) < 3
    assert difference(sequence[54], out_point) < 3

    # Moving the out point makes the shot after it stale: it started on another frame.
    first.trim_out = 70
    first.save(update_fields=["trim_out"])
    assert [shot.stale for shot in project.timeline()] == [False, True]


def test_editors_timelines_play_what_the_seamless_export_plays_at_a_trimmed_continue(tmp_path):
    from tests.clips import make_clip

    paths = [make_clip(tmp_path / f"{n}.mp4", width=160, height=96, seconds=1) for n in (1, 2, 3)]
    entries = [
        {"shot": 1, "joins": "cut", "first": 0, "last": 20},
        {"shot": 2, "joins": "continue", "first": 4, "last": None},  # trimmed in
        {"shot": 3, "joins": "continue", "first": 0, "last": None},
    ]
    clips = [
        cut.Clip({**entry, "prompt": "A", "transition": None}, str(path), None, 24)
        for entry, path in zip(entries, paths, strict=True)
    ]
    timeline = cut.timeline("A", clips, (160, 96))
    # The trimmed continue's repeated frame is cut already: it drops nothing more.
    assert [(e.source_in, e.frames) for e in timeline.entries] == [(0, 21), (0, 20), (1, 23)]
    made = media.join(cut.pieces(clips), tmp_path / "cut.mp4")
    assert made.frames == timeline.frames == 21 + 20 + 23


def test_a_cut_can_enter_with_a_crossfade_that_shortens_the_sequence(chain, tmp_path):
    fox = chain.shots.get(position=3)
    fox.transition, fox.transition_frames = "crossfade", 12
    fox.save(update_fields=["transition", "transition_frames"])
    sequence = frames_of(export(chain, tmp_path, "mp4", "--seamless"))
    assert len(sequence) == 17 * 24 - 2 - 12


def test_every_format_an_editor_opens(chain, tmp_path):
    timeline = otio.adapters.read_from_file(str(export(chain, tmp_path, "otio", "--seamless")))
    track = timeline.tracks[0]
    clipped = [item for item in track if isinstance(item, otio.schema.Clip)]
    assert [c.source_range.duration.to_frames() for c in clipped] == [96, 119, 95, 96]
    assert clipped[0].markers[0].name.startswith("Drone over the valley")
    fcp = otio.adapters.read_from_file(str(export(chain, tmp_path, "fcpxml", "--seamless")))
    assert len([c for c in fcp.find_clips()]) == 4
    edl = otio.adapters.read_from_file(str(export(chain, tmp_path, "edl", "--seamless")))
    assert len(list(edl.find_clips())) == 4
    srt = export(chain, tmp_path, "srt", "--seamless").read_text()
    assert "00:00:00,000 --> 00:00:04,000" in srt and "A fox on the ridge" in srt
    assert export(chain, tmp_path, "vtt").read_text().startswith("WEBVTT")
    sheet = Image.open(export(chain, tmp_path, "png"))
    assert sheet.format == "PNG" and sheet.width > 600


def test_the_editors_bundle_opens_as_it_is(chain, tmp_path):
    bundle = zipfile.ZipFile(export(chain, tmp_path, "zip"))
    names = set(bundle.namelist())
    for name in (
        "sequence.mp4",
        "timeline.otio",
        "timeline.fcpxml",
        "timeline.edl",
        "captions.srt",
        "contact-sheet.png",
        "storyboard.json",
        "storyboard.pdf",
    ):
        assert name in names
    clips_in = sorted(n for n in names if n.startswith("clips/"))
    assert len(clips_in) == 4 and clips_in[0].startswith("clips/01-drone-over-the-valley")
    folder = tmp_path / "opened"
    bundle.extractall(folder)
    timeline = otio.adapters.read_from_file(str(folder / "timeline.otio"))
    for clip in timeline.find_clips():
        assert (folder / clip.media_reference.target_url).is_file()  # relative, and there
    assert json.loads((folder / "storyboard.json").read_text())["title"] == chain.title
    assert media.probe(folder / "sequence.mp4").frames == 17 * 24 - 2


def test_the_storyboard_file_carries_trims_and_transitions(chain, user, tmp_path):
    shots = list(chain.shots.in_order())
    shots[0].trim_in, shots[0].trim_out = 12, 83
    shots[0].save()
    shots[3].transition, shots[3].transition_frames = "dip", 8
    shots[3].save()
    dumped = storyboard_file.dump(chain)
    assert dumped["shots"][0]["trim"] == [0.5, 3.5]
    assert dumped["shots"][3]["transition"] == {"kind": "dip", "frames": 8}
    path = tmp_path / "board.json"
    path.write_text(json.dumps(dumped))
    again = storyboard_file.load(path, user)
    first, *_, last = again.shots.in_order()
    assert (first.trim_in, first.trim_out) == (12, 83)
    assert (last.transition, last.transition_frames) == ("dip", 8)
    path.write_text(json.dumps({**dumped, "shots": [{"prompt": "A", "trim": [3, 2]}]}))
    with pytest.raises(storyboard_file.StoryboardError, match="trim"):
        storyboard_file.load(path, user)


def test_the_plan_names_what_an_export_joins(chain):
    plan = cut.plan(chain)
    assert [entry["joins"] for entry in plan] == ["cut", "continue", "continue", "cut"]
    assert [entry["take"] for entry in plan] == [take.pk for take in clips(chain)]
    Take.objects.filter(pk=plan[2]["take"]).delete()
    export = Export.objects.create(project=chain, takes=[e["take"] for e in plan], plan=plan)
    pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED and "deleted" in export.error
