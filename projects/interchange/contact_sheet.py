"""The cut as a contact sheet: a PNG with a card per shot (its poster, number, opening,
duration and the first words of its prompt) in a grid under the cut's title, in the app's
dark colours.
"""

import io
import math
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .cut import Cut, Entry
from .output import deliver

# The app's palette (static/css/app.css).
BACKGROUND = "#111318"
PANEL = "#1a1d24"
LINE = "#2a2e38"
TEXT = "#e8e9ec"
MUTED = "#9096a3"
ACCENT = "#ff7a45"
ACCENT_2 = "#ffb36b"
CHIP = "#262a33"
STRIPES = ("#15171d", "#181b22")

POSTER_WIDTH = 320
MARGIN = 40  # around the sheet
GAP = 20  # between cards
PAD = 12  # inside a card, around its text
HEADER = 112  # the title and the line under it
CAPTION = 96  # a card's text under its poster: one line of facts, two of prompt
RADIUS = 10
MAX_COLUMNS = 8


@dataclass(frozen=True)
class Layout:
    columns: int
    rows: int
    poster: tuple[int, int]  # width, height of each poster's box
    card: tuple[int, int]
    size: tuple[int, int]  # of the whole sheet


def layout(count: int, width: int, height: int) -> Layout:
    """The grid for `count` shots of `width` x `height`: near-square up to 4 shots a row,
    then wider as the count grows, up to MAX_COLUMNS; the sheet grows down from there.
    """
    columns = count if count <= 4 else min(MAX_COLUMNS, max(3, round(math.sqrt(count * 1.2))))
    rows = math.ceil(count / columns)
    # Very tall or very wide clips get a box no more extreme than 9:16 or 21:9.
    aspect = min(max(height / width, 9 / 21), 16 / 9)
    poster = (POSTER_WIDTH, round(POSTER_WIDTH * aspect))
    card = (poster[0], poster[1] + CAPTION)
    size = (
        2 * MARGIN + columns * card[0] + (columns - 1) * GAP,
        HEADER + MARGIN + rows * card[1] + (rows - 1) * GAP,
    )
    return Layout(columns, rows, poster, card, size)


def write_contact_sheet(cut: Cut, out) -> None:
    """Write a PNG contact sheet of `cut` to `out` (a path or a binary file)."""
    grid = layout(len(cut.entries), cut.width, cut.height)
    sheet = Image.new("RGB", grid.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    _header(draw, cut, grid.size[0] - 2 * MARGIN)
    for index, entry in enumerate(cut.entries):
        row, column = divmod(index, grid.columns)
        x = MARGIN + column * (grid.card[0] + GAP)
        y = HEADER + row * (grid.card[1] + GAP)
        _card(sheet, draw, (x, y), grid, entry, cut.fps)
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    deliver(buffer.getvalue(), out)


def _header(draw: ImageDraw.ImageDraw, cut: Cut, room: int) -> None:
    title = _font(34, bold=True)
    draw.text((MARGIN, 62), _fit(cut.title, title, room), font=title, fill=TEXT, anchor="ls")
    count = len(cut.entries)
    seconds = round(cut.frames / cut.fps)
    facts = (
        f"{count} shot{'' if count == 1 else 's'}  ·  {seconds // 60}:{seconds % 60:02d}  ·  "
        f"{cut.width}x{cut.height}  ·  {cut.fps} fps"
    )
    draw.text((MARGIN, 90), facts, font=_font(16), fill=MUTED, anchor="ls")


def _card(sheet, draw, origin, grid: Layout, entry: Entry, fps: int) -> None:
    x, y = origin
    width, height = grid.card
    draw.rounded_rectangle((x, y, x + width - 1, y + height - 1), RADIUS, fill=PANEL, outline=LINE)
    poster = _poster(entry.poster, grid.poster)
    mask = Image.new("L", grid.poster, 0)
    # Round the top corners only: the text panel carries on below.
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, grid.poster[0] - 1, grid.poster[1] + RADIUS), RADIUS, fill=255
    )
    sheet.paste(poster, (x, y), mask)

    top = y + grid.poster[1] + PAD
    number = _font(20, bold=True)
    small = _font(12, bold=True)
    draw.text((x + PAD, top + 18), f"{entry.number:02d}", font=number, fill=ACCENT, anchor="ls")
    left = x + PAD + round(draw.textlength(f"{entry.number:02d}", font=number)) + 10
    left = _chip(draw, (left, top + 2), entry.opening.upper(), small, MUTED) + 6
    if entry.transition:
        kind, frames = entry.transition
        _chip(draw, (left, top + 2), f"{kind.upper()} {frames / fps:.1f} s", small, ACCENT_2)
    duration = f"{entry.frames / fps:.1f} s"
    draw.text((x + width - PAD, top + 18), duration, font=_font(15), fill=MUTED, anchor="rs")

    prompt = _font(14)
    for line_number, line in enumerate(_wrap(entry.prompt, prompt, width - 2 * PAD, lines=2)):
        draw.text((x + PAD, top + 44 + line_number * 20), line, font=prompt, fill=TEXT, anchor="ls")


def _chip(draw, origin, text, font, color) -> int:
    """Draw `text` in a pill at `origin`; return the x just after it."""
    x, y = origin
    width = round(draw.textlength(text, font=font)) + 14
    draw.rounded_rectangle((x, y, x + width, y + 20), 10, fill=CHIP)
    draw.text((x + width / 2, y + 10), text, font=font, fill=color, anchor="mm")
    return x + width


def _poster(path: str | None, size: tuple[int, int]) -> Image.Image:
    """The poster fitted to `size` on black, or a striped placeholder when there is none."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            fitted = ImageOps.contain(image, size, Image.LANCZOS)
    except (TypeError, AttributeError, OSError, UnidentifiedImageError):
        return _placeholder(size)
    box = Image.new("RGB", size, "#000000")
    box.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return box


def _placeholder(size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, STRIPES[0])
    draw = ImageDraw.Draw(image)
    width, height = size
    for offset in range(-height, width, 24):
        draw.polygon(
            [
                (offset, height),
                (offset + 12, height),
                (offset + 12 + height, 0),
                (offset + height, 0),
            ],
            STRIPES[1],
        )
    draw.text((width / 2, height / 2), "no poster", font=_font(14), fill=MUTED, anchor="mm")
    return image


def _wrap(text: str, font, room: int, lines: int) -> list[str]:
    """The first words of `text` in at most `lines` lines of `room` pixels; "…" if some are left."""
    words = text.split()
    result: list[str] = []
    while words and len(result) < lines:
        line = words.pop(0)
        while words and font.getlength(f"{line} {words[0]}") <= room:
            line = f"{line} {words.pop(0)}"
        result.append(_fit(line, font, room))
    if words and result:
        result[-1] = _fit(result[-1].rstrip("…"), font, room, more=True)
    return result


def _fit(text: str, font, room: int, more: bool = False) -> str:
    """`text` in `room` pixels, shortened if needed, with an ellipsis if shortened or `more`."""
    if not more and font.getlength(text) <= room:
        return text
    while text and font.getlength(text + "…") > room:
        text = text[:-1]
    return text.rstrip(" ,;:.-") + "…"


@cache
def _font(size: int, bold: bool = False):
    # DejaVu comes with Debian (fonts-dejavu-core); Pillow's own font is the fallback.
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)
