"""The API's exports, storyboard file, comments and cast: what the web does, with the
web's forms' messages, its access rules and its pipeline, answered as JSON."""

import io
import json
import zipfile

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from PIL import Image

from projects.models import AccessToken, CastMember, Comment, Export, Membership, Project, Role
from tests.factories import make_project, make_takes, make_user

pytestmark = pytest.mark.django_db

API = "/api/v1"


def bearer(user, **limits):
    return Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.make(user, 'test', **limits)[1]}")


def picture(name="face.png", colour=(200, 120, 90)):
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


@pytest.fixture
def ada():
    return make_user("ada")


@pytest.fixture
def crew(ada):
    """ada's project with two continuing shots, each with a finished take; bob edits and
    cy views in her team."""
    project = make_project(
        ada, shots=[("A lighthouse at dusk", "cut"), ("The beam turns", "continue")]
    )
    make_takes(project)
    for name, role in (("bob", Role.EDITOR), ("cy", Role.VIEWER)):
        Membership.objects.create(team=project.team, user=make_user(name), role=role)
    return project


def post_json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


# Exports


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A context in which what a request hands over once its transaction commits is handed
    over (the test's own transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_an_export_is_queued_rendered_by_the_worker_and_downloaded(ada, crew, worker, committed):
    client = bearer(ada)
    with committed():
        made = post_json(client, f"{API}/projects/{crew.pk}/exports", {"format": "mp4"})
    assert made.status_code == 202, made.content
    export = made.json()
    assert export["status"] == "queued" and export["download"] is None and not export["joined"]
    # Nothing is rendered in the request: the worker does it.
    assert Export.objects.get(pk=export["id"]).status == Export.Status.QUEUED
    again = post_json(client, f"{API}/projects/{crew.pk}/exports", {"format": "mp4"})
    assert again.json()["id"] == export["id"] and again.json()["joined"]

    worker.drain()
    status = client.get(f"{API}/projects/{crew.pk}/exports/{export['id']}").json()
    assert status["status"] == "done" and status["progress"] == 1.0 and status["error"] == ""
    assert status["duration"] == pytest.approx(8.0, abs=0.1)
    download = client.get(status["download"])
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    with av.open(io.BytesIO(b"".join(download.streaming_content))) as video:
        assert float(video.duration / 1_000_000) == pytest.approx(8.0, abs=0.1)


def test_every_format_of_the_command_line_is_offered_timelines_too(ada, crew, worker, committed):
    client = bearer(ada)
    for format in Export.Format.values:
        with committed():
            made = post_json(client, f"{API}/projects/{crew.pk}/exports", {"format": format})
        assert made.status_code == 202, (format, made.content)
    worker.drain()
    page = client.get(f"{API}/projects/{crew.pk}/exports?page_size=4").json()
    assert page["count"] == len(Export.Format.values) and len(page["items"]) == 4
    otio = Export.objects.get(project=crew, format="otio")
    assert otio.status == Export.Status.DONE, otio.error
    body = b"".join(
        client.get(f"{API}/projects/{crew.pk}/exports/{otio.pk}/download").streaming_content
    )
    assert b"OTIO_SCHEMA" in body


def test_an_export_is_refused_with_the_pages_messages(ada, crew):
    client = bearer(ada)
    url = f"{API}/projects/{crew.pk}/exports"
    wrong = post_json(client, url, {"format": "gif"})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invalid"
    assert wrong.json()["fields"] == {
        "format": ["Select a valid choice. gif is not one of the available choices."]
    }
    not_ready = post_json(client, url, {"format": "mp4", "kind": "final"})
    assert not_ready.status_code == 409
    assert not_ready.json()["message"].startswith(
        "Nothing to export yet: shot 1, 2 has no finished final"
    )
    viewer = post_json(bearer(Membership.objects.get(role=Role.VIEWER).user), url, {})
    assert viewer.status_code == 403
    assert viewer.json()["message"] == "Only owners and editors can export."
    read_only = post_json(bearer(ada, read_only=True), url, {})
    assert read_only.status_code == 403
    stranger = post_json(bearer(make_user("eve")), url, {})
    assert stranger.status_code == 404
    assert not Export.objects.exists()


def test_a_download_before_the_export_is_done_says_so(ada, crew):
    client = bearer(ada)
    export = post_json(client, f"{API}/projects/{crew.pk}/exports", {"format": "mp4"}).json()
    early = client.get(f"{API}/projects/{crew.pk}/exports/{export['id']}/download")
    assert early.status_code == 409
    assert early.json() == {
        "code": "not_done",
        "message": "The export is queued; download it once it is done.",
    }


def test_exports_are_counted_at_the_sites_rate(ada, crew, settings):
    settings.EXPORT_RATE = "1/h"
    client = bearer(ada)
    url = f"{API}/projects/{crew.pk}/exports"
    assert post_json(client, url, {"format": "mp4"}).status_code == 202
    refused = post_json(client, url, {"format": "srt"})
    assert refused.status_code == 429
    assert refused.json()["message"].startswith("Too many exports: at most 1 an hour.")
    assert int(refused["Retry-After"]) > 0


# The storyboard file


def test_the_storyboard_file_is_the_pages_and_imports_back_as_a_new_project(ada, crew):
    client = bearer(ada)
    out = client.get(f"{API}/projects/{crew.pk}/storyboard")
    assert out.status_code == 200 and out["Content-Type"] == "application/json"
    web = Client()
    web.force_login(ada)
    page = web.get(reverse("project-storyboard", args=[crew.pk]))
    assert out.json() == json.loads(page.content)

    sent = SimpleUploadedFile("harbour.json", out.content, content_type="application/json")
    made = client.post(f"{API}/projects/import", {"file": sent, "title": "Harbour again"})
    assert made.status_code == 201, made.content
    project = Project.objects.get(pk=made.json()["id"])
    assert made.json() == {
        "id": project.pk,
        "title": "Harbour again",
        "team": crew.team_id,
        "shots": 2,
    }
    assert [s.prompt for s in project.shots.in_order()] == [
        "A lighthouse at dusk",
        "The beam turns",
    ]


def test_a_storyboard_with_pictures_comes_as_a_zip_and_imports_back(ada, crew):
    client = bearer(ada)
    made = client.post(f"{API}/projects/{crew.pk}/cast", {"name": "Mara", "images": [picture()]})
    assert made.status_code == 201, made.content
    out = client.get(f"{API}/projects/{crew.pk}/storyboard")
    assert out["Content-Type"] == "application/zip"
    bundle = b"".join(out.streaming_content)
    assert "storyboard.json" in zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    sent = SimpleUploadedFile("harbour.zip", bundle, content_type="application/zip")
    again = client.post(f"{API}/projects/import", {"file": sent})
    assert again.status_code == 201, again.content
    imported = Project.objects.get(pk=again.json()["id"])
    assert [m.name for m in imported.cast.all()] == ["Mara"]
    assert imported.cast.get().images.count() == 1


def test_an_import_is_refused_as_the_command_line_refuses_it(ada, crew):
    client = bearer(ada)
    cases = {
        b'{"title": "T", "shots": []}': '"shots" must be a non-empty list.',
        b'{"title": "T", "shots": [{"prompt": "A", "opening": "continue"}]}': (
            "shot 1: the first shot cannot continue; make it a cut."
        ),
        b"not json": "board.json: cannot read it as JSON",
        b'{"title": "T", "shots": [{"prompt": "A", "first_frame": "../x.png"}]}': (
            "outside the storyboard file's folder"
        ),
    }
    for content, message in cases.items():
        sent = SimpleUploadedFile("board.json", content, content_type="application/json")
        refused = client.post(f"{API}/projects/import", {"file": sent})
        assert refused.status_code == 422, content
        assert refused.json()["code"] == "invalid_storyboard"
        assert message in refused.json()["message"], refused.json()
        assert "/tmp" not in refused.json()["message"]
    assert Project.objects.count() == 1
    good = b'{"title": "T", "shots": [{"prompt": "A"}]}'
    sent = SimpleUploadedFile("board.json", good)
    read_only = bearer(ada, read_only=True).post(f"{API}/projects/import", {"file": sent})
    assert read_only.status_code == 403
    viewer = Membership.objects.get(role=Role.VIEWER)
    sent.seek(0)
    in_their_team = bearer(viewer.user).post(
        f"{API}/projects/import", {"file": sent, "team": viewer.team_id}
    )
    assert in_their_team.status_code == 403
    assert Project.objects.count() == 1


def test_a_viewer_only_member_imports_no_project_as_they_create_none(ada, crew):
    """Someone who only views in their one team makes no project there: not by import
    (nor in a team of their own made on the way), as not by create."""
    from django.contrib.auth import get_user_model

    dee = get_user_model().objects.create_user("dee")
    Membership.objects.create(team=crew.team, user=dee, role=Role.VIEWER)
    client = bearer(dee)
    good = b'{"title": "T", "shots": [{"prompt": "A"}]}'
    refused = client.post(f"{API}/projects/import", {"file": SimpleUploadedFile("b.json", good)})
    assert refused.status_code == 403, refused.content
    assert refused.json()["message"] == "You make projects in no team: ask an owner."
    created = post_json(client, f"{API}/projects/", {"title": "T"})
    assert created.status_code == 422
    assert Project.objects.count() == 1 and dee.teams.count() == 1


# Comments


def test_comments_are_written_and_read_a_page_at_a_time(ada, crew, settings):
    settings.COMMENT_RATE = "3/m"
    bob = Membership.objects.get(role=Role.EDITOR).user
    shot = crew.shots.in_order().first()
    url = f"{API}/projects/{crew.pk}/shots/{shot.pk}/comments"
    client = bearer(bob)
    made = post_json(client, url, {"body": "  @ada the beam is late  "})
    assert made.status_code == 201, made.content
    assert made.json()["body"] == "@ada the beam is late" and made.json()["who"] == "bob"
    assert ada.mentions.get().comment_id == made.json()["id"]
    empty = post_json(client, url, {"body": "   "})
    assert empty.status_code == 422
    assert empty.json()["message"] == "Write something to comment."
    long = post_json(client, url, {"body": "x" * 7000})
    assert long.json()["message"].startswith("A comment of at most")
    too_many = post_json(client, url, {"body": "again"})
    assert too_many.status_code == 429
    assert Comment.objects.count() == 1
    cy = Membership.objects.get(role=Role.VIEWER).user
    assert post_json(bearer(cy), url, {"body": "Lovely"}).status_code == 201
    assert post_json(bearer(cy, read_only=True), url, {"body": "No"}).status_code == 403
    page = bearer(ada).get(f"{API}/projects/{crew.pk}/comments?page_size=1").json()
    assert page["count"] == 2 and [c["who"] for c in page["items"]] == ["bob"]
    of_shot = bearer(ada).get(url).json()
    assert [c["body"] for c in of_shot["items"]] == ["@ada the beam is late", "Lovely"]
    assert bearer(make_user("eve")).get(url).status_code == 404


# The cast


def test_the_cast_is_made_renamed_and_deleted_as_on_the_cast_page(ada, crew):
    client = bearer(ada)
    url = f"{API}/projects/{crew.pk}/cast"
    shot = crew.shots.in_order().first()
    shot.prompt = "@Mara walks to the lighthouse"
    shot.save()
    made = client.post(url, {"name": "@Mara", "kind": "character", "images": [picture()]})
    assert made.status_code == 201, made.content
    member = made.json()
    assert member["name"] == "Mara" and member["shots"] == [1] and len(member["images"]) == 1
    image = client.get(member["images"][0])
    assert image.status_code == 200 and b"".join(image.streaming_content)[:4] == b"\x89PNG"

    twice = client.post(url, {"name": "mara", "images": [picture()]})
    assert twice.status_code == 422
    assert twice.json()["fields"]["name"] == ["The cast already has a member called mara."]
    no_picture = client.post(url, {"name": "Jon"})
    assert no_picture.json()["fields"]["images"] == ["Give 1 to 4 pictures."]
    not_a_picture = client.post(
        url, {"name": "Jon", "images": [SimpleUploadedFile("x.png", b"nope")]}
    )
    assert not_a_picture.status_code == 422
    voice_of_a_place = client.post(
        url,
        {
            "name": "Quay",
            "kind": "location",
            "images": [picture()],
            "voice": SimpleUploadedFile("v.wav", b"RIFF"),
        },
    )
    assert voice_of_a_place.status_code == 422

    member_url = f"{url}/{member['id']}"
    # A form, as pictures are files: multipart, here with a new picture.
    form = encode_multipart(BOUNDARY, {"name": "Mira", "images": [picture(colour=(9, 9, 9))]})
    renamed = client.patch(member_url, form, content_type=MULTIPART_CONTENT)
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["name"] == "Mira"
    assert renamed.json()["images"] != member["images"]
    described = client.patch(
        member_url, "description=Tall", content_type="application/x-www-form-urlencoded"
    )
    assert described.json()["description"] == "Tall" and described.json()["name"] == "Mira"
    shot.refresh_from_db()
    assert shot.prompt == "@Mira walks to the lighthouse"
    viewer = Membership.objects.get(role=Role.VIEWER).user
    assert bearer(viewer).delete(member_url).status_code == 403
    assert bearer(viewer).get(url).json()["items"][0]["name"] == "Mira"

    in_use = client.delete(member_url)
    assert in_use.status_code == 409
    assert in_use.json()["message"].startswith("Mira is in shot 1.")
    assert client.delete(f"{member_url}?confirm=true").status_code == 204
    assert not CastMember.objects.exists()


def test_a_read_only_token_of_someone_in_no_team_imports_nothing_and_makes_no_team(db):
    """A read-only token changes nothing, even where import would make a team of its
    owner's own on the way (they are in none)."""
    from django.contrib.auth import get_user_model

    fay = get_user_model().objects.create_user("fay")
    good = b'{"title": "T", "shots": [{"prompt": "A"}]}'
    refused = bearer(fay, read_only=True).post(
        f"{API}/projects/import", {"file": SimpleUploadedFile("b.json", good)}
    )
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "forbidden"
    assert not Project.objects.exists() and not fay.teams.exists()
