"""Tests for the PNG contact sheet: its grid, its posters and its text."""

import dataclasses
import io

import pytest
from PIL import Image, ImageFont

from projects.interchange import contact_sheet, layout, write_contact_sheet
from tests.cuts import make_cut, plain_cut

RED = (200, 30, 30)


def poster(path, color=RED, size=(864, 496)) -> str:
    Image.new("RGB", size, color).save(path, "JPEG")
    return str(path)


def render(cut) -> Image.Image:
    buffer = io.BytesIO()
    write_contact_sheet(cut, buffer)
    buffer.seek(0)
    image = Image.open(buffer)
    assert image.format == "PNG"
    image.load()
    return image


@pytest.mark.parametrize(
    ("count", "columns", "rows"),
    [(1, 1, 1), (3, 3, 1), (4, 4, 1), (7, 3, 3), (12, 4, 3), (30, 6, 5), (200, 8, 25)],
)
def test_the_grid_suits_the_number_of_shots(count, columns, rows):
    grid = layout(count, 864, 496)
    assert (grid.columns, grid.rows) == (columns, rows)


def test_a_sheet_of_three_shots_is_one_row_under_a_title():
    grid = layout(3, 864, 496)
    assert grid.poster == (320, 184)
    assert grid.size == (2 * 40 + 3 * 320 + 2 * 20, 112 + 40 + 184 + 96)
    assert render(plain_cut(3)).size == grid.size


@pytest.mark.parametrize("count", [1, 7, 24])
def test_the_sheet_has_the_size_of_its_grid(count):
    assert render(plain_cut(count)).size == layout(count, 864, 496).size


def test_a_vertical_cut_gets_tall_posters():
    cut = dataclasses.replace(plain_cut(3), width=496, height=864)
    grid = layout(3, 496, 864)
    assert grid.poster == (320, 557)
    assert render(cut).size == grid.size


def test_each_poster_sits_in_its_card(tmp_path):
    posters = [poster(tmp_path / f"{n}.jpg", color) for n, color in enumerate([RED] * 3)]
    sheet = render(plain_cut(3, posters=posters)).convert("RGB")
    grid = layout(3, 864, 496)
    for column in range(3):
        x = 40 + column * (grid.card[0] + 20) + grid.poster[0] // 2
        y = 112 + grid.poster[1] // 2
        red, green, blue = sheet.getpixel((x, y))
        assert red > 150 and green < 80 and blue < 80


def test_a_missing_or_broken_poster_leaves_a_placeholder(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    posters = [str(tmp_path / "missing.jpg"), str(broken), poster(tmp_path / "ok.jpg")]
    sheet = render(plain_cut(3, posters=posters)).convert("RGB")
    middle = (40 + 320 // 2, 112 + 184 // 4)
    assert max(sheet.getpixel(middle)) < 40  # the dark stripes, not a poster


def test_the_text_is_drawn_in_light_colours_on_the_dark_background():
    sheet = render(make_cut()).convert("RGB")
    assert sheet.getpixel((5, 5)) == (0x11, 0x13, 0x18)
    title = sheet.crop((40, 20, 400, 70))
    assert max(high for _, high in title.getextrema()) > 200


def test_it_falls_back_to_pillows_font_without_dejavu(monkeypatch):
    truetype = ImageFont.truetype

    def no_dejavu(font, *args, **kwargs):
        if str(font).startswith("DejaVu"):
            raise OSError("cannot open resource")
        return truetype(font, *args, **kwargs)  # Pillow's own font comes this way

    contact_sheet._font.cache_clear()
    monkeypatch.setattr(ImageFont, "truetype", no_dejavu)
    try:
        assert render(make_cut()).size == layout(4, 864, 496).size
    finally:
        contact_sheet._font.cache_clear()


def test_it_writes_a_png_file(tmp_path):
    path = tmp_path / "sheet.png"
    write_contact_sheet(make_cut(), path)
    with Image.open(path) as image:
        image.verify()
        assert image.format == "PNG"
