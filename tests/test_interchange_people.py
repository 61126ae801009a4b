"""What is made for people never shows the simulator's [sim:...] directives: captions,
timelines, the EDL, the contact sheet and the clips' file names; the provider still gets
the whole prompt."""

import opentimelineio as otio
from PIL import ImageDraw

from projects import cut
from projects.interchange import Cut, Entry, for_people, write
from projects.interchange import contact_sheet as sheet

TAGGED = "A fox [sim:delay=2] watches the ridge [sim:end=blur]"
SHOWN = "A fox watches the ridge"


def tagged_cut():
    entries = [
        Entry(1, "[sim:fail] Drone shot over a valley", "cut", "clips/01-drone.mp4", 48, 0, 48),
        Entry(2, TAGGED, "continue", "clips/02-fox.mp4", 48, 0, 48),
    ]
    return Cut("Autumn valley", 864, 496, entries)


def test_for_people_takes_out_every_directive_and_nothing_else():
    assert for_people(TAGGED) == SHOWN
    assert for_people("Line one [sim:moderation]\nline two") == "Line one\nline two"
    assert for_people("Brackets [like these] stay") == "Brackets [like these] stay"
    assert Entry(1, TAGGED, "cut", "a.mp4", 1, 0, 1).prompt == SHOWN


def written(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    write(tagged_cut(), path)
    return path


def test_captions_show_no_directive(tmp_path):
    for suffix in (".srt", ".vtt"):
        text = written(tmp_path, suffix).read_text()
        assert "[sim:" not in text and SHOWN in text and "Drone shot over a valley" in text


def test_the_edl_shows_no_directive(tmp_path):
    text = written(tmp_path, ".edl").read_text()
    assert "[SIM:" not in text.upper() and SHOWN.upper() in text


def test_timelines_show_no_directive_in_names_or_markers(tmp_path):
    for suffix in (".otio", ".fcpxml"):
        path = written(tmp_path, suffix)
        assert "[sim:" not in path.read_text()
        read = otio.adapters.read_from_file(str(path))
        markers = [marker.name for clip in read.find_clips() for marker in clip.markers]
        assert markers == ["Drone shot over a valley", SHOWN]


def test_the_contact_sheet_draws_no_directive(tmp_path, monkeypatch):
    drawn = []
    original = ImageDraw.ImageDraw.text

    def text(self, xy, words, *args, **kwargs):
        drawn.append(words)
        return original(self, xy, words, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text)
    sheet.write_contact_sheet(tagged_cut(), tmp_path / "sheet.png")
    assert not [words for words in drawn if "[sim:" in words or "sim:" in words]
    assert any("fox" in words for words in drawn)


def test_clip_file_names_show_no_directive():
    clips = [
        cut.Clip({"shot": 1, "prompt": "[sim:fail]"}, "a.mp4", None, 48),
        cut.Clip({"shot": 2, "prompt": TAGGED}, "b.mp4", None, 48),
    ]
    assert cut.names(clips) == ["clips/01-shot.mp4", "clips/02-a-fox-watches-the-ridge.mp4"]
