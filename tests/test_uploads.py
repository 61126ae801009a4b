"""Uploads: pictures of too many pixels are refused with the reason, before anything
decodes or stores them, wherever they come from; pictures that fit are not read whole."""

import functools
import io
import json
import os
import struct
import tracemalloc
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image

from projects import pipeline
from projects.files import fitted_upload
from projects.models import Opening, Reference, Shot, Take
from projects.providers import MAX_IMAGE_BYTES
from projects.providers.style import Style
from tests.factories import make_project
from tests.test_references import post_shot

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
