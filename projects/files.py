"""Stored media through Django's storage API only, so it works the same on disk and on S3.

Nothing here asks a storage for `.path` except `local_copy`, and only as a shortcut.
"""

import mimetypes
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import PurePath

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

from . import media


def storage_errors():
    """What storage raises when it cannot be reached or refuses: OSError, and botocore's
    errors once S3 storage has loaded it (never imported here: it is slow to import)."""
    errors = (OSError,)
    boto = sys.modules.get("botocore.exceptions")
    if boto is not None:
        errors += (boto.BotoCoreError, boto.ClientError)
    return errors


RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 1 << 16


# What may be shown in the browser rather than saved: pictures (not SVG, a document that
# can carry scripts), video, sound and the printed storyboard.
INLINE = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "video/",
    "audio/",
    "application/pdf",
)


def serve(request, field_file, *, filename=None, attachment=False, redirect=True):
    """A response for a stored file: a redirect to it where the storage hands out its own
    (signed, expiring) links, else its bytes, honouring Range so browsers can seek.

    redirect=False always streams the bytes through this app, for a client that can
    reach the app but maybe not the storage (a provider fetching its inputs)."""
    storage, name = field_file.storage, field_file.name
    filename = filename or os.path.basename(name)
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if not attachment and not content_type.startswith(INLINE):
        # Only media is shown where it is: anything else (a stored file named .html or
        # .svg by whoever sent it) would run as a page of this site. It is saved instead.
        content_type, attachment = "application/octet-stream", True
    disposition = content_disposition_header(attachment, filename)
    url = _absolute_url(storage, name) if redirect else None
    if url is not None:
        if attachment:
            # Given to S3 in the signed link, so the download keeps its name (and is one).
            parameters = {"ResponseContentDisposition": disposition}
            if content_type == "application/octet-stream":
                parameters["ResponseContentType"] = content_type
            url = storage.url(name, parameters=parameters)
        return HttpResponseRedirect(url)
    try:
        size = storage.size(name)
    except FileNotFoundError:
        raise Http404("The file is gone from storage.") from None
    match = RANGE.match(request.headers.get("Range", "").strip())
    if not match or not any(match.groups()):
        response = FileResponse(
            storage.open(name, "rb"),
            as_attachment=attachment,
            filename=filename,
            content_type=content_type,
        )
        response["Content-Length"] = str(size)
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
        _read(storage, name, start, end - start + 1), status=206, content_type=content_type
    )
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = disposition
    return response


def _absolute_url(storage, name):
    """The storage's own http(s) link to the file, or None when it has none to give.

    FileSystemStorage answers with MEDIA_URL, a relative path no route serves."""
    try:
        url = storage.url(name)
    except (NotImplementedError, ValueError):
        return None
    return url if url.startswith(("https://", "http://")) else None


def _read(storage, name, start, length):
    with storage.open(name, "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk


@contextmanager
def local_copy(field_file, suffix=""):
    """A path on this machine holding the stored file's bytes, for code (PyAV) that needs one.

    Read it, never change it: on local storage it is the stored file itself. Elsewhere it is
    a temporary copy, removed afterwards; it ends in `suffix`, by default the stored name's
    extension, since some readers go by it.
    """
    storage, name = field_file.storage, field_file.name
    try:
        path = storage.path(name)
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    descriptor, path = tempfile.mkstemp(suffix=suffix or PurePath(name).suffix)
    try:
        with os.fdopen(descriptor, "wb") as copy, storage.open(name, "rb") as stored:
            shutil.copyfileobj(stored, copy, CHUNK)
        yield path
    finally:
        os.unlink(path)


def save_file(field_file, name, source, *, save=True):
    """Store a local file (a path, or an open binary file) as `field_file` under `name`.

    Returns the name it was stored under: storage never overwrites, so it may differ."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            field_file.save(name, File(f), save=save)
    else:
        field_file.save(name, File(source), save=save)
    return field_file.name


def fitted_upload(upload, max_bytes):
    """An uploaded image as every provider can take it: the upload itself when it already
    fits, else a new file of the fitted bytes, named for their format. Raises MediaError,
    for a picture of more than MAX_IMAGE_PIXELS before it decodes.

    The upload is decoded from where it is (a temporary file, for a large one), never
    read into memory whole."""
    upload.seek(0)
    name = f"'{PurePath(upload.name).name}'"
    fitted, mime = media.fit_image(upload, max_bytes, settings.MAX_IMAGE_PIXELS, name)
    # Named for what it is, never for what its sender called it: a picture named
    # page.html would otherwise be stored, and served, as a page.
    suffix = SUFFIXES[mime]
    if fitted is upload:
        upload.name = PurePath(upload.name).stem + suffix
        return upload
    return ContentFile(fitted, name=PurePath(upload.name).stem + suffix)


SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
