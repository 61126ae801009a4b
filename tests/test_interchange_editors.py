"""Tests for the FCPXML and CMX 3600 files, read back through the same OTIO adapters."""

import dataclasses

import opentimelineio as otio
import pytest

from projects.interchange import InterchangeError, spans, timeline, write_edl, write_fcpxml
from tests.cuts import make_cut


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def fcpxml(tmp_path):
    path = tmp_path / "cut.fcpxml"
    write_fcpxml(make_cut(), path)
    return otio.adapters.read_from_file(str(path), adapter_name="fcpx_xml")


@pytest.fixture
def edl(tmp_path):
    path = tmp_path / "cut.edl"
    write_edl(make_cut(), path)
    return otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=24)


def shots(edl_timeline) -> list:
    """The EDL's events of real clips, without the black the dips go through."""
    return [
        clip for clip in edl_timeline.find_clips() if clip.metadata["cmx_3600"].get("reel") != "BL"
    ]


def test_fcpxml_keeps_every_clip_in_order_with_its_trim(fcpxml):
    model = timeline(make_cut())
    expected = list(model.find_clips())
    clips = list(fcpxml.find_clips())
    assert [clip.source_range for clip in clips] == [clip.source_range for clip in expected]
    assert [clip.name[:2] for clip in clips] == ["01", "02", "03", "04"]
    assert [clip.range_in_parent() for clip in clips] == [
        clip.range_in_parent() for clip in expected
    ]


def test_fcpxml_lasts_as_long_as_the_cut(fcpxml):
    assert fcpxml.duration() == otio.opentime.RationalTime(make_cut().frames, 24)


def test_fcpxml_has_no_transitions_but_keeps_the_black_of_a_dip(fcpxml):
    items = list(fcpxml.tracks[0])
    assert not [item for item in items if isinstance(item, otio.schema.Transition)]
    (gap,) = [item for item in items if isinstance(item, otio.schema.Gap)]
    assert gap.duration().value == 13
    assert gap.range_in_parent().start_time.value == spans(make_cut())[3].start - 6


def test_fcpxml_markers_carry_the_prompts_on_one_line(fcpxml):
    names = [[marker.name for marker in clip.markers] for clip in fcpxml.find_clips()]
    assert names == [[one_line(entry.prompt)] for entry in make_cut().entries]


def test_fcpxml_references_the_clip_files(fcpxml):
    assert [clip.media_reference.target_url for clip in fcpxml.find_clips()] == [
        "clips/01-drone-shot.mp4",
        "clips/02-dive.mp4",
        "file:///srv/media/03%20fox%27s.mp4",
        "clips/04-night.mp4",
    ]


def test_fcpxml_makes_apostrophes_in_clip_names_typographic(tmp_path):
    path = tmp_path / "cut.fcpxml"
    write_fcpxml(make_cut(), path)
    assert "it’s" in path.read_text()
    assert "from the ridge; it's" not in path.read_text().split("<marker")[0]


def test_fcpxml_refuses_a_rate_the_adapter_does_not_know(tmp_path):
    with pytest.raises(InterchangeError, match="fps"):
        write_fcpxml(make_cut(fps=15), tmp_path / "cut.fcpxml")


def test_edl_has_an_event_per_entry_where_the_cut_plays_it(edl):
    cut = make_cut()
    events = shots(edl)
    assert [clip.range_in_parent().start_time.value for clip in events] == [
        span.start for span in spans(cut)
    ]
    assert [clip.source_range.start_time.value for clip in events] == [
        entry.source_in for entry in cut.entries
    ]
    assert edl.duration() == otio.opentime.RationalTime(cut.frames, 24)


def test_edl_dissolves_for_the_crossfade_and_through_black_for_the_dip(edl):
    items = list(edl.tracks[0])
    dissolves = [item for item in items if isinstance(item, otio.schema.Transition)]
    assert [item.transition_type for item in dissolves] == [
        otio.schema.TransitionTypes.SMPTE_Dissolve
    ] * 3
    assert [item.duration().value for item in dissolves] == [12, 6, 7]
    # The dip's first dissolve is to the black reel, its second from it.
    black = items[items.index(dissolves[1]) + 1]
    assert black.metadata["cmx_3600"]["reel"] == "BL"
    assert items[items.index(dissolves[2]) + 1].metadata["cmx_3600"]["reel"] == "04night"


def test_edl_names_a_reel_of_eight_characters_for_each_file(edl):
    assert [clip.metadata["cmx_3600"]["reel"] for clip in shots(edl)] == [
        "01drones",
        "02dive",
        "03foxs",
        "04night",
    ]


def test_edl_reels_stay_distinct_when_file_names_do_not(tmp_path):
    cut = make_cut()
    clips = [
        "a/shot-number-1.mp4",
        "b/shot-number-1.mp4",
        "shot-number-2.mp4",
        "a/shot-number-1.mp4",
    ]
    entries = [
        dataclasses.replace(entry, clip=clip)
        for entry, clip in zip(cut.entries, clips, strict=True)
    ]
    path = tmp_path / "cut.edl"
    write_edl(make_cut(entries=entries), path)
    read = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=24)
    reels = [clip.metadata["cmx_3600"]["reel"] for clip in shots(read)]
    assert reels == ["shotnumb", "shotnum2", "shotnum3", "shotnumb"]


def test_edl_markers_carry_the_prompts(edl):
    names = {marker.name for clip in edl.find_clips() for marker in clip.markers}
    assert names == {one_line(entry.prompt).upper() for entry in make_cut().entries}


def test_edl_names_each_file_for_relinking(tmp_path):
    path = tmp_path / "cut.edl"
    write_edl(make_cut(), path)
    text = path.read_text()
    assert "* FROM CLIP: clips/01-drone-shot.mp4" in text
    assert "* TO CLIP: /srv/media/03 fox's.mp4" in text
    assert text.startswith("TITLE: Autumn valley\n")
    assert "* TO CLIP NAME:  03 A fox watches from the ridge; it's...\n" in text


def test_edl_refuses_more_events_than_cmx_3600_numbers(tmp_path):
    entry = make_cut().entries[0]
    entries = [dataclasses.replace(entry, number=number) for number in range(1, 1001)]
    with pytest.raises(InterchangeError, match="999"):
        write_edl(make_cut(entries=entries), tmp_path / "cut.edl")
