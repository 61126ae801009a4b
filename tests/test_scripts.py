"""Script to shots (issue 20 §2): a Fountain screenplay, an outline and a CSV shot list,
from the sample files in tests/data/, read into shots and a cast; the CSV round trip; bad
input creating nothing; the command line."""

import csv
import io
import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from projects import boards, scripts, storyboard_file, tasks
from projects.interchange import captions
from projects.models import CastMember, Opening, Project, Shot
from tests.factories import make_project

DATA = Path(__file__).parent / "data"


def read(name, project=None, **options):
    path = DATA / name
    return scripts.read(path.read_text(), scripts.kind_of(path.name), project, **options)


def openings(project):
    return [shot.opening_now for shot in project.shots.in_order()]


@pytest.mark.django_db
def test_a_fountain_screenplay_becomes_shots_and_a_cast(user):
    plan = read("harbour.fountain")
    assert plan.title == "The Harbour"
    assert (len(plan.shots), plan.cuts, plan.continues) == (4, 2, 2)
    project = scripts.new_project(plan, user.teams.get(), user)

    shots = list(project.shots.in_order().prefetch_related("cast"))
    assert [shot.prompt for shot in shots] == [
        "Rain drums on the tin roofs. @Mara walks along the wet quay, a lantern in her hand.",
        "She stops at the edge and looks down into the black water.",
        "@Tom steps out of the shadows, soaked to the skin.",
        "The first light over the sea. @Mara and @Tom climb the last of the path together.",
    ]
    # A scene heading starts a cut; later paragraphs of the scene continue.
    assert openings(project) == ["cut", "continue", "continue", "cut"]
    cast = {m.name: m.kind for m in project.cast.all()}
    assert cast == {
        "Mara": "character",
        "Tom": "character",
        "Old-Man": "character",
        "Harbour": "location",
        "Cliff-Top": "location",
    }
    assert project.cast.get(name="Harbour").description == "INT. HARBOUR - NIGHT"
    # Each shot names its place and those present: named in the action, or speaking.
    assert [sorted(m.name for m in shot.cast.all()) for shot in shots] == [
        ["Harbour", "Mara"],
        ["Harbour", "Mara", "Tom"],
        ["Harbour", "Tom"],
        ["Cliff-Top", "Mara", "Old-Man", "Tom"],
    ]
    # The dialogue goes into the notes of the shot whose action it follows.
    assert shots[1].notes == (
        "MARA: Where is he?\nTOM (O.S.): (from the dark) Here. Behind the nets."
    )
    assert shots[3].notes == "OLD MAN: You came back.\nMARA: We always do."
    assert shots[0].notes == ""
    # The printed storyboard and the storyboard file carry them.
    assert boards.notes_of(shots[3]) == shots[3].notes
    assert storyboard_file.dump(project)["shots"][1]["notes"] == shots[1].notes


@pytest.mark.django_db
def test_an_outline_is_a_shot_a_line_and_a_scene_a_paragraph(user):
    plan = read("outline.txt")
    project = scripts.new_project(plan, user.teams.get(), user, title="Valley")
    assert project.title == "Valley"
    assert [s.prompt for s in project.shots.in_order()] == [
        "Drone shot over an autumn valley at sunrise",
        "The drone dives toward the river, mist rising",
        "@Fox watches from the ridge",
        "A small cabin by the lake, smoke from the chimney",
        "@Fox trots past the cabin door",
    ]
    assert openings(project) == ["cut", "continue", "continue", "cut", "continue"]
    assert list(project.cast.values_list("name", "kind")) == [("Fox", "character")]
    assert project.cast.get().shots.count() == 2


@pytest.mark.django_db
def test_a_csv_shot_list_and_its_round_trip(user):
    plan = read("shots.csv")
    project = scripts.new_project(plan, user.teams.get(), user)
    shots = list(project.shots.in_order())
    assert [(s.prompt, s.duration, s.opening_now, s.notes) for s in shots] == [
        ("Wide shot of a lighthouse in a storm, waves breaking", 6, "cut", ""),
        (
            "The keeper climbs the spiral stairs, lamp in hand",
            5,
            "continue",
            "KEEPER: Not tonight, not again.",
        ),
        ("A ship's lights far out, flickering", 4, "cut", "Sound of the horn"),
    ]
    assert [[m.name for m in s.cast.all()] for s in shots] == [["Keeper"], ["Keeper"], []]

    exported = scripts.shot_list(project)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert list(rows[0]) == list(scripts.COLUMNS)
    # What the project exports reads back as the same shots, into another project.
    again = scripts.new_project(scripts.read(exported, scripts.CSV), user.teams.get(), user)
    assert [
        (s.prompt, s.duration, s.opening_now, s.notes, [m.name for m in s.cast.all()])
        for s in again.shots.in_order()
    ] == [
        (s.prompt, s.duration, s.opening_now, s.notes, [m.name for m in s.cast.all()])
        for s in project.shots.in_order()
    ]
    assert scripts.shot_list(again) == exported


@pytest.mark.django_db
def test_the_shot_list_keeps_a_spreadsheet_from_taking_cells_for_formulas(user):
    prompts = ["@Fox runs", '=HYPERLINK("http://x")', "-1 stop under", "A plain one"]
    project = make_project(user, shots=[(p, "cut") for p in prompts])
    exported = scripts.shot_list(project)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["prompt"] for row in rows] == [
        "'@Fox runs",
        '\'=HYPERLINK("http://x")',
        "'-1 stop under",
        "A plain one",
    ]
    assert [s.prompt for s in scripts.read(exported, scripts.CSV).shots] == prompts


@pytest.mark.django_db
def test_importing_into_a_project_with_shots_appends_and_reuses_its_cast(user):
    project = make_project(user, shots=[("An empty quay", "cut")])
    CastMember.objects.create(project=project, name="mara", kind="character")
    plan = read("harbour.fountain", project)
    assert [m.name for m in plan.cast if not m.new] == ["mara"]
    scripts.create(plan, project, by=user)
    shots = list(project.shots.in_order())
    assert len(shots) == 5
    assert shots[0].prompt == "An empty quay"
    assert [s.position for s in shots] == [0, 1, 2, 3, 4]
    assert shots[1].opening_now == Opening.CUT
    assert project.cast.filter(name__iexact="mara").count() == 1
    assert project.cast.get(name="mara").shots.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, text, message",
    [
        ("none.fountain", "Rain on the roof.\n\nMARA\nHello?\n", "has no scenes"),
        ("bad.csv", "prompt,length\nA kite,5\n", "unknown column “length”"),
        ("bad.csv", "prompt,duration\nA kite,5\nA bird,twenty\n", "Row 3: the duration “twenty”"),
        ("bad.csv", "prompt,duration\nA kite,30\n", "Row 2: the duration “30”"),
        ("bad.csv", "prompt,opening\nA kite,dissolve\n", "opening must be cut or continue"),
        ("bad.csv", "duration\n5\n", "no “prompt” column"),
        ("empty.txt", "\n\n", "has no shots"),
    ],
)
def test_bad_input_says_why_and_creates_nothing(user, tmp_path, name, text, message):
    with pytest.raises(scripts.ScriptError, match=message):
        scripts.read(text, scripts.kind_of(name))
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        call_command("storyboard", "import", str(path), "--owner", "ada")
    assert not Project.objects.exists()
    assert not Shot.objects.exists() and not CastMember.objects.exists()


def test_a_long_action_paragraph_is_flagged_with_a_suggested_split():
    sentence = "The camera drifts past twelve fishing boats moored in the grey morning."
    text = "EXT. PORT - DAY\n\n" + " ".join([sentence] * 10) + "\n"
    plan = scripts.read(text, scripts.FOUNTAIN)
    (shot,) = plan.shots
    assert "120 words is long for one prompt" in shot.warnings[0]
    assert len(shot.split) == 2
    assert all(len(part.split()) <= scripts.LONG_WORDS for part in shot.split)
    assert " ".join(shot.split) == shot.prompt
    # Taking the split: two shots, the first a cut, the other continuing it.
    split = scripts.read(text, scripts.FOUNTAIN, split=True)
    assert [s.opening for s in split.shots] == ["cut", "continue"]
    assert [s.prompt for s in split.shots] == shot.split


@pytest.mark.django_db
def test_a_500_shot_script_previews_responsively(client, user):
    from django.urls import reverse

    project = make_project(user)
    client.force_login(user)
    url = reverse("script-import", args=[project.pk])
    scene = "INT. ROOM {n} - NIGHT\n\nMara opens door {n}.\n\nShe steps through.\n\nMARA\nNo {n}.\n"
    text = "\n".join(scene.format(n=n) for n in range(250))
    client.post(url, {"text": "A kite", "preview": ""})  # warm: templates, the parser
    started = time.perf_counter()
    small = client.post(url, {"text": (DATA / "harbour.fountain").read_text(), "preview": ""})
    anchor = time.perf_counter() - started
    started = time.perf_counter()
    big = client.post(url, {"text": text, "preview": ""})
    took = time.perf_counter() - started
    assert small.status_code == big.status_code == 200
    assert big.content.decode().count("<tr data-opening=") == 500
    print(
        f"500-shot preview: {took:.3f} s, {took / anchor:.1f}x the 4-shot preview ({anchor:.3f} s)"
    )
    assert took < 10  # a generous bound on a shared machine; the figure is the ratio
    assert not project.shots.exists()


@pytest.mark.django_db
def test_a_500_shot_script_reads_quickly_and_imports_in_one_transaction(user):
    scenes = []
    for n in range(250):
        scenes.append(
            f"INT. ROOM {n} - NIGHT\n\nMara opens door {n}.\n\nShe steps through.\n\n"
            f"MARA\nNumber {n}.\n"
        )
    text = "\n".join(scenes)
    anchor = time.perf_counter()
    scripts.read((DATA / "harbour.fountain").read_text(), scripts.FOUNTAIN)
    anchor = time.perf_counter() - anchor
    started = time.perf_counter()
    plan = scripts.read(text, scripts.FOUNTAIN)
    took = time.perf_counter() - started
    assert (len(plan.shots), plan.cuts) == (500, 250)
    print(f"500 shots read in {took:.3f} s, {took / anchor:.0f}x the 4-shot sample")
    assert took < 5
    project = make_project(user)
    scripts.create(plan, project, by=user)
    assert project.shots.count() == 500
    assert project.cast.count() == 251


@pytest.mark.django_db
def test_the_captions_say_the_dialogue(user):
    from projects.interchange import Entry
    from projects.interchange.cut import Cut

    entries = [
        Entry(number=1, prompt="A quay", opening="cut", clip="a.mp4", clip_frames=48,
              source_in=0, frames=48, notes="MARA: Where is he?"),
        Entry(number=2, prompt="The water", opening="continue", clip="b.mp4", clip_frames=48,
              source_in=0, frames=48),
    ]  # fmt: skip
    out = io.BytesIO()
    captions.write_srt(Cut(title="Harbour", entries=entries, width=64, height=36, fps=24), out)
    text = out.getvalue().decode()
    assert "MARA: Where is he?" in text and "A quay" not in text
    assert "The water" in text


@pytest.mark.django_db
def test_the_command_line_imports_a_script_and_exports_the_storyboard(user, tmp_path, capsys):
    call_command("storyboard", "import", str(DATA / "harbour.fountain"), "--team", "ada's team")
    out = capsys.readouterr().out.strip().splitlines()
    project = Project.objects.get(pk=int(out[-1]))
    assert project.title == "The Harbour"
    assert "4 shots (2 cuts, 2 continues), 5 new cast members" in out[-2]
    assert any(line.startswith("shot 2 (continue, 5 s) [Harbour, Mara, Tom]") for line in out)

    output = tmp_path / "out" / "storyboard.json"
    output.parent.mkdir()
    call_command("storyboard", "export", str(project.pk), "--output", str(output))
    board = json.loads(output.read_text())
    assert [m["name"] for m in board["cast"]] == ["Cliff-Top", "Harbour", "Mara", "Old-Man", "Tom"]
    assert board["shots"][1]["cast"] == ["Harbour", "Mara", "Tom"]
    again = storyboard_file.load(output, user)
    assert storyboard_file.dump(again)["shots"] == board["shots"]

    shots_csv = tmp_path / "shots.csv"
    call_command("storyboard", "export", str(project.pk), "--output", str(shots_csv))
    rows = list(csv.DictReader(shots_csv.open()))
    assert len(rows) == 4 and rows[3]["notes"] == "OLD MAN: You came back.\nMARA: We always do."

    call_command(
        "storyboard", "import", str(DATA / "shots.csv"), "--owner", "ada", "--title", "Lighthouse"
    )
    assert Project.objects.get(title="Lighthouse").shots.count() == 3


@pytest.mark.django_db
def test_the_import_page_previews_then_creates_on_confirmation(client, user):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    project = make_project(user, shots=[("An empty quay", "cut")])
    client.force_login(user)
    url = reverse("script-import", args=[project.pk])
    assert client.get(url).status_code == 200

    upload = SimpleUploadedFile("harbour.fountain", (DATA / "harbour.fountain").read_bytes())
    preview = client.post(url, {"file": upload, "preview": ""})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Preview: 4 shots (2 cuts, 2 continues), 5 new cast members" in html
    assert html.count('data-opening="cut"') == 2
    assert "OLD MAN: You came back." in html
    # Nothing is written by the preview.
    assert project.shots.count() == 1 and not project.cast.exists()

    text = (DATA / "harbour.fountain").read_text()
    done = client.post(url, {"text": text, "kind": "fountain", "confirm": ""})
    assert done.status_code == 302
    assert project.shots.count() == 5 and project.cast.count() == 5
    assert client.get(reverse("shot-list-csv", args=[project.pk])).content.decode().count("\n") >= 6

    bad = client.post(url, {"text": "prompt,length\nA kite,5\n", "confirm": ""})
    assert bad.status_code == 400
    assert "unknown column “length”" in bad.content.decode()
    assert project.shots.count() == 5


@pytest.mark.django_db
def test_a_viewer_cannot_import(client, user):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from projects.models import Membership, Role

    project = make_project(user)
    viewer = get_user_model().objects.create_user("vic", password="pw")
    Membership.objects.create(team=project.team, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    url = reverse("script-import", args=[project.pk])
    answer = client.post(url, {"text": "A kite over the sea", "confirm": ""})
    assert answer.status_code in (403, 404)
    assert not project.shots.exists()


@pytest.mark.django_db
def test_break_down_with_ai_asks_the_chat_model_and_previews_its_shots(
    client, user, simulator, settings
):
    from django.urls import reverse

    project = make_project(user)
    client.force_login(user)
    url = reverse("script-import", args=[project.pk])
    # Without SCRIPT_MODEL, no button.
    settings.SCRIPT_MODEL = ""
    assert 'id="breakdown-button"' not in client.get(url).content.decode()
    settings.SCRIPT_MODEL = "doubao-seed-1-6-250615"
    assert 'id="breakdown-button"' in client.get(url).content.decode()

    text = (DATA / "harbour.fountain").read_text()
    # The request asks no one: a worker does, and the page waits on it.
    waiting = client.post(url, {"text": text, "breakdown": ""})
    assert waiting.status_code == 302
    assert not [r for r in simulator.requests if r["path"] == "/v1/chat/completions"]
    page = client.get(waiting["Location"])
    assert 'data-status="queued"' in page.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page.content.decode()
    breakdown = project.breakdowns.get()
    tasks.break_down(breakdown.pk)  # as the worker runs it
    preview = client.get(waiting["Location"])
    assert preview.status_code == 200
    (asked,) = [r for r in simulator.requests if r["path"] == "/v1/chat/completions"]
    body = asked["json"]
    assert body["model"] == "doubao-seed-1-6-250615"
    assert body["response_format"]["type"] == "json_schema"
    assert body["messages"][-1] == {"role": "user", "content": text.strip()}
    assert asked["headers"]["Authorization"] == "Bearer test-key"
    html = preview.content.decode()
    assert "From a breakdown by the chat model" in html
    assert "Preview: 4 shots (2 cuts, 2 continues)" in html
    assert project.shots.count() == 0

    # The confirmation creates what was shown, without asking the model again.
    carried = preview.context["form"]["text"].value()
    done = client.post(url, {"text": carried, "kind": "breakdown", "confirm": ""})
    assert done.status_code == 302
    assert len([r for r in simulator.requests if r["path"] == "/v1/chat/completions"]) == 1
    shots = list(project.shots.in_order())
    assert [s.prompt for s in shots][:2] == [
        "Wide shot, slow push-in: Rain drums on the tin roofs. Mara walks along the wet quay, "
        "a lantern in her hand.",
        "Medium shot, handheld: She stops at the edge and looks down into the black water.",
    ]
    assert [s.opening_now for s in shots] == ["cut", "continue", "continue", "cut"]
    assert shots[1].notes.startswith("MARA: Where is he?")
    assert project.cast.get(name="Harbour").kind == "location"
    # The same script, the same breakdown.
    again = client.post(url, {"text": text, "breakdown": ""})
    tasks.break_down(project.breakdowns.latest("pk").pk)
    assert client.get(again["Location"]).context["form"]["text"].value() == carried


@pytest.mark.django_db
def test_a_breakdown_the_chat_model_cannot_give_says_why_on_the_import_page(
    client, user, simulator, settings
):
    from django.urls import reverse

    settings.SCRIPT_MODEL = "doubao-seed-1-6-250615"
    settings.SCRIPT_BASE_URL = "http://127.0.0.1:9"  # nothing answers there
    project = make_project(user)
    client.force_login(user)
    url = reverse("script-import", args=[project.pk])
    waiting = client.post(url, {"text": "INT. HARBOUR - NIGHT\n\nRain.", "breakdown": ""})
    tasks.break_down(project.breakdowns.get().pk)
    assert project.breakdowns.get().status == "failed"
    told = client.get(waiting["Location"], follow=True)
    assert told.redirect_chain[-1][0] == url
    assert "The chat model gave no breakdown" in told.content.decode()
    assert project.shots.count() == 0


@pytest.mark.django_db
def test_the_printed_storyboard_has_the_dialogue(user, tmp_path):
    import pypdf

    project = scripts.new_project(read("harbour.fountain"), user.teams.get(), user)
    output = tmp_path / "board.pdf"
    call_command("storyboard", "export", str(project.pk), "--output", str(output))
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(output).pages)
    text = " ".join(text.split())
    assert "MARA: Where is he?" in text
    assert "OLD MAN: You came back." in text


def test_a_csv_saved_with_semicolons_and_a_byte_order_mark_reads_the_same():
    data = '\ufeffPrompt;Duration;Cast\r\n"A kite; high";6;Fox, Owl\r\n;;\r\n'.encode()
    plan = scripts.read(scripts.decode(data), scripts.CSV)
    (shot,) = plan.shots
    assert (shot.prompt, shot.duration, shot.cast) == ("A kite; high", 6, ["Fox", "Owl"])
