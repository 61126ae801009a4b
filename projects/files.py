"""Serving stored media with HTTP range requests, so browsers can seek in a clip."""

import mimetypes
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from . import media

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 1 << 16


def ranged_file_response(request, path):
    size = os.path.getsize(path)
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    match = RANGE.match(request.headers.get("Range", "").strip())
    if not match or not any(match.groups()):
        response = FileResponse(open(path, "rb"), content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start > end or start >= size:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    response = StreamingHttpResponse(
        _read(path, start, end - start + 1), status=206, content_type=content_type
    )
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def _read(path, start, length):
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk


try:  # what S3 storage raises when it cannot be reached or refuses
    from botocore.exceptions import BotoCoreError, ClientError

    STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)
except ImportError:
    STORAGE_ERRORS = (OSError,)


@contextmanager
def local_copy(field_file, suffix=""):
    """A local path holding a stored file's bytes, for media code that needs a path."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        with field_file.open("rb") as stored:
            shutil.copyfileobj(stored, copy, CHUNK * 16)
        copy.flush()
        yield copy.name


def fitted_upload(upload, max_bytes):
    """An uploaded image as every provider can take it: the upload itself when it already
    fits, else a new file of the fitted bytes, named for their format. Raises MediaError."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    fitted, mime = media.fit_image(data, max_bytes)
    if fitted is data:
        return upload
    suffix = ".png" if mime == "image/png" else ".jpg"
    return ContentFile(fitted, name=PurePath(upload.name).stem + suffix)
