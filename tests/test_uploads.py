"""Uploads: pictures of too many pixels and files past their kind's limit are refused with
the reason, before anything decodes or stores them, wherever they come from."""

import asyncio
import functools
import io
import json
import os
import socket
import struct
import tracemalloc
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from PIL import Image

from projects import pipeline
from projects.files import fitted_upload
from projects.models import Opening, Reference, Shot, Take
from projects.providers import MAX_IMAGE_BYTES
from projects.providers.style import Style
from projects.uploads import largest_request
from storyboard.asgi import application
from tests.factories import make_project
from tests.test_references import png, post_shot, reachable, wav  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
TOO_MANY = "an image may have at most 40 megapixels"


@functools.cache
def declared_png(width, height):
    """A PNG of a few kilobytes declaring width × height pixels (one bit each, all black),
    which would take at least width × height bytes, and seconds, to decode."""
    row = b"\0" * (1 + (width + 7) // 8)
    squeeze = zlib.compressobj(9)
    data = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(kind, body):
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


# Past the cap but under Pillow's own warning (89 MP); past Pillow's own refusal (179 MP).
BOMBS = [(8000, 8000), (20000, 20000)]


def nothing_stored(media_root):
    assert not Shot.objects.exists() and not Reference.objects.exists()
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


@pytest.mark.parametrize("size", BOMBS)
@pytest.mark.parametrize("field", ["first_frame", "last_frame_target"])
def test_a_frame_of_too_many_pixels_is_refused_before_it_decodes(
    client_of, user, media_root, field, size
):
    bomb = declared_png(*size)
    assert len(bomb) < 100_000
    response = post_shot(
        client_of, make_project(user), **{field: SimpleUploadedFile("bomb.png", bomb)}
    )
    assert response.status_code == 400
    assert TOO_MANY in response.content.decode()
    nothing_stored(media_root)


@pytest.mark.parametrize("size", BOMBS)
def test_a_reference_of_too_many_pixels_is_refused_before_it_decodes(
    client_of, user, media_root, size
):
    references = [SimpleUploadedFile("bomb.png", declared_png(*size))]
    response = post_shot(client_of, make_project(user), references)
    assert response.status_code == 400
    page = response.content.decode()
    assert "&#x27;bomb.png&#x27;" in page and TOO_MANY in page
    nothing_stored(media_root)


def test_a_storyboard_file_naming_a_picture_of_too_many_pixels_is_refused(
    user, tmp_path, media_root
):
    (tmp_path / "bomb.png").write_bytes(declared_png(20000, 20000))
    shots = [
        {"prompt": "A fox", "duration": 4, "first_frame": "bomb.png"},
        {"prompt": "A barn", "duration": 4, "opening": "cut", "references": ["bomb.png"]},
    ]
    for shot in shots:
        board = {"title": "Bombs", "shots": [shot]}
        (tmp_path / "board.json").write_text(json.dumps(board))
        with pytest.raises(CommandError, match=TOO_MANY):
            call_command("storyboard", "import", str(tmp_path / "board.json"), "--owner", "ada")
        # The same in a bundle.
        with zipfile.ZipFile(tmp_path / "board.zip", "w") as bundle:
            bundle.writestr("storyboard.json", json.dumps(board))
            bundle.write(tmp_path / "bomb.png", "bomb.png")
        with pytest.raises(CommandError, match=TOO_MANY):
            call_command("storyboard", "import", str(tmp_path / "board.zip"), "--owner", "ada")
    nothing_stored(media_root)


def test_a_gateways_last_frame_of_too_many_pixels_fails_the_take_with_the_reason(
    simulator, user, monkeypatch
):
    download = Style.download

    def bombed(self, url, suffix="", on_chunk=None):
        """The gateway's last frame, as a hostile or broken one might answer it."""
        out = download(self, url, suffix, on_chunk)
        if suffix == ".png":
            out.seek(0)
            out.truncate()
            out.write(declared_png(20000, 20000))
            out.seek(0)
        return out

    monkeypatch.setattr(Style, "download", bombed)
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    pipeline.run_here(project)
    take.refresh_from_db()
    assert take.status == Take.Status.FAILED
    assert "The last frame has more than" in take.error and TOO_MANY in take.error
    assert not take.video and not take.last_frame


@pytest.fixture
def small_limits(settings, tmp_path):
    """Limits of a few megabytes, so tests upload a few megabytes: images and videos 4 MB,
    audio 1 MB; temporary files of uploads in a folder of the test's own."""
    settings.MAX_IMAGE_MB, settings.MAX_VIDEO_MB, settings.MAX_AUDIO_MB = 4, 4, 1
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return settings.FILE_UPLOAD_TEMP_DIR


@pytest.mark.usefixtures("reachable")
def test_a_reference_past_its_kinds_limit_is_refused_and_nothing_kept(
    client_of, user, media_root, small_limits
):
    project = make_project(user)
    howl = SimpleUploadedFile("howl.wav", wav(seconds=100))  # 3.1 MB of sound
    fox = SimpleUploadedFile("fox.png", png())
    response = post_shot(client_of, project, [fox, howl])
    assert response.status_code == 400
    assert "&#x27;howl.wav&#x27; is 3.1 MB: an audio file may be at most 1 MB." in (
        response.content.decode()
    )
    nothing_stored(media_root)
    assert not any(small_limits.iterdir())  # the temporary file is gone too


@pytest.mark.usefixtures("reachable")
def test_a_file_past_every_limit_is_never_kept_and_the_form_says_how_large(
    client_of, user, media_root, small_limits, monkeypatch
):
    kept = []

    def write(self, data):  # what reaches the temporary file
        kept.append(len(data))
        return self.file.write(data)

    monkeypatch.setattr(TemporaryUploadedFile, "write", write, raising=False)
    project = make_project(user)
    howl = SimpleUploadedFile("howl.wav", wav(seconds=200))  # 6.1 MB
    response = post_shot(client_of, project, [SimpleUploadedFile("fox.png", png()), howl])
    assert response.status_code == 400
    assert "&#x27;howl.wav&#x27; is 6.1 MB: an upload may be at most 4 MB." in (
        response.content.decode()
    )
    # Streamed to a temporary file, and no more of it than the largest limit.
    assert 0 < sum(kept) <= 4 * MB + 64 * 1024
    frame = SimpleUploadedFile("fox.png", b"\0" * 5 * MB)
    response = post_shot(client_of, project, first_frame=frame)
    assert response.status_code == 400
    assert "&#x27;fox.png&#x27; is 5.0 MB: an image may be at most 4 MB." in (
        response.content.decode()
    )
    nothing_stored(media_root)
    assert not any(small_limits.iterdir())


@pytest.mark.urls("tests.upload_urls")
def test_a_refused_file_read_where_no_form_applies_answers_413(small_limits):
    big = SimpleUploadedFile("big.bin", b"\1" * 5 * MB)
    response = Client().post("/echo", {"file": big})
    assert response.status_code == 413
    assert "'big.bin' is 5.0 MB: an upload may be at most 4 MB." in response.content.decode()
    assert not any(small_limits.iterdir())


def test_an_uploaded_picture_is_fitted_without_reading_it_whole(tmp_path):
    noise = Image.frombytes("RGB", (1100, 1100), os.urandom(1100 * 1100 * 3))
    data = io.BytesIO()
    noise.save(data, "PNG", compress_level=1)
    size = data.tell()
    assert 3 * MB < size <= MAX_IMAGE_BYTES
    upload = TemporaryUploadedFile("noise.png", "image/png", size, None)
    upload.write(data.getvalue())
    del data
    upload.seek(0)
    tracemalloc.start()
    try:
        fitted = fitted_upload(upload, MAX_IMAGE_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fitted is upload  # it fits as it is
    assert peak < size / 4, f"{peak} bytes held at once for a {size}-byte upload"


def test_a_body_larger_than_any_form_takes_is_refused_before_it_is_read(web_server):
    """A request saying it carries more than a shot with every file at its limit gets 413
    at once: Django would first have read all of it to a temporary file."""
    with socket.create_connection(("127.0.0.1", web_server.port), timeout=60) as connection:
        connection.sendall(
            b"POST /projects/1/shots/new HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        answer = connection.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"larger than anything this app takes (557 MB)" in answer


def test_a_body_without_a_length_is_cut_off_past_the_limit(settings, small_limits):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MB
    most = largest_request()
    assert most == (11 * 4 + 3 * 4 + 3 * 1 + 1) * MB
    chunk = b"\0" * MB
    read, sent = [], []

    async def receive():  # a client sending a few megabytes past the limit
        read.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": sum(read) < most + 4 * MB}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/callbacks/x",
        "raw_path": b"/callbacks/x",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(application(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert sum(read) == most + MB  # read no further than past the limit
