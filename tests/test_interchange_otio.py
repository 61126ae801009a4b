"""Tests for the OpenTimelineIO timeline of a cut and the .otio file written from it."""

import dataclasses
import io

import opentimelineio as otio
import pytest

from projects.interchange import spans, timeline, write_otio
from tests.cuts import FOX, make_cut


@pytest.fixture
def read_back(tmp_path):
    path = tmp_path / "cut.otio"
    write_otio(make_cut(), path)
    return otio.adapters.read_from_file(str(path))


def on_track(clip) -> tuple[int, int]:
    """The frames of the track during which `clip` is seen, its transitions' handles included."""
    placed, own, seen = clip.range_in_parent(), clip.source_range, clip.visible_range()
    start = placed.start_time - (own.start_time - seen.start_time)
    end = placed.end_time_exclusive() + (seen.end_time_exclusive() - own.end_time_exclusive())
    return int(start.value), int(end.value)


def test_otio_reads_its_own_file_back_unchanged(read_back):
    assert read_back.is_equivalent_to(timeline(make_cut()))
    assert read_back.name == "Autumn valley"


def test_it_writes_to_an_open_file_too(tmp_path):
    path, buffer = tmp_path / "cut.otio", io.BytesIO()
    write_otio(make_cut(), path)
    write_otio(make_cut(), buffer)
    assert buffer.getvalue() == path.read_bytes()


def test_there_is_one_video_track_with_a_clip_per_entry_in_order(read_back):
    (track,) = read_back.tracks
    assert track.kind == otio.schema.TrackKind.Video
    clips = list(track.find_clips())
    assert [clip.metadata["storyboard"]["number"] for clip in clips] == [1, 2, 3, 4]
    assert [clip.name for clip in clips][:2] == [
        "01 Drone shot over an autumn valley",
        "02 The drone dives toward the river",
    ]


def test_each_clip_shows_exactly_its_entrys_frames_where_the_cut_plays_them(read_back):
    cut = make_cut()
    clips = list(read_back.find_clips())
    for clip, entry, span in zip(clips, cut.entries, spans(cut), strict=True):
        seen = clip.visible_range()
        assert (seen.start_time.value, seen.duration.value) == (entry.source_in, entry.frames)
        assert seen.start_time.rate == 24
        assert on_track(clip) == (span.start, span.end)


def test_the_timeline_lasts_as_long_as_the_cut(read_back):
    assert read_back.duration() == otio.opentime.RationalTime(make_cut().frames, 24)


def test_a_crossfade_is_a_dissolve_centred_on_the_edit(read_back):
    clips = list(read_back.find_clips())
    (dissolve,) = [item for item in read_back.tracks[0] if item.name == "Crossfade"]
    assert dissolve.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert (dissolve.in_offset.value, dissolve.out_offset.value) == (6, 6)
    assert dissolve.metadata["storyboard"] == {"transition": "crossfade", "frames": 12}
    assert clips[2].range_in_parent().start_time.value == spans(make_cut())[2].edit_in


def test_a_dip_is_a_dissolve_to_black_and_another_from_it(read_back):
    items = list(read_back.tracks[0])
    fade_out, gap, fade_in, clip = items[-4:]
    assert (fade_out.name, fade_in.name) == ("Fade to black", "Fade from black")
    for fade in fade_out, fade_in:
        assert fade.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
        assert fade.metadata["storyboard"] == {"transition": "dip", "frames": 13}
    assert (fade_out.in_offset.value, fade_out.out_offset.value) == (0, 6)
    assert isinstance(gap, otio.schema.Gap)
    assert gap.duration().value == 13
    assert (fade_in.in_offset.value, fade_in.out_offset.value) == (7, 0)
    assert clip.metadata["storyboard"]["number"] == 4


def test_a_dip_of_one_frame_only_fades_in():
    cut = make_cut()
    entries = list(cut.entries)
    entries[3] = dataclasses.replace(entries[3], transition=("dip", 1))
    items = list(timeline(make_cut(entries=entries)).tracks[0])
    assert [type(item).__name__ for item in items[-3:]] == ["Gap", "Transition", "Clip"]
    assert items[-2].in_offset.value == 1


def test_clips_reference_their_files_with_their_whole_length(read_back):
    clips = list(read_back.find_clips())
    references = [clip.media_reference for clip in clips]
    assert all(isinstance(ref, otio.schema.ExternalReference) for ref in references)
    assert [ref.target_url for ref in references] == [
        "clips/01-drone-shot.mp4",
        "clips/02-dive.mp4",
        "file:///srv/media/03%20fox%27s.mp4",
        "clips/04-night.mp4",
    ]
    assert [ref.available_range.duration.value for ref in references] == [96, 120, 96, 100]
    assert all(ref.available_range.start_time.value == 0 for ref in references)


def test_a_marker_on_each_clip_carries_its_prompt(read_back):
    for clip, entry in zip(read_back.find_clips(), make_cut().entries, strict=True):
        (marker,) = clip.markers
        assert marker.name == entry.prompt
        assert marker.metadata["storyboard"]["number"] == entry.number
        assert marker.metadata["storyboard"]["opening"] == entry.opening
        assert marker.marked_range.start_time == clip.source_range.start_time
    assert list(read_back.find_clips())[2].markers[0].name == FOX
