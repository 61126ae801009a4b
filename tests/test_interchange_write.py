"""Tests for write(): the output's suffix chooses the format."""

import opentimelineio as otio
import pytest
from PIL import Image

from projects.interchange import WRITERS, InterchangeError, write
from tests.cuts import make_cut


@pytest.mark.parametrize("suffix", [".otio", ".fcpxml", ".edl"])
def test_timelines_are_read_back_by_the_adapter_their_suffix_names(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    write(make_cut(), path)
    read = otio.adapters.read_from_file(str(path))
    assert read.duration().value == make_cut().frames


def test_captions_and_the_contact_sheet_follow_their_suffixes(tmp_path):
    write(make_cut(), tmp_path / "cut.srt")
    write(make_cut(), tmp_path / "cut.vtt")
    write(make_cut(), tmp_path / "cut.png")
    assert (tmp_path / "cut.srt").read_text().startswith("1\n00:00:00,000 --> ")
    assert (tmp_path / "cut.vtt").read_text().startswith("WEBVTT\n")
    with Image.open(tmp_path / "cut.png") as image:
        assert image.format == "PNG"


def test_a_suffix_in_capitals_is_the_same_format(tmp_path):
    write(make_cut(), tmp_path / "CUT.EDL")
    assert (tmp_path / "CUT.EDL").read_text().startswith("TITLE: Autumn valley")


def test_it_refuses_a_suffix_it_has_no_format_for(tmp_path):
    with pytest.raises(InterchangeError, match=r"'cut\.mov'.*\.otio, \.fcpxml"):
        write(make_cut(), tmp_path / "cut.mov")
    assert not list(tmp_path.iterdir())


def test_it_leaves_no_partial_file_behind(tmp_path):
    (tmp_path / "cut.fcpxml").write_text("the previous export")
    with pytest.raises(InterchangeError):
        write(make_cut(fps=15), tmp_path / "cut.fcpxml")
    assert [path.name for path in tmp_path.iterdir()] == ["cut.fcpxml"]
    assert (tmp_path / "cut.fcpxml").read_text() == "the previous export"


def test_every_format_of_the_export_command_but_mp4_and_zip_is_here():
    assert set(WRITERS) == {".otio", ".fcpxml", ".edl", ".srt", ".vtt", ".png"}
