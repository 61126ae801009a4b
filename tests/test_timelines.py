"""Timelines keep their sound and never point at missing files: FCPXML marks a clip with
a sound track as heard (probed from the clip); a timeline written alone by the command
line has its clips written beside it; the page offers timelines only in the bundle."""

import dataclasses
import xml.etree.ElementTree as ElementTree

import opentimelineio as otio
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse

from projects.interchange import timeline, write_fcpxml
from projects.models import Export, Opening
from tests.clips import make_clip
from tests.cuts import make_cut
from tests.factories import make_project, make_take


def assets(path):
    root = ElementTree.parse(path).getroot()
    return {asset.get("src"): asset for asset in root.iter("asset")}, root


def test_fcpxml_hears_the_clips_that_have_sound_and_only_those(tmp_path):
    cut = make_cut()
    entries = [
        dataclasses.replace(entry, has_audio=entry.number in (1, 3)) for entry in cut.entries
    ]
    path = tmp_path / "cut.fcpxml"
    write_fcpxml(dataclasses.replace(cut, entries=entries), path)

    found, root = assets(path)
    heard = {src for src, asset in found.items() if asset.get("hasAudio") == "1"}
    assert heard == {"clips/01-drone-shot.mp4", "file:///srv/media/03%20fox%27s.mp4"}
    assert found["clips/02-dive.mp4"].get("hasAudio") == "0"
    # Each heard clip's sound is on the timeline, under its picture, from the same asset.
    ids = {found[src].get("id") for src in heard}
    assert sorted(audio.get("ref") for audio in root.iter("audio")) == sorted(ids)
    assert path.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    read = otio.adapters.read_from_file(str(path))
    kinds = {
        kind: [c.name for t in read.tracks if t.kind == kind for c in t.find_clips()]
        for kind in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio)
    }
    assert len(kinds[otio.schema.TrackKind.Video]) == 4
    # The adapter reads the sound back as clips on an audio track: the heard ones.
    assert [name[:2] for name in kinds[otio.schema.TrackKind.Audio]] == ["01", "03"]


def test_a_cut_without_sound_is_written_as_the_adapter_writes_it(tmp_path):
    path = tmp_path / "cut.fcpxml"
    write_fcpxml(make_cut(), path)
    found, root = assets(path)
    assert {asset.get("hasAudio") for asset in found.values()} == {"0"}
    assert not list(root.iter("audio"))
    silent = timeline(make_cut())
    assert [track.kind for track in silent.tracks] == ["Video"]


def project_with_sound(user, tmp_path):
    """Two shots whose takes are clips with an AAC track."""
    project = make_project(
        user,
        shots=[("A lighthouse [sim:delay=1]", Opening.CUT), ("The beam sweeps", Opening.CONTINUE)],
    )
    sound = make_clip(tmp_path / "sound.mp4", width=160, height=96, seconds=2, audio=True)
    take = None
    for shot in project.shots.in_order():
        take = make_take(shot, upstream=take, frames=48, duration=2.0)
        take.video.save("video.mp4", ContentFile(sound.read_bytes()))
    return project


def test_a_timeline_from_the_command_line_has_its_clips_beside_it_with_their_sound(user, tmp_path):
    project = project_with_sound(user, tmp_path)
    for suffix in ("fcpxml", "otio", "edl"):
        folder = tmp_path / suffix
        folder.mkdir()
        output = folder / f"cut.{suffix}"
        call_command("storyboard", "export", str(project.pk), "--output", str(output))
        timeline = otio.adapters.read_from_file(str(output))
        targets = {clip.media_reference.target_url for clip in timeline.find_clips()}
        assert targets == {"clips/01-a-lighthouse.mp4", "clips/02-the-beam-sweeps.mp4"}
        for target in targets:
            assert (folder / target).is_file(), target
    heard = otio.adapters.read_from_file(str(tmp_path / "otio" / "cut.otio"))
    assert [track.kind for track in heard.tracks] == ["Video", "Audio"]
    assert len(list(heard.tracks[1].find_clips())) == 2
    found, _ = assets(tmp_path / "fcpxml" / "cut.fcpxml")
    assert {asset.get("hasAudio") for asset in found.values()} == {"1"}


def test_the_page_offers_timelines_only_in_the_bundle(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    make_take(project.shots.get())
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert '<option value="zip">' in page and '<option value="otio">' not in page
    assert '<option value="fcpxml">' not in page and '<option value="edl">' not in page
    assert "come inside the editor&#x27;s bundle" in page

    answer = client_of.post(
        reverse("export-create", args=[project.pk]), {"format": "fcpxml"}, follow=True
    )
    assert "come inside the editor&#x27;s bundle" in answer.content.decode()
    assert not Export.objects.exists()
