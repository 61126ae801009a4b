"""Media through the storage API: served and copied the same from disk and from a real S3."""

import io
import os
import runpy
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, default_storage, filesystem
from django.urls import reverse

from projects import access
from projects.files import local_copy, save_file
from projects.models import Export, Reference, Take
from tests.factories import make_project
from tests.s3 import closed_port, use_s3

pytestmark = pytest.mark.django_db

CLIP = os.urandom(200_000)


class NoPathStorage(FileSystemStorage):
    """Files on disk whose `path()` raises NotImplementedError, as on S3, to any caller but
    FileSystemStorage's own methods, which are built on it."""

    def path(self, name):
        if sys._getframe(1).f_code.co_filename == filesystem.__file__:
            return super().path(name)
        raise NotImplementedError("This storage has no local paths.")


@pytest.fixture
def no_path_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.test_storage.NoPathStorage"},
    }


def make_take(user):
    project = make_project(user, shots=[("A lighthouse", "cut")])
    take = Take.objects.create(shot=project.shots.get(), status=Take.Status.DONE)
    save_file(take.video, "clip.mp4", io.BytesIO(CLIP))
    return take


def video_url(take):
    return reverse("take-file", args=[take.shot.project_id, take.pk, "video"])


def test_s3_media_is_served_by_a_redirect_to_a_signed_link(client_of, user, s3):
    take = make_take(user)
    assert s3.read(take.video.name) == CLIP

    response = client_of.get(video_url(take))

    assert response.status_code == 302
    link = response["Location"]
    assert link.startswith(f"{s3.endpoint_url}/{s3.name}/") and "X-Amz-Signature=" in link
    fetched = httpx.get(link)
    assert fetched.status_code == 200 and fetched.content == CLIP
    assert fetched.headers["Content-Type"] == "video/mp4"
    # The signed link seeks like the app's own responses do.
    part = httpx.get(link, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == CLIP[100:200]


def test_an_export_on_s3_downloads_under_its_own_name(client_of, user, s3):
    project = make_project(user, title="Autumn valley")
    export = Export.objects.create(project=project, status=Export.Status.DONE)
    save_file(export.file, "joined.mp4", io.BytesIO(CLIP))

    response = client_of.get(reverse("export-download", args=[project.pk, export.pk]))

    assert response.status_code == 302
    fetched = httpx.get(response["Location"])
    assert fetched.content == CLIP
    disposition = fetched.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="autumn-valley-{export.pk}.mp4"'


def test_a_share_link_reaches_s3_media_only_through_the_access_check(client, user, s3):
    take = make_take(user)
    project = take.shot.project
    shared = reverse("shared-take-file", args=[project.view_link().token, take.pk, "video"])

    assert httpx.get(client.get(shared)["Location"]).content == CLIP
    # Without the link, the project's own address gives nothing away, not even a redirect.
    assert client.get(video_url(take)).status_code == 404


def test_a_provider_fetches_a_reference_video_from_s3_through_the_app(client, user, s3):
    # The provider reaches this app (PUBLIC_BASE_URL), not necessarily the bucket.
    project = make_project(user, shots=[("A lighthouse", "cut")])
    reference = Reference(shot=project.shots.get(), kind=Reference.Kind.VIDEO)
    save_file(reference.file, "waves.mp4", io.BytesIO(CLIP))
    token = access.input_token(reference, "file")

    response = client.get(reverse("provider-input", args=[token]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CLIP
    ranged = client.get(reverse("provider-input", args=[token]), HTTP_RANGE="bytes=0-9")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == CLIP[:10]


def test_s3_never_overwrites_a_stored_name(user, s3):
    take = make_take(user)
    first = take.video.name
    assert save_file(take.video, "clip.mp4", io.BytesIO(b"again")) != first
    assert s3.read(first) == CLIP


def test_local_media_answers_range_requests_without_local_paths(client_of, user, no_path_storage):
    take = make_take(user)
    url = video_url(take)
    with pytest.raises(NotImplementedError):
        take.video.path  # noqa: B018

    whole = client_of.get(url)
    assert whole.status_code == 200 and whole["Content-Length"] == str(len(CLIP))
    assert b"".join(whole.streaming_content) == CLIP
    part = client_of.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(CLIP)}"
    assert b"".join(part.streaming_content) == CLIP[100:200]
    tail = client_of.get(url, HTTP_RANGE="bytes=-50")
    assert b"".join(tail.streaming_content) == CLIP[-50:]
    assert client_of.get(url, HTTP_RANGE=f"bytes={len(CLIP)}-").status_code == 416


def test_a_local_export_downloads_under_its_own_name(client_of, user, no_path_storage):
    project = make_project(user, title="Autumn valley")
    export = Export.objects.create(project=project, status=Export.Status.DONE)
    save_file(export.file, "joined.mp4", io.BytesIO(CLIP))

    response = client_of.get(reverse("export-download", args=[project.pk, export.pk]))

    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="autumn-valley-{export.pk}.mp4"'
    assert b"".join(response.streaming_content) == CLIP


def test_a_file_gone_from_storage_is_not_found(client_of, user, no_path_storage):
    take = make_take(user)
    default_storage.delete(take.video.name)
    assert client_of.get(video_url(take)).status_code == 404


def test_a_local_copy_of_s3_media_is_a_temporary_file(user, s3):
    take = make_take(user)
    with local_copy(take.video) as path:
        assert path.endswith(".mp4")
        assert Path(path).read_bytes() == CLIP
    assert not os.path.exists(path)


def test_a_local_copy_without_local_paths_is_a_temporary_file(user, no_path_storage):
    take = make_take(user)
    with local_copy(take.video, suffix=".bin") as path:
        assert path.endswith(".bin")
        assert Path(path).read_bytes() == CLIP
    assert not os.path.exists(path)
    assert default_storage.open(take.video.name).read() == CLIP


def test_a_local_copy_on_disk_is_the_stored_file_itself(user, media_root):
    take = make_take(user)
    with local_copy(take.video) as path:
        assert Path(path) == media_root / take.video.name
        assert Path(path).read_bytes() == CLIP
    assert os.path.exists(path)


def test_save_file_stores_a_file_from_a_path(user, tmp_path, s3):
    take = make_take(user)
    poster = tmp_path / "poster.jpg"
    poster.write_bytes(b"jpeg bytes")
    name = save_file(take.poster, "poster.jpg", poster)
    take.refresh_from_db()
    assert take.poster.name == name and s3.read(name) == b"jpeg bytes"


def test_healthz_says_ok_on_the_defaults(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert not default_storage.exists("healthz")  # nothing written per probe


def test_healthz_says_ok_on_s3(client, s3):
    response = client.get(reverse("healthz"))
    assert response.json() == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert response.status_code == 200


def test_healthz_names_the_storage_when_its_endpoint_is_unreachable(client, settings):
    use_s3(settings, f"http://127.0.0.1:{closed_port()}", "media-gone")

    started = time.monotonic()
    response = client.get(reverse("healthz"))

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    answer = response.json()
    assert answer["database"] == "ok" and answer["broker"] == "ok"
    assert "Could not connect to the endpoint URL" in answer["storage"]


def test_healthz_answers_in_time_when_a_check_hangs(client, monkeypatch):
    from projects import health

    monkeypatch.setattr(health, "TIMEOUT", 0.2)
    monkeypatch.setitem(health.CHECKS, "broker", lambda: time.sleep(2))

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["broker"] == "no answer within 0.2 s"


def test_media_on_s3_needs_a_bucket(monkeypatch):
    settings_file = Path(django_settings.BASE_DIR) / "storyboard" / "settings.py"
    monkeypatch.setenv("MEDIA_STORAGE", "s3")
    monkeypatch.delenv("AWS_STORAGE_BUCKET_NAME", raising=False)
    with pytest.raises(ImproperlyConfigured, match="AWS_STORAGE_BUCKET_NAME"):
        runpy.run_path(str(settings_file))

    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "storyboard-media")
    configured = runpy.run_path(str(settings_file))
    assert configured["STORAGES"]["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert configured["AWS_S3_FILE_OVERWRITE"] is False
    assert configured["AWS_QUERYSTRING_AUTH"] is True
    assert configured["AWS_DEFAULT_ACL"] is None
