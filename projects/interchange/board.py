"""The printed storyboard: the PDF a crew prints and passes round.

Page after page of panels in a grid, under a header (project, team, date) and over page
numbers. Each panel has the shot's picture (its take's poster, else its first frame or a
reference, else a placeholder that says why there is none), its number, opening and
length, a continue drawn as an arrow from the panel before, then its prompt, its cast (or,
until it has one, its references) and its notes. Long text is cut at a whole word with "…".

Drawn with fpdf2 on A4 landscape, dark on white for printing. DejaVu (Debian's
fonts-dejavu-core) writes Latin, Greek and Cyrillic, and a CJK font where one is installed
fills in Chinese, Japanese and Korean; a character no font has is printed as "□". Without
DejaVu, the PDF core font writes Latin-1 and prints "?" for the rest.

Plain functions over a neutral description (Board, Panel), with no Django in sight.
"""

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from .cut import OPENINGS, for_people
from .errors import InterchangeError
from .output import deliver

if TYPE_CHECKING:
    from fpdf import FPDF

log = logging.getLogger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
}
# CJK fonts Debian packages install, tried in order; the first found fills in what DejaVu
# lacks (fonts-noto-cjk, fonts-wqy-zenhei, fonts-droid-fallback). (path, index in a .ttc)
CJK_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
MISSING = "□"  # printed for a character no font has (DejaVu has this one)
# What the core font prints for the marks Latin-1 lacks.
PLAIN = str.maketrans({"—": "-", "–": "-", "“": '"', "”": '"', "‘": "'", "’": "'", "…": "..."})

# Print colours (RGB).
INK = (28, 30, 36)
MUTED = (105, 110, 122)
LINE = (196, 200, 208)
ACCENT = (222, 88, 36)  # the app's orange, darkened to print on white
PLACEHOLDER = (238, 239, 243)
HATCH = (224, 226, 232)

# A4 landscape, in millimetres.
PAGE = (297.0, 210.0)
MARGIN = 12.0
HEADER = 20.0  # title, facts and the rule under them
FOOTER = 10.0  # page numbers
GAP_X = 10.0  # between panels in a row: room for a continue's arrow
GAP_Y = 7.0
META = 6.5  # a panel's line of number, opening and length
LINE_HEIGHT = 3.6  # of its prompt, cast and notes (8 pt)
MIN_TEXT_LINES = 6  # a panel keeps room for this many lines under its picture
INSET = 1.5  # between a panel's edge and its picture
PICTURE_PIXELS = 900  # the longest side a picture is embedded at (~250 dpi on the page)


@dataclass(frozen=True)
class Panel:
    """One shot as the storyboard shows it."""

    number: int  # the shot's number in the project, 1-based
    prompt: str
    opening: Literal["cut", "continue"]
    seconds: float  # how long it plays
    picture: str | None = None  # path of an image: a poster, a first frame, a reference
    picture_label: str = ""  # what the picture is: "take 2", "first frame", "reference"
    cast: Sequence[str] = ()  # names of the cast in the shot
    references: str = ""  # "2 images, 1 audio": what it is guided by, shown when no cast
    notes: str = ""  # dialogue and notes
    transition: str = ""  # how a cut enters: "crossfade" or "dip"

    def __post_init__(self):
        object.__setattr__(self, "prompt", for_people(self.prompt))
        object.__setattr__(self, "cast", tuple(self.cast))


@dataclass(frozen=True)
class Board:
    """A project's shots in order, as panels, with what the header says."""

    title: str
    team: str
    date: str  # as printed: "3 December 2026"
    panels: Sequence[Panel]
    ratio: tuple[int, int] = (16, 9)  # of the shots' pictures, width to height
    kind: str = ""  # which takes the pictures are: "drafts" or "finals"

    def __post_init__(self):
        object.__setattr__(self, "panels", tuple(self.panels))
        if not self.panels:
            raise InterchangeError("The storyboard has no shots.")
        for panel in self.panels:
            if panel.opening not in OPENINGS:
                raise InterchangeError(
                    f"Shot {panel.number} opens with '{panel.opening}', not cut or continue."
                )

    @property
    def seconds(self) -> float:
        return sum(panel.seconds for panel in self.panels)


@dataclass(frozen=True)
class Layout:
    columns: int
    rows: int
    panel: tuple[float, float]  # width, height of each panel, mm
    picture: tuple[float, float]  # width, height of each picture's frame, mm

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def pages(self, count: int) -> int:
        return math.ceil(count / self.per_page)

    def origin(self, index: int) -> tuple[float, float]:
        """The top left corner of the panel at `index` on its page."""
        row, column = divmod(index % self.per_page, self.columns)
        return (
            MARGIN + column * (self.panel[0] + GAP_X),
            MARGIN + HEADER + row * (self.panel[1] + GAP_Y),
        )


def layout(ratio: tuple[int, int]) -> Layout:
    """The grid for pictures of `ratio`: 3 x 2 panels a page for wide and square shots,
    4 in a row for tall ones, each picture as large as its panel allows with room for text.
    """
    width, height = ratio
    aspect = width / height
    columns, rows = (3, 2) if aspect >= 0.9 else (4, 1)
    room_x = PAGE[0] - 2 * MARGIN
    room_y = PAGE[1] - 2 * MARGIN - HEADER - FOOTER
    panel = ((room_x - (columns - 1) * GAP_X) / columns, (room_y - (rows - 1) * GAP_Y) / rows)
    most = panel[1] - INSET - META - MIN_TEXT_LINES * LINE_HEIGHT
    picture = (panel[0] - 2 * INSET, (panel[0] - 2 * INSET) / aspect)
    if picture[1] > most:
        picture = (most * aspect, most)
    return Layout(columns, rows, panel, picture)


def write_board(board: Board, out, progress=lambda fraction: None) -> None:
    """Write the storyboard `board` as a PDF to `out` (a path or a binary file); `progress`
    hears after each panel."""
    grid = layout(board.ratio)
    pdf = _document_class()(board, grid)
    for index, panel in enumerate(board.panels):
        progress(index / len(board.panels))
        if index % grid.per_page == 0:
            pdf.add_page()
        before = board.panels[index - 1] if index else None
        pdf.panel(panel, grid.origin(index), before, first_in_row=index % grid.columns == 0)
    deliver(bytes(pdf.output()), out)


@cache
def _document_class():
    """The PDF document, fpdf2's FPDF made ours, on the first storyboard printed: importing
    fpdf2 takes most of a second, which every process of the app (the web server, each
    worker, each command) paid as it started, printing or not."""
    from fpdf import FPDF

    class _Document(FPDF):
        def __init__(self, board: Board, grid: Layout):
            super().__init__(orientation="L", unit="mm", format="A4")
            self.board, self.grid = board, grid
            self.set_margins(MARGIN, MARGIN, MARGIN)
            self.set_auto_page_break(False)
            self.set_title(f"{board.title}: storyboard")
            self.set_creator("Storyboard")
            self.family, self.covered, self.styles = _fonts(self)

        # Text ---------------------------------------------------------------------------

        def printable(self, text: str) -> str:
            """`text` with what no font can draw replaced, so that nothing is lost silently."""
            if self.covered is None:  # the core font: Latin-1, typographic marks made plain
                text = text.translate(PLAIN)
                return text.encode("latin-1", "replace").decode("latin-1")
            return "".join(c if ord(c) in self.covered or c in "\n\t" else MISSING for c in text)

        def use(self, style="", size=8.0, color=INK):
            if self.covered is not None and style not in self.styles:
                style = ""  # DejaVu without that style installed: the regular one
            self.set_font(self.family, style, size)
            self.set_text_color(*color)

        def lines(self, text: str, width: float, most: int) -> list[str]:
            """`text` wrapped to `width` in the current font, at most `most` lines; the last
            ends in "…" when some was left out."""
            if most < 1 or not text.strip():
                return []
            wrapped = self.multi_cell(
                width, LINE_HEIGHT, self.printable(text), dry_run=True, output="LINES"
            )
            wrapped = [line.rstrip() for line in wrapped]
            while wrapped and not wrapped[-1]:
                wrapped.pop()
            if len(wrapped) <= most:
                return wrapped
            kept = wrapped[:most]
            kept[-1] = self.fit(kept[-1], width, more=True)
            return kept

        def fit(self, text: str, width: float, more: bool = False) -> str:
            """`text` on one line of `width`, shortened at a word if it can be, with "…"."""
            text = self.printable(" ".join(text.split()))
            if not more and self.get_string_width(text) <= width:
                return text
            ellipsis = "…" if self.covered is not None and ord("…") in self.covered else "..."
            while text and self.get_string_width(text + ellipsis) > width:
                shorter = text.rsplit(" ", 1)[0] if " " in text else text[:-1]
                text = shorter if self.get_string_width(shorter) > width / 2 else text[:-1]
            return text.rstrip(" ,;:.-") + ellipsis

        # Page furniture ------------------------------------------------------------------

        def header(self):
            board = self.board
            right = f"{board.team}  ·  {board.date}"
            room = PAGE[0] - 2 * MARGIN - self._width(right, "", 9) - 8
            self.use("B", 15)
            self.set_xy(MARGIN, MARGIN)
            self.cell(room, 7, self.fit(board.title, room))
            self.use("", 9, MUTED)
            self.set_xy(MARGIN, MARGIN)
            self.cell(PAGE[0] - 2 * MARGIN, 7, self.printable(right), align="R")
            count = len(board.panels)
            seconds = round(board.seconds)
            facts = [
                f"Storyboard  ·  {count} shot{'' if count == 1 else 's'}",
                f"{seconds // 60}:{seconds % 60:02d}",
                f"{board.ratio[0]}:{board.ratio[1]}",
            ]
            if board.kind:
                facts.append(f"pictures from the {board.kind}")
            self.set_xy(MARGIN, MARGIN + 7.5)
            self.cell(PAGE[0] - 2 * MARGIN, 5, self.printable("  ·  ".join(facts)))
            self.set_draw_color(*LINE)
            self.set_line_width(0.3)
            rule = MARGIN + HEADER - 5
            self.line(MARGIN, rule, PAGE[0] - MARGIN, rule)

        def footer(self):
            self.use("", 8, MUTED)
            self.set_xy(MARGIN, PAGE[1] - MARGIN - 3)
            room = PAGE[0] - 2 * MARGIN
            self.cell(room / 2, 5, self.fit(self.board.title, room / 2 - 5))
            self.set_xy(MARGIN + room / 2, PAGE[1] - MARGIN - 3)
            # Counted here rather than with fpdf2's {nb} alias, whose width throws off "R".
            pages = self.grid.pages(len(self.board.panels))
            self.cell(room / 2, 5, f"Page {self.page_no()} of {pages}", align="R")

        # A panel --------------------------------------------------------------------------

        def panel(self, panel: Panel, origin, before: Panel | None, first_in_row: bool):
            x, y = origin
            width, height = self.grid.panel
            frame_w, frame_h = self.grid.picture
            frame_x, frame_y = x + (width - frame_w) / 2, y + INSET
            self.set_draw_color(*LINE)
            self.set_line_width(0.25)
            self.rect(x, y, width, height, round_corners=True, corner_radius=1.5)

            picture = _picture(panel.picture)
            if picture is None:
                self._placeholder(frame_x, frame_y, frame_w, frame_h, panel, before)
            else:
                self._picture(picture, frame_x, frame_y, frame_w, frame_h, panel.picture_label)
            if panel.opening == "continue" and before is not None:
                self._arrow(x, frame_y + frame_h / 2, first_in_row)

            top = frame_y + frame_h + 1
            self._meta(panel, x + 2.5, top, width - 5, before if first_in_row else None)
            self._text(panel, x + 2.5, top + META, width - 5, y + height - 1.5)

        def _meta(self, panel: Panel, x, y, width, came_from: Panel | None):
            self.use("B", 12, ACCENT)
            self.set_xy(x, y)
            number = f"{panel.number:02d}"
            self.cell(self.get_string_width(number) + 2, 6, number)
            opening = panel.opening.upper()
            if panel.opening == "cut" and panel.transition:
                opening += f" · {panel.transition.upper()}"
            if came_from is not None and panel.opening == "continue":
                opening += f" FROM {came_from.number:02d}"
            self.use("B", 7, MUTED)
            chip = self.get_string_width(opening) + 4
            self.set_fill_color(*PLACEHOLDER)
            self.set_xy(self.get_x() + 1, y + 1.2)
            self.cell(chip, 3.8, opening, align="C", fill=True)
            self.use("", 9, INK)
            self.set_xy(x, y)
            self.cell(width, 6, f"{panel.seconds:.1f} s", align="R")

        def _text(self, panel: Panel, x, y, width, bottom):
            room = int((bottom - y) // LINE_HEIGHT)
            who = ""
            if panel.cast:
                who = "Cast: " + ", ".join(panel.cast)
            elif panel.references:
                who = "References: " + panel.references
            rest = room - (1 if who else 0)
            # The prompt first; the notes keep two lines (or one if that is all they need).
            self.use("I", 8)
            kept_for_notes = min(len(self.lines(panel.notes, width, 2)), 2)
            self.use("", 8)
            prompt = self.lines(panel.prompt, width, rest - kept_for_notes)
            self.use("I", 8)
            notes = self.lines(panel.notes, width, rest - len(prompt))
            self.use("", 8)
            for line in prompt:
                self.set_xy(x, y)
                self.cell(width, LINE_HEIGHT, line)
                y += LINE_HEIGHT
            if who:
                self.use("B", 7.5, MUTED)
                self.set_xy(x, y)
                self.cell(width, LINE_HEIGHT, self.fit(who, width))
                y += LINE_HEIGHT
            if notes:
                self.use("I", 8, INK)
                self.set_draw_color(*ACCENT)
                self.set_line_width(0.5)
                self.line(x, y + 0.5, x, y + len(notes) * LINE_HEIGHT - 0.5)
                for line in notes:
                    self.set_xy(x + 1.5, y)
                    self.cell(width - 1.5, LINE_HEIGHT, line)
                    y += LINE_HEIGHT

        def _picture(self, picture: io.BytesIO, x, y, width, height, label):
            self.set_fill_color(0, 0, 0)
            self.rect(x, y, width, height, style="F")
            self.image(picture, x, y, width, height, keep_aspect_ratio=True)
            if label:
                self.use("B", 6.5, (255, 255, 255))
                tag = self.get_string_width(label) + 3
                with self.local_context(fill_opacity=0.6):
                    self.set_fill_color(0, 0, 0)
                    self.rect(x + 1.5, y + height - 5, tag, 3.6, style="F")
                self.set_xy(x + 1.5, y + height - 5)
                self.cell(tag, 3.6, self.printable(label), align="C")

        def _placeholder(self, x, y, width, height, panel: Panel, before: Panel | None):
            self.set_fill_color(*PLACEHOLDER)
            self.rect(x, y, width, height, style="F")
            self.set_draw_color(*HATCH)
            self.set_line_width(0.8)
            with self.rect_clip(x, y, width, height):
                step = 4.0
                offset = 0.0
                while offset < width + height:
                    self.line(x + offset, y, x + offset - height, y + height)
                    offset += step
            if panel.opening == "continue" and before is not None:
                why = f"Starts on the last frame of shot {before.number}"
            else:
                why = "Not generated yet"
            self.use("B", 8, MUTED)
            lines = self.lines(why, width - 6, 3)
            top = y + (height - len(lines) * LINE_HEIGHT) / 2
            for line in lines:
                self.set_xy(x, top)
                self.cell(width, LINE_HEIGHT, line, align="C")
                top += LINE_HEIGHT

        def _arrow(self, x, y, first_in_row: bool):
            """An arrow into the panel at (x, y) from the panel before: across the gap, or in
            from the margin when the panel before ends the row above."""
            start = x - (MARGIN - 3 if first_in_row else GAP_X) + 1
            end = x - 0.6
            self.set_draw_color(*ACCENT)
            self.set_fill_color(*ACCENT)
            self.set_line_width(0.9)
            self.line(start, y, end - 2.2, y)
            self.polygon([(end - 2.6, y - 1.8), (end, y), (end - 2.6, y + 1.8)], style="F")

        def _width(self, text, style, size):
            self.use(style, size)
            return self.get_string_width(self.printable(text))

    return _Document


def _fonts(pdf: "FPDF"):
    """Register the fonts: DejaVu and a CJK fallback when there are, else the core font.
    (family, the code points they cover or None for the core font, the styles it has)."""
    if not (FONT_DIR / FONT_FILES[""]).is_file():
        log.warning("No DejaVu font in %s: the storyboard is printed in Latin-1 only", FONT_DIR)
        return "helvetica", None, {"", "B", "I"}
    covered = set(_cmap(str(FONT_DIR / FONT_FILES[""])))
    for style, name in FONT_FILES.items():
        path = FONT_DIR / name
        if path.is_file():
            pdf.add_font("dejavu", style, path)
    for path, index in CJK_FONTS:
        if Path(path).is_file():
            try:
                pdf.add_font("cjk", "", path, collection_font_number=index)
            except Exception as error:  # an unreadable font: print without it
                log.warning("Could not use the CJK font %s: %s", path, error)
                continue
            pdf.set_fallback_fonts(["cjk"], exact_match=False)
            covered |= set(_cmap(path, index))
            break
    styles = {style for style, name in FONT_FILES.items() if (FONT_DIR / name).is_file()}
    return "dejavu", frozenset(covered), styles


@cache
def _cmap(path: str, index: int = 0) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _picture(path: str | None) -> io.BytesIO | None:
    """The image at `path` as a JPEG small enough to print sharp; None when it cannot be
    read (missing, broken, not an image)."""
    if not path:
        return None
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((PICTURE_PIXELS, PICTURE_PIXELS), Image.LANCZOS)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    out.seek(0)
    return out
