"""References and last-frame targets: from the shot form and the storyboard file to the wire.

A cut may be guided by reference images, videos and audio instead of a first frame, and
any shot may be given the picture it should end on. Images travel as data URIs or signed
links; videos and audio only as signed links, which the simulator really fetches.
"""

import io
import json
import wave
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from projects import media, pipeline
from projects.models import Opening, Reference, Shot, Take
from projects.simulator.render import small_size
from tests.clips import make_clip
from tests.factories import make_project
from tests.test_pipeline import mean_difference
from tests.test_simulator import picture

# The simulator's 480p 16:9 size, so a picture needs no cropping to fill a frame.
WIDTH, HEIGHT = 864, 496


def png(width=WIDTH, height=HEIGHT, colour=None):
    image = picture(width, height) if colour is None else Image.new("RGB", (width, height), colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def wav(seconds=1.0, rate=16000):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x10" * int(seconds * rate))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return make_clip(folder / "walk.mp4", width=352, height=288, seconds=1).read_bytes()


def upload(name, data):
    return SimpleUploadedFile(name, data)


@pytest.fixture
def reachable(settings):
    """The provider can fetch from this app, so videos and audio can be sent by link."""
    settings.PUBLIC_BASE_URL = "http://app.example"


def post_shot(client, project, references=(), **fields):
    data = {"prompt": "A fox in the snow", "duration": 4, "opening": "cut", **fields}
    if references:
        data["references"] = list(references)
    return client.post(reverse("shot-create", args=[project.pk]), data)


@pytest.mark.django_db
def test_the_shot_form_takes_references_and_tells_them_apart(client_of, user, reachable, mp4):
    project = make_project(user)
    references = [
        upload("fox.png", png()),
        upload("snow.png", png(colour=(240, 240, 250))),
        upload("walk.mp4", mp4),
        upload("howl.wav", wav()),
    ]
    response = post_shot(client_of, project, references)
    assert response.status_code == 302, response.content.decode()

    shot = Shot.objects.get(project=project)
    kinds = [r.kind for r in shot.references.all()]
    assert kinds == ["image", "image", "video", "audio"]
    assert shot.inputs()["references"] == [r.file.name for r in shot.references.all()]
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "2 images, 1 video, 1 audio" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "files, fields, message",
    [
        ([("r{}.png", "png")] * 10, {}, "At most 9 reference images."),
        ([("v{}.mp4", "mp4")] * 4, {}, "At most 3 reference videos."),
        ([("howl.wav", "wav")], {}, "Reference audio needs an image or a video beside it."),
        (
            [("fox.png", "png")],
            {"first_frame": "png"},
            "First/last frames and references cannot be mixed in one shot.",
        ),
        ([], {"last_frame_target": "png"}, "A last frame needs a first frame."),
        ([("notes.txt", "text")], {}, "is not an image, a video or an audio file"),
    ],
)
def test_the_shot_form_refuses_what_the_provider_would(
    client_of, user, reachable, mp4, files, fields, message
):
    project = make_project(user)
    made = {"png": png, "mp4": lambda: mp4, "wav": wav, "text": lambda: b"just words"}
    references = [upload(name.format(i), made[kind]()) for i, (name, kind) in enumerate(files)]
    fields = {name: upload(f"{name}.png", made[kind]()) for name, kind in fields.items()}
    response = post_shot(client_of, project, references, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Shot.objects.exists() and not Reference.objects.exists()


@pytest.mark.django_db
def test_a_continue_cannot_take_references(client_of, user, reachable):
    project = make_project(user, shots=[("A", Opening.CUT)])
    response = post_shot(client_of, project, [upload("fox.png", png())], opening="continue")
    assert response.status_code == 400
    assert "references cannot be mixed with: make it a cut" in response.content.decode()


@pytest.mark.django_db
def test_videos_and_audio_need_a_public_address(client_of, user, settings, mp4):
    settings.PUBLIC_BASE_URL = ""
    project = make_project(user)
    response = post_shot(client_of, project, [upload("walk.mp4", mp4)])
    assert response.status_code == 400
    assert "Reference videos and audio reach the provider by URL" in response.content.decode()


@pytest.mark.django_db
def test_editing_a_shot_keeps_replaces_or_removes_its_references(client_of, user, reachable):
    project = make_project(user)
    post_shot(client_of, project, [upload("a.png", png()), upload("b.png", png())])
    shot = Shot.objects.get()
    url = reverse("shot-edit", args=[project.pk, shot.pk])
    form = {"prompt": "A fox, closer", "duration": 4, "opening": "cut"}

    assert client_of.post(url, form).status_code == 302
    assert shot.references.count() == 2
    assert client_of.post(url, {**form, "references": [upload("c.png", png())]}).status_code == 302
    assert [r.file.name.split("/")[-1][:1] for r in shot.references.all()] == ["c"]
    assert client_of.post(url, {**form, "remove_references": "on"}).status_code == 302
    assert not shot.references.exists()


@pytest.mark.django_db
def test_the_storyboard_file_carries_references_and_last_frames(user, tmp_path, reachable, mp4):
    from projects import storyboard_file

    (tmp_path / "fox.png").write_bytes(png())
    (tmp_path / "end.png").write_bytes(png(colour=(200, 30, 30)))
    (tmp_path / "walk.mp4").write_bytes(mp4)
    (tmp_path / "howl.wav").write_bytes(wav())
    board = {
        "title": "Fox",
        "settings": {"resolution": "480p"},
        "shots": [
            {"prompt": "A fox", "duration": 4, "references": ["fox.png", "walk.mp4", "howl.wav"]},
            {"prompt": "It runs off", "duration": 4, "last_frame": "end.png"},
        ],
    }
    path = tmp_path / "fox.json"
    path.write_text(json.dumps(board))
    call_command("storyboard", "import", str(path), "--owner", "ada")

    project = user.teams.get().projects.get()
    first, second = project.shots.in_order()
    assert [r.kind for r in first.references.all()] == ["image", "video", "audio"]
    assert second.last_frame_target and second.continues
    dumped = storyboard_file.dump(project)["shots"]
    assert dumped[0]["references"] == [r.file.name for r in first.references.all()]
    assert dumped[1]["last_frame_target"] == second.last_frame_target.name

    board["shots"][0]["references"] = ["fox.png"] * 10
    path.write_text(json.dumps(board))
    with pytest.raises(CommandError, match="shot 1: At most 9 reference images."):
        call_command("storyboard", "import", str(path), "--owner", "ada")
    board["shots"][0]["references"] = ["fox.json"]
    path.write_text(json.dumps(board))
    with pytest.raises(CommandError, match="not an image, a video or an audio file"):
        call_command("storyboard", "import", str(path), "--owner", "ada")


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_references_and_a_last_frame_reach_the_simulator(
    simulator, settings, live_server, user, mp4, callbacks_held
):
    """Shot 1 is guided by an image, a video and audio; shot 2 continues and ends on a set
    picture. The simulator fetches every file by its signed link and draws from them."""
    settings.PUBLIC_BASE_URL = live_server.url
    project = make_project(
        user,
        shots=[("A fox in the snow", Opening.CUT), ("It runs to the red barn", Opening.CONTINUE)],
    )
    first, second = project.shots.in_order()
    guide = png()
    for position, (kind, name, data) in enumerate(
        [("image", "fox.png", guide), ("video", "walk.mp4", mp4), ("audio", "howl.wav", wav())]
    ):
        Reference.objects.create(shot=first, position=position, kind=kind, file=upload(name, data))
    # Small clips (the simulator's size for 864x496): the pictures are compared at it.
    target = Image.new("RGB", small_size(WIDTH, HEIGHT), (200, 30, 30))
    second.last_frame_target = upload("barn.png", png(colour=(200, 30, 30)))
    second.save()

    pipeline.queue_takes(project)
    pipeline.run_here(project)

    takes = [shot.latest_take for shot in project.timeline()]
    assert [t.status for t in takes] == [Take.Status.DONE] * 2, [t.error for t in takes]
    creates = [r["json"] for r in simulator.requests if r["method"] == "POST"]
    items = creates[0]["content"][1:]
    assert [item["role"] for item in items] == [
        "reference_image",
        "reference_video",
        "reference_audio",
    ]
    assert items[0]["image_url"]["url"].startswith("data:image/png;base64,")
    for item, kind in zip(items[1:], ("video_url", "audio_url"), strict=True):
        assert item[kind]["url"].startswith(f"{live_server.url}/inputs/")
    assert [item.get("role") for item in creates[1]["content"][1:]] == [
        "first_frame",
        "last_frame",
    ]

    # The guide shapes shot 1; shot 2 ends on its target, and the chain carries on from it.
    opening = media.first_frame(takes[0].video.path)
    assert opening.size == small_size(WIDTH, HEIGHT)
    expected = Image.open(io.BytesIO(guide)).resize(opening.size, Image.Resampling.BICUBIC)
    assert mean_difference(opening, expected) < 6
    assert mean_difference(media.last_frame(takes[1].video.path), target) < 6
    with takes[1].last_frame.open("rb") as f:
        assert mean_difference(Image.open(f), target) < 2

    # Taking the references away makes shot 1 stale, and with it the shot continuing it.
    first.references.all().delete()
    assert [shot.stale for shot in project.timeline()] == [True, True]


@pytest.mark.django_db
def test_a_storyboard_with_files_downloads_as_a_bundle_that_imports_back(
    client_of, user, reachable, tmp_path, mp4
):
    project = make_project(user, shots=[("A fox", Opening.CUT), ("It runs", Opening.CONTINUE)])
    first, second = project.shots.in_order()
    for position, (kind, name, data) in enumerate(
        [("image", "fox.png", png()), ("video", "walk.mp4", mp4), ("audio", "howl.wav", wav())]
    ):
        Reference.objects.create(shot=first, position=position, kind=kind, file=upload(name, data))
    second.last_frame_target = upload("barn.png", png(colour=(200, 30, 30)))
    second.save()

    response = client_of.get(reverse("project-storyboard", args=[project.pk]))
    assert response["Content-Type"] == "application/zip"
    assert f'filename="{project.pk}-storyboard.zip"' in response["Content-Disposition"]
    path = tmp_path / "fox.zip"
    path.write_bytes(b"".join(response.streaming_content))
    call_command("storyboard", "import", str(path), "--owner", "ada")

    copy = user.teams.get().projects.exclude(pk=project.pk).get()
    copied_first, copied_second = copy.shots.in_order()
    pairs = list(zip(first.references.all(), copied_first.references.all(), strict=True))
    pairs.append((second, copied_second))
    for original, copied in pairs:
        name = "file" if isinstance(original, Reference) else "last_frame_target"
        with getattr(original, name).open("rb") as a, getattr(copied, name).open("rb") as b:
            assert a.read() == b.read()
    assert [r.kind for r in copied_first.references.all()] == ["image", "video", "audio"]


@pytest.mark.django_db
def test_a_bundle_cannot_write_outside_itself(user, tmp_path):
    import tempfile
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("storyboard.json", json.dumps({"title": "T", "shots": [{"prompt": "A"}]}))
        archive.writestr("../escaped.png", b"x")
    with pytest.raises(CommandError, match="points outside the bundle"):
        call_command("storyboard", "import", str(path), "--owner", "ada")
    assert not (Path(tempfile.gettempdir()) / "escaped.png").exists()


@pytest.mark.django_db
def test_a_storyboard_without_files_downloads_as_plain_json(client_of, user):
    project = make_project(user, shots=[("A fox", Opening.CUT)])
    response = client_of.get(reverse("project-storyboard", args=[project.pk]))
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["shots"] == [
        {"prompt": "A fox", "duration": 4, "opening": "cut"}
    ]
