"""Tests for the neutral cut: its checks and where each entry plays in the sequence."""

import dataclasses

import pytest

from projects.interchange import Entry, InterchangeError, Span, Transition, first_words, spans
from tests.cuts import make_cut, plain_cut


def replace_entry(cut_entries, index, **changes):
    entries = list(cut_entries)
    entries[index] = dataclasses.replace(entries[index], **changes)
    return entries


def test_plain_cuts_follow_one_another():
    cut = plain_cut(3, frames=48)
    assert spans(cut) == [Span(0, 48, 0, 48), Span(48, 96, 48, 96), Span(96, 144, 96, 144)]
    assert cut.frames == 144


def test_a_crossfade_overlaps_the_entries_and_shortens_the_sequence():
    placed = spans(make_cut())
    # Entry 3 starts 12 frames before entry 2 ends; the edit sits 6 frames into the overlap.
    assert placed[1] == Span(96, 216, 96, 210)
    assert placed[2].start == 204
    assert placed[2].edit_in == 210
    assert make_cut().frames == 96 + 120 + 80 + 96 - 12


def test_a_dip_does_not_overlap_and_puts_the_edit_at_the_black():
    placed = spans(make_cut())
    assert placed[2].end == placed[3].start == 284
    assert placed[2].edit_out == placed[3].edit_in == 284
    assert placed[3] == Span(284, 380, 284, 380)


def test_edit_ranges_tile_the_sequence():
    placed = spans(make_cut())
    assert placed[0].edit_in == 0
    for before, after in zip(placed, placed[1:], strict=False):
        assert before.edit_out == after.edit_in
    assert placed[-1].edit_out == make_cut().frames


def test_a_transition_may_be_a_plain_tuple_and_reads_by_name():
    transition = make_cut().entries[2].transition
    assert transition == ("crossfade", 12)
    assert isinstance(transition, Transition)
    assert (transition.kind, transition.frames) == ("crossfade", 12)


def test_a_dip_splits_its_frames_between_the_two_entries():
    dip = Transition("dip", 13)
    assert (dip.tail, dip.head, dip.overlap) == (6, 7, 0)


def test_the_entries_are_kept_as_a_tuple():
    assert isinstance(make_cut().entries, tuple)


@pytest.mark.parametrize(
    ("index", "changes", "message"),
    [
        (1, {"transition": ("crossfade", 12)}, "continues its chain"),
        (0, {"transition": ("dip", 12)}, "nothing to transition from"),
        (2, {"transition": ("wipe", 12)}, "unknown transition"),
        (2, {"transition": ("crossfade", 0)}, "unknown transition"),
        (0, {"frames": 97}, "of a clip of 96"),
        (0, {"source_in": 1}, "of a clip of 96"),
        (0, {"frames": 0}, "plays no frames"),
        (0, {"opening": "fade"}, "not cut or continue"),
        # Entry 3 plays 80 frames: 12 crossfading in and 6 fading out leave it room...
        (2, {"frames": 18, "source_in": 0}, "too few for its transitions"),
        # ...and entry 2 must keep a frame outside the crossfade into entry 3.
        (2, {"transition": ("crossfade", 120)}, "too few for its transitions"),
    ],
)
def test_it_rejects_a_cut_it_cannot_describe(index, changes, message):
    entries = replace_entry(make_cut().entries, index, **changes)
    with pytest.raises(InterchangeError, match=message):
        make_cut(entries=entries)


def test_it_rejects_an_empty_cut():
    with pytest.raises(InterchangeError, match="no shots"):
        make_cut(entries=[])


def test_an_entry_with_one_frame_of_its_own_is_enough():
    entries = replace_entry(make_cut().entries, 2, frames=12 + 6 + 1, source_in=0)
    span = spans(make_cut(entries=entries))[2]
    assert span.end - span.start == 19


def test_first_words_cuts_after_a_whole_word():
    assert first_words("Drone shot over an autumn valley", 14) == "Drone shot…"
    assert first_words("Drone shot over", 15) == "Drone shot over"
    assert first_words("Drone\n shot   over", 40) == "Drone shot over"
    assert first_words("Supercalifragilistic", 6) == "Super…"


def test_an_entry_is_frozen():
    entry = Entry(1, "p", "cut", "clips/a.mp4", 10, 0, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.frames = 3
