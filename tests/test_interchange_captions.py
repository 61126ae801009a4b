"""Tests for the SubRip and WebVTT captions: one cue per shot, over its time in the cut."""

import dataclasses
import re

import pytest

from projects.interchange import spans, write_srt, write_vtt
from tests.cuts import make_cut

TIMING = re.compile(r"^(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)$")


def cues(text: str) -> list[list[str]]:
    """The blocks of a caption file, as lists of lines."""
    return [block.split("\n") for block in text.strip("\n").split("\n\n")]


def timing(line: str) -> tuple[int, int]:
    """The start and end of a cue's timing line, in milliseconds."""
    h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, TIMING.match(line).groups())
    return (h1 * 3600 + m1 * 60 + s1) * 1000 + ms1, (h2 * 3600 + m2 * 60 + s2) * 1000 + ms2


def millis(frame: int) -> int:
    return round(frame * 1000 / 24)


@pytest.fixture
def srt(tmp_path):
    path = tmp_path / "cut.srt"
    write_srt(make_cut(), path)
    return path.read_text(encoding="utf-8")


@pytest.fixture
def vtt(tmp_path):
    path = tmp_path / "cut.vtt"
    write_vtt(make_cut(), path)
    return path.read_text(encoding="utf-8")


def test_srt_has_a_numbered_cue_per_shot_over_its_edit_range(srt):
    blocks = cues(srt)
    assert [block[0] for block in blocks] == ["1", "2", "3", "4"]
    assert [timing(block[1]) for block in blocks] == [
        (millis(span.edit_in), millis(span.edit_out)) for span in spans(make_cut())
    ]


def test_srt_timestamps_are_exact_at_24_fps(srt):
    blocks = cues(srt)
    # The crossfade into shot 3 shortens the cut by 12 frames, to 380 (15.833 s); shot 3
    # takes over at its centre, frame 210 (8.75 s).
    assert blocks[2][1] == "00:00:08,750 --> 00:00:11,833"
    assert blocks[3][1] == "00:00:11,833 --> 00:00:15,833"


def test_srt_keeps_the_text_but_no_blank_line(srt):
    shot = cues(srt)[2]
    assert shot[2:] == [
        'A fox watches from the ridge; it\'s "calm"',
        "& <alert> --> then",
        "leaves",
    ]


def test_vtt_has_a_header_and_a_cue_named_for_each_shot(vtt):
    assert vtt.startswith("WEBVTT\n\n")
    blocks = cues(vtt)[1:]
    assert [block[0] for block in blocks] == ["shot-1", "shot-2", "shot-3", "shot-4"]
    assert [timing(block[1]) for block in blocks] == [
        (millis(span.edit_in), millis(span.edit_out)) for span in spans(make_cut())
    ]
    assert blocks[2][1] == "00:00:08.750 --> 00:00:11.833"


def test_vtt_escapes_what_the_format_reserves(vtt):
    shot = cues(vtt)[3]
    assert shot[2:] == [
        'A fox watches from the ridge; it\'s "calm"',
        "&amp; &lt;alert&gt; --&gt; then",
        "leaves",
    ]


def test_long_prompts_wrap_into_short_lines(tmp_path):
    cut = make_cut()
    entries = [dataclasses.replace(cut.entries[0], prompt="word " * 40), *cut.entries[1:]]
    path = tmp_path / "cut.srt"
    write_srt(make_cut(entries=entries), path)
    lines = cues(path.read_text())[0][2:]
    assert len(lines) > 1
    assert all(len(line) <= 42 for line in lines)


def test_an_empty_prompt_still_gives_its_cue_a_line(tmp_path):
    cut = make_cut()
    entries = [dataclasses.replace(cut.entries[0], prompt=" \n"), *cut.entries[1:]]
    path = tmp_path / "cut.vtt"
    write_vtt(make_cut(entries=entries), path)
    assert cues(path.read_text())[1][2:] == ["Shot 1"]


def test_timestamps_count_hours(tmp_path):
    cut = make_cut()
    long = dataclasses.replace(cut.entries[0], clip_frames=100_000, frames=24 * 3600 + 1)
    path = tmp_path / "cut.srt"
    write_srt(make_cut(entries=[long, *cut.entries[1:]]), path)
    assert cues(path.read_text())[1][1].startswith("01:00:00,042 --> ")
