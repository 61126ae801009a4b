"""The printed storyboard: a PDF of panels in a grid, read back with pypdf (its text and
pictures) and rendered to pixels with pdfium, made alone, from the page, from the command
line and in the editor's bundle."""

import io
import re
import subprocess
import zipfile

import pypdf
import pypdfium2
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import dateformat, timezone
from PIL import Image

from projects import boards, pipeline
from projects.interchange import Board, InterchangeError, Panel, board_layout, write_board
from projects.models import Export, Opening, Reference
from tests.factories import make_project, make_take
from tests.test_storage import no_path_storage  # noqa: F401  (a fixture)

RED = (200, 30, 30)
GREEN = (30, 160, 60)
WIDE = (16, 9)
TALL = (9, 16)


def still(path, color=RED, size=(864, 496)) -> str:
    Image.new("RGB", size, color).save(path)
    return str(path)


def panels(count, picture=None, **fields):
    return [
        Panel(
            number,
            f"Prompt of shot {number}",
            "cut" if number % 3 == 1 else "continue",
            4.0 + number % 3,
            picture,
            **fields,
        )
        for number in range(1, count + 1)
    ]


def make_board(items, ratio=WIDE, title="Autumn valley") -> Board:
    return Board(title, "Ada's team", "3 December 2026", items, ratio, "drafts")


def pdf_of(value: Board) -> pypdf.PdfReader:
    buffer = io.BytesIO()
    write_board(value, buffer)
    assert buffer.getvalue().startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(buffer.getvalue()))


def texts(reader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def placed(page) -> int:
    """How many pictures are drawn on `page` (one stored picture may be drawn twice)."""
    return len(re.findall(rb"/I\d+ Do", page.get_contents().get_data()))


def rendered(data: bytes, page=0, scale=2.0) -> Image.Image:
    """A page of the PDF as pixels, as a printer would have it (pdfium)."""
    document = pypdfium2.PdfDocument(data)
    try:
        return document[page].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def at(image, point_mm, scale=2.0):
    """The pixel at a point given in millimetres from the page's top left."""
    x, y = point_mm
    return image.getpixel((round(x / 25.4 * 72 * scale), round(y / 25.4 * 72 * scale)))


# The writer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "ratio", "pages"),
    [(1, WIDE, 1), (6, WIDE, 1), (7, WIDE, 2), (13, WIDE, 3), (4, TALL, 1), (9, TALL, 3)],
)
def test_the_page_count_follows_the_shots(count, ratio, pages):
    reader = pdf_of(make_board(panels(count), ratio))
    assert len(reader.pages) == pages == board_layout(ratio).pages(count)
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (842, 595)


def test_each_shot_has_a_panel_with_its_number_prompt_opening_and_length():
    reader = pdf_of(make_board(panels(8)))
    text = "\n".join(texts(reader))
    for number in range(1, 9):
        assert re.search(rf"\b{number:02d}\b", text), number
        assert f"Prompt of shot {number}" in text
    assert text.count("Prompt of shot") == 8
    assert "CUT" in text and "CONTINUE" in text
    assert "5.0 s" in text and "6.0 s" in text
    # The panels of the second page are the seventh and eighth.
    assert "Prompt of shot 7" in texts(reader)[1] and "Prompt of shot 6" not in texts(reader)[1]


def test_the_writer_says_how_far_it_is_after_each_panel():
    """A worker's export beats its lease on each: hundreds of panels take a while."""
    heard = []
    write_board(make_board(panels(7)), io.BytesIO(), heard.append)
    assert len(heard) == 7 and heard == sorted(heard) and heard[-1] < 1


def test_every_page_has_the_header_and_its_number():
    pages = texts(pdf_of(make_board(panels(13), title="Harbour at night")))
    for number, text in enumerate(pages, start=1):
        assert "Harbour at night" in text
        assert "Ada's team" in text and "3 December 2026" in text
        assert "13 shots" in text
        assert f"Page {number} of 3" in text


def test_a_panel_shows_its_picture_and_one_without_shows_why(tmp_path):
    red = still(tmp_path / "red.png")
    items = [
        Panel(1, "With a poster", "cut", 4, red, "take 2"),
        Panel(2, "Not made yet", "continue", 4),
        Panel(3, "Missing file", "cut", 4, str(tmp_path / "gone.png")),
        Panel(4, "Broken file", "cut", 4, str(tmp_path / "broken.png")),
    ]
    (tmp_path / "broken.png").write_bytes(b"not a png")
    buffer = io.BytesIO()
    write_board(make_board(items), buffer)
    reader = pypdf.PdfReader(io.BytesIO(buffer.getvalue()))
    assert placed(reader.pages[0]) == 1
    text = reader.pages[0].extract_text()
    assert "take 2" in text
    assert "Starts on the last frame of shot 1" in text
    assert text.count("Not generated yet") == 2

    grid = board_layout(WIDE)
    page = rendered(buffer.getvalue())

    def middle(index):
        x, y = grid.origin(index)
        return (x + grid.panel[0] / 2, y + 1.5 + grid.picture[1] / 3)

    red_, green, blue = at(page, middle(0))
    assert red_ > 150 and green < 80 and blue < 80  # the poster
    for index in (1, 2, 3):
        shade = at(page, middle(index))
        assert min(shade) > 200 and max(shade) - min(shade) < 20  # the light grey hatching


def test_poppler_prints_the_page_as_pdfium_does(tmp_path):
    """The page as poppler (pdftoppm, what most Linux viewers and printers use) renders
    it: the poster where pdfium puts it, the placeholder beside it."""
    items = [Panel(1, "With a poster", "cut", 4, still(tmp_path / "red.png"), "take 1")]
    items.append(Panel(2, "Not made yet", "continue", 4))
    pdf = tmp_path / "board.pdf"
    write_board(make_board(items), pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "144", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    printed = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    grid = board_layout(WIDE)

    def middle(index):
        x, y = grid.origin(index)
        return (x + grid.panel[0] / 2, y + 1.5 + grid.picture[1] / 3)

    red_, green, blue = at(printed, middle(0))
    assert red_ > 150 and green < 80 and blue < 80
    assert min(at(printed, middle(1))) > 200
    assert at(printed, middle(0)) == pytest.approx(
        at(rendered(pdf.read_bytes()), middle(0)), abs=12
    )


def test_a_continue_is_an_arrow_from_the_panel_before_and_a_cut_is_not():
    items = [
        Panel(1, "A", "cut", 4),
        Panel(2, "B", "continue", 4),
        Panel(3, "C", "cut", 4),
        Panel(4, "D", "continue", 4),  # first of the second row: the arrow enters from the margin
        Panel(5, "E", "cut", 4),
    ]
    buffer = io.BytesIO()
    write_board(make_board(items), buffer)
    page = rendered(buffer.getvalue())
    grid = board_layout(WIDE)

    def gap_before(index):
        """The middle of the gap left of the panel at `index`, level with its picture."""
        x, y = grid.origin(index)
        gap = 12.0 - 3 if index % grid.columns == 0 else 10.0
        return (x - gap / 2, y + 1.5 + grid.picture[1] / 2)

    def orange(pixel):
        red, green, blue = pixel
        return red > 180 and 60 < green < 130 and blue < 80

    assert orange(at(page, gap_before(1)))
    assert orange(at(page, gap_before(3)))
    assert not orange(at(page, gap_before(2)))
    assert not orange(at(page, gap_before(4)))
    text = texts(pypdf.PdfReader(io.BytesIO(buffer.getvalue())))[0]
    assert "CONTINUE FROM 03" in text  # said too when the arrow comes from the row above


def test_a_long_prompt_is_cut_at_a_word_with_an_ellipsis():
    sentence = "The camera glides along the harbour wall as lanterns sway in the wind. "
    long = Panel(1, sentence * 20, "cut", 4, notes="MARA: We should never have come back. " * 9)
    unbroken = Panel(2, "x" * 900, "cut", 4)
    text = texts(pdf_of(make_board([long, unbroken])))[0]
    assert "The camera glides along the harbour wall" in text
    assert text.count("harbour wall") < 20
    assert text.count("…") >= 3  # the prompt, the notes and the unbroken line end in one
    assert "MARA: We should never have come back." in text
    assert text.count("x") < 900


def test_unicode_prompts_print(tmp_path, caplog):
    items = [
        Panel(1, "Café au lait, déjà vu — Ærøskøbing, Ελλάδα, Москва", "cut", 4),
        Panel(2, "東京の夜景、雨の中を歩く女性 and then English", "continue", 4),
        Panel(3, "Emoji 🎬 and a zero-width\u200bjoiner", "cut", 4, cast=["Zoë", "Łukasz"]),
    ]
    text = texts(pdf_of(make_board(items, title="Ærø — nuit d'été")))[0]
    assert "Café au lait, déjà vu — Ærøskøbing, Ελλάδα, Москва" in text
    assert "Ærø — nuit d'été" in text
    assert "and then English" in text
    assert "Cast: Zoë, Łukasz" in text


def test_without_dejavu_the_core_font_prints_latin_1(monkeypatch, tmp_path):
    from projects.interchange import board as module

    monkeypatch.setattr(module, "FONT_DIR", tmp_path / "no-fonts")
    items = [Panel(1, "Café déjà vu — 東京 " + "word " * 200, "cut", 4, notes="Ça va?")]
    text = texts(pdf_of(make_board(items, title="Ærø")))[0]
    assert "Café déjà vu - ??" in text  # the dash made plain; the CJK is not Latin-1
    assert "Ærø" in text and "Page 1 of 1" in text
    assert "..." in text


def test_the_cast_the_references_and_the_notes_go_under_the_prompt():
    items = [
        Panel(1, "Mara on the pier", "cut", 4, cast=["Mara", "Joe"], references="1 image"),
        Panel(2, "The boat", "continue", 4, references="2 images, 1 audio"),
        Panel(3, "Inside", "cut", 4, notes="JOE: Not now.", transition="crossfade"),
    ]
    text = texts(pdf_of(make_board(items)))[0]
    assert "Cast: Mara, Joe" in text and "References: 1 image" not in text
    assert "References: 2 images, 1 audio" in text
    assert "JOE: Not now." in text
    assert "CUT · CROSSFADE" in text


def test_simulator_directives_are_not_printed():
    text = texts(pdf_of(make_board([Panel(1, "A fox [sim:delay=3] runs", "cut", 4)])))[0]
    assert "A fox runs" in text and "sim:" not in text


def test_a_board_needs_shots_and_known_openings():
    with pytest.raises(InterchangeError, match="no shots"):
        make_board([])
    with pytest.raises(InterchangeError, match="not cut or continue"):
        make_board([Panel(1, "A", "dissolve", 4)])


# The app ------------------------------------------------------------------------------------


@pytest.fixture
def project(user, tmp_path):
    """Four shots: a generated cut and its continue, a cut with a first frame and a
    reference, then a continue not generated yet."""
    project = make_project(
        user,
        title="Harbour at night",
        shots=[
            {"prompt": "Boats rock in the harbour", "opening": Opening.CUT, "duration": 4},
            {"prompt": "The camera rises over the masts", "opening": Opening.CONTINUE},
            {"prompt": "Mara walks along the pier", "opening": Opening.CUT, "duration": 6},
            {"prompt": "She stops at the last lantern", "opening": Opening.CONTINUE},
        ],
    )
    shots = list(project.shots.in_order())
    first = make_take(shots[0])
    make_take(shots[1], upstream=first)
    png = io.BytesIO()
    Image.new("RGB", (864, 496), GREEN).save(png, "PNG")
    shots[2].first_frame.save("green.png", ContentFile(png.getvalue()))
    reference = Reference(shot=shots[3], kind=Reference.Kind.IMAGE)
    reference.file.save("ref.png", ContentFile(png.getvalue()))
    return project


@pytest.mark.django_db
def test_the_plan_pictures_each_shot_with_what_it_has(project):
    planned = boards.plan(project)
    assert [entry["shot"] for entry in planned] == [1, 2, 3, 4]
    assert [entry["take"] is not None for entry in planned] == [True, True, False, False]
    assert [[p["label"] for p in entry["pictures"]] for entry in planned] == [
        ["take 1"],
        ["take 1"],
        ["first frame"],
        ["reference"],
    ]
    assert planned[0]["seconds"] == 4.0  # the take's 96 frames at 24 fps
    assert planned[2]["seconds"] == 6.0  # no take: the shot's duration
    assert planned[3]["references"] == "1 image"
    assert planned[3]["cast"] == [] and planned[3]["notes"] == ""


@pytest.mark.django_db
def test_a_stale_take_says_so_on_its_picture(project):
    shot = project.shots.in_order().first()
    shot.prompt = "Boats rock in a storm"
    shot.save()
    planned = boards.plan(project)
    assert planned[0]["pictures"][0]["label"] == "take 1 · stale"
    assert planned[1]["pictures"][0]["label"] == "take 1 · stale"  # staleness flows down


@pytest.mark.django_db
def test_a_panel_names_its_shots_cast_and_notes(project):
    from projects import cast as casting
    from tests.test_cast import add_member

    add_member(project, "Mara")
    third = project.shots.in_order()[2]
    third.cast.add(project.cast.get())
    first = project.shots.in_order()[0]
    first.notes = "MARA: Where is he?"
    first.save()
    planned = boards.plan(project)
    assert planned[2]["cast"] == ["Mara"] and planned[0]["cast"] == []
    assert planned[0]["notes"] == "MARA: Where is he?" and planned[2]["notes"] == ""
    assert casting.users(project.cast.get()) == [third]


@pytest.mark.django_db
def test_the_page_exports_the_storyboard_before_anything_is_generated(
    client_of, user, worker, django_capture_on_commit_callbacks
):
    project = make_project(
        user, shots=[(f"Shot {n} of the valley", Opening.CONTINUE) for n in range(1, 8)]
    )
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert '<option value="pdf">storyboard (PDF)</option>' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(reverse("export-create", args=[project.pk]), {"format": "pdf"})
    assert response.status_code == 302
    export = project.exports.get()
    assert export.format == Export.Format.PDF and export.takes == [] and len(export.plan) == 7
    worker.drain()
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    assert export.filename().endswith(".pdf")
    assert export.duration == pytest.approx(7 * 4)

    download = client_of.get(reverse("export-download", args=[project.pk, export.pk]))
    data = b"".join(download.streaming_content)
    assert download["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2
    text = "\n".join(texts(reader))
    assert "Autumn valley" in text and user.teams.get().name in text
    assert dateformat.format(timezone.localdate(), "j F Y") in text
    assert all(f"Shot {n} of the valley" in text for n in range(1, 8))
    assert text.count("Not generated yet") == 1 and text.count("Starts on the last frame") == 6
    assert "Page 2 of 2" in text

    listed = client_of.get(project.get_absolute_url()).content.decode()
    assert "Printed storyboards" in listed and "Download PDF (7 shots, 28.0 s)" in listed


@pytest.mark.django_db
def test_the_command_line_prints_the_storyboard(project, tmp_path, capsys):
    output = tmp_path / "board.pdf"
    call_command("storyboard", "export", str(project.pk), "--output", str(output))
    said = capsys.readouterr().out
    assert "(storyboard (PDF)): 4 shots on 1 page, 2 with a take's poster." in said
    reader = pypdf.PdfReader(output)
    assert len(reader.pages) == 1
    assert placed(reader.pages[0]) == 4  # two posters, a first frame, a reference
    text = reader.pages[0].extract_text()
    for label in ("take 1", "first frame", "reference", "References: 1 image"):
        assert label in text
    assert "Harbour at night" in text and "Page 1 of 1" in text

    page = rendered(output.read_bytes())
    grid = board_layout(WIDE)
    x, y = grid.origin(2)  # the third shot: its first frame, green
    red, green, blue = at(page, (x + grid.panel[0] / 2, y + 1.5 + grid.picture[1] / 3))
    assert green > 120 and red < 80 and blue < 100


@pytest.mark.django_db
def test_the_command_line_refuses_a_project_without_shots(user, tmp_path):
    project = make_project(user)
    with pytest.raises(CommandError, match="none to print"):
        call_command("storyboard", "export", str(project.pk), "--output", str(tmp_path / "b.pdf"))


@pytest.mark.django_db
def test_a_picture_deleted_since_the_plan_leaves_the_next_one_or_a_placeholder(project):
    export = Export.objects.create(
        project=project, format=Export.Format.PDF, plan=boards.plan(project)
    )
    shots = list(project.shots.in_order())
    shots[2].first_frame.delete()
    pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    with export.file.open("rb") as f:
        reader = pypdf.PdfReader(io.BytesIO(f.read()))
    assert placed(reader.pages[0]) == 3
    assert "Not generated yet" in reader.pages[0].extract_text()


@pytest.mark.django_db
def test_pictures_are_read_from_storage_that_has_no_local_paths(
    no_path_storage,  # noqa: F811  (before `project`: its files go there)
    project,
):
    export = Export.objects.create(
        project=project, format=Export.Format.PDF, plan=boards.plan(project)
    )
    pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    with export.file.open("rb") as f:
        reader = pypdf.PdfReader(io.BytesIO(f.read()))
    assert placed(reader.pages[0]) == 4


@pytest.mark.django_db
def test_the_bundle_holds_the_printed_storyboard(project, tmp_path):
    third, fourth = project.shots.in_order()[2:]
    make_take(fourth, upstream=make_take(third))
    output = tmp_path / "bundle.zip"
    call_command("storyboard", "export", str(project.pk), "--output", str(output))
    with zipfile.ZipFile(output) as bundle:
        assert "storyboard.pdf" in bundle.namelist()
        reader = pypdf.PdfReader(io.BytesIO(bundle.read("storyboard.pdf")))
    text = reader.pages[0].extract_text()
    assert placed(reader.pages[0]) == 4
    assert text.count("take 1") == 4 and "first frame" not in text
    assert "She stops at the last lantern" in text
