"""The cast: characters, locations and props a shot names as @Name, and what the gateway
receives of them.

Real parts: the simulator over loopback records each create body; pictures are PNGs made
with Pillow; wisgate fetches its images by their signed links from a live server.
"""

import base64
import io
import json
import re
import time

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from PIL import Image, PngImagePlugin

from projects import cast as casting
from projects import pipeline, storyboard_file
from projects.models import CastImage, CastMember, Opening, Shot, Take
from projects.providers import SIMULATOR_PREFIXES
from tests.factories import make_project, make_take
from tests.test_gateways import MODELS

# Each member's pictures, by colour: the order they reach the gateway in is told by them.
COLOURS = {
    "Mara": [(200, 30, 30), (30, 200, 30)],
    "Harbour": [(30, 30, 200)],
    "Lamp": [(220, 220, 40)],
}
DESCRIPTIONS = {
    "Mara": "A tall woman in a red coat",
    "Harbour": "A foggy harbour at night",
    "Lamp": "A brass storm lamp",
}
KINDS = {"Mara": "character", "Harbour": "location", "Lamp": "prop"}
# Named in this order: not the alphabetical one, so the order comes from the prompt.
PROMPT = "@Mara lights the @Lamp on the @Harbour"
EXPECTED_PROMPT = (
    "Mara (image 1, image 2): A tall woman in a red coat.\n"
    "Lamp (image 3): A brass storm lamp.\n"
    "Harbour (image 4): A foggy harbour at night.\n"
    "Mara lights the Lamp on the Harbour"
)
DESCRIBED_PROMPT = (
    "Mara: A tall woman in a red coat.\n"
    "Lamp: A brass storm lamp.\n"
    "Harbour: A foggy harbour at night.\n"
    "Mara lights the Lamp on the Harbour"
)
SETTINGS = {  # what each style takes as it is
    "ark": {"resolution": "480p", "duration": 4},
    "dieyuyun": {"resolution": "720p", "duration": 5},
    "wisgate": {"resolution": "720p", "duration": 4},
    "openai-videos": {"resolution": "480p", "duration": 4},
    "futurmix": {"resolution": "480p", "duration": 4},
}


def png(colour, size=(400, 320)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def upload(name, data, content_type="image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def add_member(project, name, colours=None, description=None):
    member = CastMember.objects.create(
        project=project,
        name=name,
        kind=KINDS.get(name, "character"),
        description=DESCRIPTIONS.get(name, "") if description is None else description,
    )
    for position, colour in enumerate(colours or COLOURS[name]):
        CastImage.objects.create(
            member=member, position=position, file=upload(f"{name}-{position}.png", png(colour))
        )
    casting.link_mentions(member)  # as the cast page does
    return member


def cast_of_three(project):
    return {name: add_member(project, name) for name in COLOURS}


def colour_of(data):
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((5, 5))


def from_data_uri(url):
    assert url.startswith("data:image/png;base64,"), url[:40]
    return base64.b64decode(url.split(",", 1)[1])


def sent_images(style, body):
    """(role, url) of each image a create body carries, in order."""
    if style == "ark":
        items = [i for i in body["content"] if i["type"] == "image_url"]
    elif style in ("openai-videos", "futurmix"):
        items = (body.get("metadata") or {}).get("content", [])
        items = [i for i in items if i["type"] == "image_url"]
    elif style == "wisgate":
        mode = body.get("mode")
        return [(mode, url) for url in body.get("images", [])]
    else:  # dieyuyun: a first frame at most, no references
        return [("first_frame", body["image"])] if body.get("image") else []
    return [(item["role"], item["image_url"]["url"]) for item in items]


def sent_prompt(style, body):
    if style == "ark":
        return next(i["text"] for i in body["content"] if i["type"] == "text")
    return body["prompt"]


def use_style(settings, simulator, style):
    settings.SEEDANCE_BASE_URL = simulator.url + SIMULATOR_PREFIXES[style]
    settings.SEEDANCE_API_STYLE = style


def creates(simulator):
    return [r["json"] for r in simulator.requests if r["method"] == "POST"]


# What the gateway receives.


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize("style", list(SETTINGS))
def test_a_cut_with_a_cast_of_three_on_each_api_style(
    simulator, settings, live_server, user, style, callbacks_held
):
    """Each style receives the cast's four pictures as references, in the order the prompt
    names them, and a prompt naming them image 1 to 4 with their descriptions; dieyuyun,
    which takes no reference images, gets the descriptions alone, as its card said."""
    use_style(settings, simulator, style)
    settings.PUBLIC_BASE_URL = live_server.url  # wisgate fetches images by link
    case = SETTINGS[style]
    project = make_project(
        user,
        shots=[{"prompt": PROMPT, "duration": case["duration"], "opening": Opening.CUT}],
        model=MODELS[style],
        resolution=case["resolution"],
    )
    cast_of_three(project)
    shot = project.shots.get()
    casting.set_cast(shot)

    page = user_page(live_server, project)
    if style == "dieyuyun":
        assert "The dieyuyun API takes no reference images" in page
    else:
        assert "takes no reference images" not in page

    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 90)
    take = project.timeline()[0].latest_take
    assert take.status == Take.Status.DONE, take.error
    (body,) = creates(simulator)

    images = sent_images(style, body)
    if style == "dieyuyun":
        assert images == []
        assert sent_prompt(style, body) == DESCRIBED_PROMPT
        return
    assert sent_prompt(style, body) == EXPECTED_PROMPT
    expected = [*COLOURS["Mara"], *COLOURS["Lamp"], *COLOURS["Harbour"]]
    if style == "wisgate":
        assert [role for role, _ in images] == ["r2v"] * 4
        pictures = [httpx.get(url).content for _, url in images]
        assert all(url.startswith(f"{live_server.url}/inputs/") for _, url in images)
    else:
        assert [role for role, _ in images] == ["reference_image"] * 4
        pictures = [from_data_uri(url) for _, url in images]
    assert [colour_of(data) for data in pictures] == expected
    # What the take recorded: the cast, to tell later whether it changed.
    assert [member["name"] for member in take.inputs["cast"]] == ["Mara", "Lamp", "Harbour"]


def user_page(live_server, project):
    """The project page as its owner sees it (through the test client's session)."""
    from django.test import Client

    client = Client()
    client.force_login(project.created_by)
    return client.get(project.get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_continue_gets_the_descriptions_and_no_references(simulator, user, client_of):
    project = make_project(
        user,
        shots=[
            {"prompt": "A quay at dusk", "opening": Opening.CUT},
            {"prompt": PROMPT, "opening": Opening.CONTINUE},
        ],
    )
    cast_of_three(project)
    first, second = project.shots.in_order()
    casting.set_cast(second)

    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "Identity comes from the shot before&#x27;s last frame" in page

    pipeline.queue_takes(project)
    pipeline.run_here(project, deadline=time.monotonic() + 90)
    takes = [shot.latest_take for shot in project.timeline()]
    assert [t.status for t in takes] == [Take.Status.DONE] * 2, [t.error for t in takes]
    body = creates(simulator)[1]
    assert [i.get("role") for i in body["content"] if i["type"] == "image_url"] == ["first_frame"]
    assert sent_prompt("ark", body) == DESCRIBED_PROMPT


@pytest.mark.django_db
def test_more_images_than_the_gateway_takes_is_refused_on_the_card_before_sending(
    simulator, user, client_of
):
    project = make_project(user, shots=[("A quay", Opening.CUT), (PROMPT, Opening.CUT)])
    cast_of_three(project)
    # Mara's four pictures, the lamp's four, the harbour's four: 12 > 9.
    for member in CastMember.objects.filter(project=project):
        for position in range(member.images.count(), 4):
            CastImage.objects.create(
                member=member, position=position, file=upload("x.png", png((9, 9, 9)))
            )
    shot = project.shots.in_order()[1]
    casting.set_cast(shot)

    page = client_of.get(project.get_absolute_url()).content.decode()
    message = "Shot 2 would send 12 cast images; the ark API takes at most 9 reference images."
    assert message in page

    pipeline.queue_takes(project, shots=[shot])
    pipeline.run_here(project, deadline=time.monotonic() + 30)
    take = project.shots.in_order()[1].takes.get()
    assert take.status == Take.Status.FAILED
    assert "At most 9 reference images." in take.error
    assert creates(simulator) == []  # nothing was sent

    # The shot form refuses it too, before saving.
    url = reverse("shot-edit", args=[project.pk, shot.pk])
    response = client_of.post(url, {"prompt": PROMPT, "duration": 4, "opening": "cut"})
    assert response.status_code == 400
    assert "At most 9 reference images." in response.content.decode()


# Shots naming their cast.


@pytest.mark.django_db
def test_a_shot_names_its_cast_by_mention_or_by_chip(client_of, user):
    project = make_project(user)
    members = cast_of_three(project)
    url = reverse("shot-create", args=[project.pk])
    form = {"prompt": "@mara walks the @Harbour", "duration": 4, "opening": "cut"}
    response = client_of.post(url, {**form, "cast": [members["Lamp"].pk]})
    assert response.status_code == 302, response.content.decode()
    shot = Shot.objects.get(project=project)
    assert [m.name for m in shot.cast_in_order()] == ["Mara", "Harbour", "Lamp"]

    page = client_of.get(project.get_absolute_url()).content.decode()
    thumbnail = reverse("cast-image", args=[project.pk, members["Mara"].thumbnail.pk])
    assert f'data-cast="Mara"><img src="{thumbnail}"' in page
    assert client_of.get(thumbnail).status_code == 200


@pytest.mark.django_db
def test_a_name_no_one_answers_to_is_underlined_and_generating_asks_first(client_of, user):
    project = make_project(user, shots=[("@Mara meets @Nobody", Opening.CUT)])
    add_member(project, "Mara")
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert '<u class="unknown-cast" title="No one in the cast is called Nobody">@Nobody</u>' in page
    assert "@Mara meets" in page
    warning = "Shot 1 names @Nobody, not in the cast."
    head = 'data-bill="Generate" data-bill-from="[data-role=generate-estimate]"'
    assert f'{head} data-bill-warning="{warning}"' in page
    assert page.count(f'data-bill-warning="{warning}"') == 3  # Generate, Make final, the card


@pytest.mark.django_db
def test_a_member_named_before_they_join_the_cast_joins_the_shots_naming_them(client_of, user):
    project = make_project(user, shots=[("@Mara waits", Opening.CUT), ("@Maral", Opening.CUT)])
    first, second = project.shots.in_order()
    make_take(first)
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert 'title="No one in the cast is called Mara">@Mara</u>' in page

    data = {"name": "mara", "kind": "character", "images": [upload("m.png", png((1, 2, 3)))]}
    assert client_of.post(reverse("cast-list", args=[project.pk]), data).status_code == 302
    assert [m.name for m in first.cast.all()] == ["mara"] and not second.cast.exists()
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert 'is called Mara"' not in page and 'is called Maral"' in page
    assert 'data-cast="mara"' in page
    assert project.timeline()[0].stale_reason == "mara joined the shot"


@pytest.mark.django_db
def test_a_shot_removed_while_its_member_joined_has_them_when_put_back(client_of, user):
    from projects import arrange

    project = make_project(user, shots=[("A kite", Opening.CUT), ("@Mara hides", Opening.CUT)])
    arrange.remove(project.shots.in_order()[1])
    data = {"name": "Mara", "kind": "character", "images": [upload("m.png", png((1, 2, 3)))]}
    assert client_of.post(reverse("cast-list", args=[project.pk]), data).status_code == 302
    shot = arrange.undo(project)
    assert [m.name for m in shot.cast.all()] == ["Mara"]
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "No one in the cast is called Mara" not in page and 'data-cast="Mara"' in page


# Renaming and deleting.


@pytest.mark.django_db
def test_renaming_rewrites_every_prompt_naming_them(client_of, user):
    project = make_project(
        user,
        shots=[
            ("@Mara walks; @mara stops.", Opening.CUT),
            ("@Maral is someone else, @Mara-bis too", Opening.CUT),
            ("No one here", Opening.CUT),
        ],
    )
    mara = add_member(project, "Mara")
    for shot in project.shots.all():
        casting.set_cast(shot)
    url = reverse("cast-edit", args=[project.pk, mara.pk])
    form = {"name": "Mira", "kind": "character", "description": DESCRIPTIONS["Mara"]}
    response = client_of.post(url, form)
    assert response.status_code == 302, response.content.decode()
    prompts = [shot.prompt for shot in project.shots.in_order()]
    assert prompts == [
        "@Mira walks; @Mira stops.",
        "@Maral is someone else, @Mara-bis too",
        "No one here",
    ]
    page = client_of.get(response["Location"]).content.decode()
    assert "Mara is now Mira; the prompts of shots 1 say so." in page
    # A name taken is refused, whatever its case.
    add_member(project, "Tom", colours=[(1, 2, 3)])
    response = client_of.post(url, {**form, "name": "tom"})
    assert response.status_code == 400
    assert "The cast already has a member called tom." in response.content.decode()


@pytest.mark.django_db
def test_deleting_a_member_shots_use_asks_first_and_names_the_shots(client_of, user):
    project = make_project(
        user,
        shots=[("@Mara runs", Opening.CUT), ("A gull", Opening.CUT), ("@Mara hides", Opening.CUT)],
    )
    mara = add_member(project, "Mara")
    for shot in project.shots.all():
        casting.set_cast(shot)
    url = reverse("cast-delete", args=[project.pk, mara.pk])
    response = client_of.post(url)
    assert response.status_code == 409
    assert "Mara is in shots 1, 3." in response.content.decode()
    assert CastMember.objects.filter(pk=mara.pk).exists()

    assert client_of.post(url, {"confirm": "yes"}).status_code == 302
    assert not CastMember.objects.filter(pk=mara.pk).exists()
    # A member no shot uses goes at once.
    lamp = add_member(project, "Lamp")
    assert client_of.post(reverse("cast-delete", args=[project.pk, lamp.pk])).status_code == 302
    assert not project.cast.exists()


# Staleness.


@pytest.mark.django_db
def test_a_new_look_makes_the_shots_with_them_stale_with_the_reason(client_of, user):
    project = make_project(
        user,
        shots=[("@Mara on the quay", Opening.CUT), ("A gull", Opening.CUT), ("@Lamp", Opening.CUT)],
    )
    mara, lamp = add_member(project, "Mara"), add_member(project, "Lamp")
    shots = list(project.shots.in_order())
    for shot in shots:
        casting.set_cast(shot)
        make_take(shot)
    assert [shot.stale for shot in project.timeline()] == [False, False, False]

    url = reverse("cast-edit", args=[project.pk, mara.pk])
    form = {"name": "Mara", "kind": "character", "description": "Now in a green coat"}
    assert client_of.post(url, form).status_code == 302
    timeline = project.timeline()
    assert [shot.stale_reason for shot in timeline] == ["Mara's look changed", "", ""]
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "Stale: Mara&#x27;s look changed." in page

    # New pictures of the lamp.
    url = reverse("cast-edit", args=[project.pk, lamp.pk])
    form = {"name": "Lamp", "kind": "prop", "description": DESCRIPTIONS["Lamp"]}
    response = client_of.post(url, {**form, "images": [upload("new.png", png((1, 1, 1)))]})
    assert response.status_code == 302
    assert [s.stale_reason for s in project.timeline()][2] == "Lamp's look changed"

    # A rename says so too (its prompt, rewritten, is no other change).
    response = client_of.post(url, {**form, "name": "Torch"})
    assert response.status_code == 302
    assert [s.stale_reason for s in project.timeline()][2] == (
        "Torch's look changed, Lamp is now called Torch"
    )
    assert project.shots.in_order()[2].prompt == "@Torch"


# The cast page.


@pytest.mark.django_db
def test_the_cast_page_makes_a_member_with_pictures_fitted_and_a_voice(client_of, user):
    from tests.test_references import wav

    project = make_project(user)
    data = {
        "name": "@Mara",
        "kind": "character",
        "description": DESCRIPTIONS["Mara"],
        "images": [upload("a.png", png((200, 30, 30), (120, 90))), upload("b.png", png((1, 1, 1)))],
        "voice": upload("mara.wav", wav(), "audio/wav"),
    }
    response = client_of.post(reverse("cast-list", args=[project.pk]), data)
    assert response.status_code == 302, response.content.decode()
    mara = project.cast.get()
    assert mara.name == "Mara" and mara.voice
    first = mara.image_list()[0]
    with first.file.open("rb") as f:
        picture = Image.open(io.BytesIO(f.read()))
    assert min(picture.size) > 300  # fitted to what every gateway takes
    page = client_of.get(response["Location"]).content.decode()
    assert 'data-cast="Mara"' in page and "In no shot yet" in page
    thumbnail = reverse("cast-image", args=[project.pk, first.pk])
    assert f'src="{thumbnail}"' in page

    # A location has no voice.
    data = {**data, "name": "Quay", "kind": "location"}
    data["images"] = [upload("q.png", png((5, 5, 5)))]
    data["voice"] = upload("quay.wav", wav(), "audio/wav")
    response = client_of.post(reverse("cast-list", args=[project.pk]), data)
    assert response.status_code == 400
    assert "Only a character has a voice." in response.content.decode()


# The cast page: bad pictures.


@pytest.mark.django_db
@pytest.mark.parametrize(
    "files, message",
    [
        ([("notes.png", b"just words")], "is not an image this app can read"),
        ([], "Give 1 to 4 pictures."),
        ([("a.png", "png")] * 5, "5 pictures: a cast member has at most 4."),
    ],
)
def test_a_picture_that_is_not_one_or_too_many_is_refused_whole(client_of, user, files, message):
    project = make_project(user)
    images = [upload(name, png((5, 5, 5)) if d == "png" else d) for name, d in files]
    data = {"name": "Mara", "kind": "character", "description": "x"}
    if images:
        data["images"] = [upload("good.png", png((7, 7, 7))), *images]
        if len(images) == 5:
            data["images"] = images
    response = client_of.post(reverse("cast-list", args=[project.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CastMember.objects.exists() and not CastImage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "limit, message",
    [
        ({"MAX_IMAGE_PIXELS": 1000}, "an image may have at most"),
        ({"MAX_IMAGE_MB": 0.001}, "is 0.0 MB: an image may be at most 0.001 MB."),
    ],
)
def test_a_picture_too_large_is_refused(client_of, user, settings, limit, message):
    for name, value in limit.items():
        setattr(settings, name, value)
    project = make_project(user)
    data = {"name": "Mara", "kind": "character", "images": [upload("big.png", png((1, 1, 1)))]}
    response = client_of.post(reverse("cast-list", args=[project.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CastMember.objects.exists() and not CastImage.objects.exists()


# The storyboard file.


@pytest.mark.django_db
def test_the_storyboard_file_round_trips_a_cast(user, tmp_path):
    for name, colours in COLOURS.items():
        for n, colour in enumerate(colours):
            (tmp_path / f"{name}-{n}.png").write_bytes(png(colour))
    board = {
        "title": "Harbour",
        "settings": {"resolution": "480p"},
        "cast": [
            {
                "name": name,
                "kind": KINDS[name],
                "description": DESCRIPTIONS[name],
                "images": [f"{name}-{n}.png" for n in range(len(colours))],
            }
            for name, colours in COLOURS.items()
        ],
        "shots": [
            {"prompt": PROMPT, "duration": 4},
            {"prompt": "The fog lifts", "duration": 4, "cast": ["Harbour"]},
        ],
    }
    path = tmp_path / "harbour.json"
    path.write_text(json.dumps(board))
    call_command("storyboard", "import", str(path), "--owner", "ada")
    project = user.teams.get().projects.get()
    first, second = project.shots.in_order()
    assert [m.name for m in first.cast_in_order()] == ["Mara", "Lamp", "Harbour"]
    assert [m.name for m in second.cast_in_order()] == ["Harbour"]
    mara = project.cast.get(name="Mara")
    assert mara.kind == "character" and mara.description == DESCRIPTIONS["Mara"]
    with mara.image_list()[1].file.open("rb") as f:
        assert colour_of(f.read()) == COLOURS["Mara"][1]

    dumped = storyboard_file.dump(project)
    assert [m["name"] for m in dumped["cast"]] == ["Harbour", "Lamp", "Mara"]
    assert dumped["cast"][2]["images"] == [i.file.name for i in mara.image_list()]
    assert [s.get("cast") for s in dumped["shots"]] == [["Mara", "Lamp", "Harbour"], ["Harbour"]]
    stored = {f.name for f in storyboard_file.files(project)}
    assert {i.file.name for i in mara.image_list()} <= stored

    # Back in through a bundle: the same cast, the same shots.
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(storyboard_file.bundle(project, storyboard_file.files(project)).read())
    again = storyboard_file.load(bundle, user)
    assert storyboard_file.dump(again)["shots"] == dumped["shots"]
    cast = storyboard_file.dump(again)["cast"]
    assert [(m["name"], m["kind"], len(m["images"])) for m in cast] == [
        ("Harbour", "location", 1),
        ("Lamp", "prop", 1),
        ("Mara", "character", 2),
    ]


@pytest.mark.django_db
def test_a_storyboard_file_without_a_cast_still_reads(user, tmp_path):
    path = tmp_path / "plain.json"
    path.write_text(json.dumps({"title": "Plain", "shots": [{"prompt": "A kite", "duration": 4}]}))
    project = storyboard_file.load(path, user)
    assert not project.cast.exists()
    assert "cast" not in storyboard_file.dump(project)
    assert "cast" not in storyboard_file.dump(project)["shots"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, message",
    [
        ({"cast": [{"name": "Mara", "images": ["missing.png"]}]}, "does not exist"),
        ({"cast": [{"name": "Mara", "images": ["words.png"]}]}, "is not an image this app"),
        ({"cast": [{"name": "Mara", "images": ["m.png"] * 5}]}, '"images" must list at most 4'),
        ({"cast": [{"name": "Ma ra", "images": ["m.png"]}]}, "usable as @Name"),
        (
            {
                "cast": [
                    {"name": "Mara", "images": ["m.png"]},
                    {"name": "mara", "images": ["m.png"]},
                ]
            },
            "mara is in the cast twice",
        ),
        ({"shots": [{"prompt": "x", "cast": ["Tom"]}]}, "names Tom, not in the file's"),
    ],
)
def test_a_bad_cast_in_a_storyboard_file_creates_nothing(user, tmp_path, change, message):
    (tmp_path / "m.png").write_bytes(png((1, 2, 3)))
    (tmp_path / "words.png").write_bytes(b"no picture")
    board = {"title": "Bad", "shots": [{"prompt": "A kite", "duration": 4}], **change}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(board))
    with pytest.raises(CommandError, match=message):
        call_command("storyboard", "import", str(path), "--owner", "ada")
    assert not CastMember.objects.exists() and not CastImage.objects.exists()


@pytest.mark.django_db
def test_the_page_reads_the_cast_in_the_same_queries_however_many_shots(client_of, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = make_project(user)
    cast_of_three(project)

    def page_with(count):
        for n in range(project.shots.count(), count):
            shot = Shot.objects.create(project=project, position=n, prompt=PROMPT, opening="cut")
            casting.set_cast(shot)
        with CaptureQueriesContext(connection) as queries:
            page = client_of.get(project.get_absolute_url()).content.decode()
        return len(queries), page

    few, _ = page_with(2)
    many, page = page_with(20)
    assert page.count('class="cast-chip"') == 60
    assert many == few


@pytest.mark.django_db
def test_a_view_link_shows_the_chips_and_their_pictures_and_no_cast_page(client, user):
    from projects.models import Link

    project = make_project(user, shots=[(PROMPT, Opening.CUT)])
    members = cast_of_three(project)
    casting.set_cast(project.shots.get())
    link = Link.make(project, Link.Kind.VIEW)
    page = client.get(reverse("shared-project", args=[link.token])).content.decode()
    thumbnail = reverse("shared-cast-image", args=[link.token, members["Lamp"].thumbnail.pk])
    assert f'data-cast="Lamp"><img src="{thumbnail}"' in page
    response = client.get(thumbnail)
    assert response.status_code == 200
    assert colour_of(b"".join(response.streaming_content)) == COLOURS["Lamp"][0]
    # Another project's picture is not reached through this link.
    other = make_project(user)
    stranger = add_member(other, "Tom", colours=[(1, 1, 1)]).thumbnail
    assert (
        client.get(reverse("shared-cast-image", args=[link.token, stranger.pk])).status_code == 404
    )
    # Nor a picture its cards do not show: a member's second one, or one in no shot.
    second = members["Mara"].image_list()
    assert len(second) > 1
    assert (
        client.get(reverse("shared-cast-image", args=[link.token, second[1].pk])).status_code == 404
    )
    idle = add_member(project, "Gull", colours=[(5, 5, 5)]).thumbnail
    assert client.get(reverse("shared-cast-image", args=[link.token, idle.pk])).status_code == 404
    # The cast page is for the team's members.
    assert client.get(reverse("cast-list", args=[project.pk])).status_code == 302


@pytest.mark.django_db
def test_the_cast_page_shows_the_poster_of_every_shot_each_member_is_in(client_of, user):
    project = make_project(
        user,
        shots=[("@Mara runs", Opening.CUT), ("A gull", Opening.CUT), ("@Mara hides", Opening.CUT)],
    )
    add_member(project, "Mara")
    first, _, third = project.shots.in_order()
    for shot in (first, third):
        casting.set_cast(shot)
    take = make_take(first)
    page = client_of.get(reverse("cast-list", args=[project.pk])).content.decode()
    poster = reverse("take-file", args=[project.pk, take.pk, "poster"])
    assert "In shots 1, 3" in page
    assert f'<img src="{poster}" alt="Shot 1, the take in the cut"' in page
    assert "not made yet</span><figcaption>Shot 3</figcaption>" in page
    assert client_of.get(poster).status_code == 200


@pytest.mark.django_db
def test_the_printed_storyboard_names_each_shots_cast_and_shows_their_pictures(user):
    from contextlib import ExitStack

    import pypdf

    from projects import boards
    from projects.interchange import write_board

    project = make_project(user, shots=[(PROMPT, Opening.CUT), ("A gull", Opening.CUT)])
    cast_of_three(project)
    planned = boards.plan(project)
    assert planned[0]["cast"] == ["Mara", "Lamp", "Harbour"] and planned[1]["cast"] == []
    # Not generated yet: each member's first picture stands in, the first one printed.
    assert [p["label"] for p in planned[0]["pictures"]] == ["Mara", "Lamp", "Harbour"]
    with ExitStack() as opened:
        board = boards.board(project, planned, opened)
        assert board.panels[0].picture_label == "Mara"
        with Image.open(board.panels[0].picture) as image:
            assert image.convert("RGB").getpixel((5, 5)) == COLOURS["Mara"][0]
        out = io.BytesIO()
        write_board(board, out)
    text = pypdf.PdfReader(io.BytesIO(out.getvalue())).pages[0].extract_text()
    assert "Cast: Mara, Lamp, Harbour" in text


@pytest.mark.django_db
def test_a_duplicate_and_a_variant_keep_the_cast(client_of, user):
    from projects import arrange

    project = make_project(user, shots=[(PROMPT, Opening.CUT)])
    cast_of_three(project)
    shot = project.shots.get()
    casting.set_cast(shot)
    make_take(shot)

    copy = arrange.duplicate(shot, by=user)
    assert [m.name for m in copy.cast_in_order()] == ["Mara", "Lamp", "Harbour"]

    variant = arrange.variant(project, user)
    assert variant.cast.count() == 3 and not set(variant.cast.all()) & set(project.cast.all())
    mara = variant.cast.get(name="Mara")
    assert [i.file.name for i in mara.image_list()] == [
        i.file.name for i in project.cast.get(name="Mara").image_list()
    ]
    first = variant.shots.in_order().first()
    assert {m.project_id for m in first.cast.all()} == {variant.pk}
    # Its take came along, made from the same inputs: current, not stale.
    assert not variant.timeline()[0].stale


@pytest.mark.django_db
def test_the_activity_log_says_who_changed_the_cast(client_of, user):
    from projects import activity

    project = make_project(user)
    data = {"name": "Mara", "kind": "character", "images": [upload("m.png", png((1, 2, 3)))]}
    client_of.post(reverse("cast-list", args=[project.pk]), data)
    mara = project.cast.get()
    url = reverse("cast-edit", args=[project.pk, mara.pk])
    client_of.post(url, {"name": "Mara", "kind": "character", "description": "In green"})
    client_of.post(url, {"name": "Mira", "kind": "character", "description": "In green"})
    client_of.post(reverse("cast-delete", args=[project.pk, mara.pk]))
    lines = [(line.who, line.what) for line in activity.of_project(project)]
    assert lines[:4] == [
        ("ada", "took Mira out of the cast"),
        ("ada", "renamed Mara to Mira in the cast"),
        ("ada", "changed Mara in the cast (description)"),
        ("ada", "added Mara to the cast"),
    ]


@pytest.mark.django_db
def test_the_live_timeline_re_renders_the_cards_a_cast_change_touches(client_of, user):
    from projects.live.watch import Watcher

    project = make_project(
        user, shots=[("@Mara waits", Opening.CUT), ("A gull", Opening.CUT), ("@Lamp", Opening.CUT)]
    )
    first, second, third = project.shots.in_order()
    watcher = Watcher(project.pk)
    watcher.look()
    time.sleep(0.01)

    # Mara joins the cast: the shot naming her shows her chip.
    data = {"name": "Mara", "kind": "character", "images": [upload("m.png", png((1, 2, 3)))]}
    client_of.post(reverse("cast-list", args=[project.pk]), data)
    assert watcher.look().cards == {first.pk}
    lamp = add_member(project, "Lamp")
    watcher.look()
    time.sleep(0.01)
    # The lamp's new look: its shot goes stale.
    url = reverse("cast-edit", args=[project.pk, lamp.pk])
    client_of.post(url, {"name": "Lamp", "kind": "prop", "description": "Rusty"})
    assert watcher.look().cards == {third.pk}


@pytest.mark.django_db
def test_editing_a_prompt_that_no_longer_names_a_member_takes_them_out(client_of, user):
    project = make_project(user)
    members = cast_of_three(project)
    url = reverse("shot-create", args=[project.pk])
    form = {"prompt": "@Mara by the @Lamp", "duration": 4, "opening": "cut"}
    client_of.post(url, {**form, "cast": [members["Harbour"].pk]})
    shot = Shot.objects.get(project=project)
    edit = reverse("shot-edit", args=[project.pk, shot.pk])
    page = client_of.get(edit).content.decode()
    # Only the picked one is ticked: the others come from the prompt.
    ticked = re.findall(r'name="cast" value="(\d+)"[^>]*checked', page)
    assert ticked == [str(members["Harbour"].pk)]
    response = client_of.post(
        edit, {**form, "prompt": "@Mara alone", "cast": [members["Harbour"].pk]}
    )
    assert response.status_code == 302
    assert [m.name for m in shot.cast_in_order()] == ["Mara", "Harbour"]


def test_a_picture_named_as_a_page_is_stored_and_served_as_a_picture(client_of, user):
    """A valid PNG carrying a script, named page.html: stored under a name for what it is,
    served as image/png; and a stored file that is not media is never shown inline."""
    from projects.files import serve

    project = make_project(user)
    buffer = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(document.cookie)</script>")
    Image.new("RGB", (400, 320), (200, 30, 30)).save(buffer, "PNG", pnginfo=info)
    data = {"name": "Mara", "kind": "character", "description": "A tall woman"}
    data["images"] = [upload("page.html", buffer.getvalue(), "text/html")]
    response = client_of.post(reverse("cast-list", args=[project.pk]), data)
    assert response.status_code == 302, response.content.decode()
    picture = project.cast.get().image_list()[0]
    assert picture.file.name.endswith(".png")
    served = client_of.get(reverse("cast-image", args=[project.pk, picture.pk]))
    assert served["Content-Type"] == "image/png"

    # Whatever name a file was stored under before, only media is shown where it is.
    picture.file.storage.save("cast/old.html", io.BytesIO(b"<script>alert(1)</script>"))
    picture.file.name = "cast/old.html"
    response = serve(RequestFactory().get("/"), picture.file)
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    picture.file.name = "cast/old.svg"
    picture.file.storage.save("cast/old.svg", io.BytesIO(b"<svg onload='alert(1)'/>"))
    assert serve(RequestFactory().get("/"), picture.file)["Content-Type"] != "image/svg+xml"


@pytest.mark.django_db
def test_a_storyboard_file_reads_no_picture_outside_its_folder(user, tmp_path):
    """A shared file naming ../ or an absolute path would import the server's other files
    (another team's media) into the importer's project: refused, and nothing is made."""
    (tmp_path / "secret.png").write_bytes(png((9, 9, 9)))
    folder = tmp_path / "board"
    folder.mkdir()
    for name in ("../secret.png", str(tmp_path / "secret.png")):
        board = {"title": "Far", "shots": [{"prompt": "A kite", "duration": 4, "cast": ["Mara"]}]}
        board["cast"] = [{"name": "Mara", "images": [name]}]
        (folder / "far.json").write_text(json.dumps(board))
        with pytest.raises(CommandError, match="outside the storyboard file's folder"):
            call_command("storyboard", "import", str(folder / "far.json"), "--owner", "ada")
    assert not CastMember.objects.exists() and not Shot.objects.exists()
