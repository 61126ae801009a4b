"""How large an upload may be: a limit per kind of file, a file past every limit never kept,
and a request body past everything a shot may carry refused before it is read."""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

MB = 1024 * 1024
KINDS = {"image": "an image", "video": "a video", "audio": "an audio file"}
# The most files of each kind one shot carries: its first and last frames, and references
# (pipeline.problems says how many of each).
SHOT_FILES = {"image": 2 + 9, "video": 3, "audio": 3}


def limit(kind):
    """The most bytes a file of `kind` ("image", "video" or "audio") may have."""
    return getattr(settings, f"MAX_{kind.upper()}_MB") * MB


def largest():
    """The most bytes any uploaded file may have, whatever its kind."""
    return max(limit(kind) for kind in KINDS)


def largest_request():
    """The most bytes a request body may have: a shot with every file it may carry at
    its limit, and its fields."""
    files = sum(count * limit(kind) for kind, count in SHOT_FILES.items())
    return files + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large(size, kind=None, name="The file"):
    """Why a file of `size` bytes may not be uploaded as `kind` (None: as anything), or None."""
    most = limit(kind) if kind else largest()
    if size <= most:
        return None
    what = KINDS[kind] if kind else "an upload"
    return f"{name} is {size / MB:.1f} MB: {what} may be at most {most / MB:g} MB."


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Django's own: each file streamed to a temporary file as it arrives. But once a file
    passes the largest limit, it is dropped and only counted, so the form can say how
    large it was without the disk filling up with it."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.refused = False

    def receive_data_chunk(self, raw_data, start):
        if not self.refused and start + len(raw_data) > largest():
            self.refused = True
            self.file.close()  # a temporary file: gone once closed
        if self.refused:
            return None
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        if self.refused:
            return RefusedUpload(self.file_name, self.content_type, file_size)
        return super().file_complete(file_size)


class UploadTooLarge(Exception):
    """Reading a refused upload: a form says why first; elsewhere the answer is 413
    (projects.middleware.refused_uploads)."""


class RefusedUpload(UploadedFile):
    """A file past every limit: its name and size, and none of its bytes."""

    def __init__(self, name, content_type, size):
        message = too_large(size, name=f"'{name}'")
        super().__init__(_Unreadable(message), name, content_type, size)


class _Unreadable(io.RawIOBase):
    def __init__(self, message):
        super().__init__()
        self.message = message

    def readable(self):
        return True

    def readinto(self, buffer):
        raise UploadTooLarge(self.message)


class BodyLimit:
    """ASGI: a request whose body is larger than largest_request() gets 413 before it is
    read, since Django reads a whole body (to a temporary file) before anything looks at
    it; a body without a length is cut off where it passes the limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        most = largest_request()
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > most:
            return await _refuse(send, most)
        received, over, answered = 0, False, False

        async def counted():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > most:
                    over = True
                    return {"type": "http.disconnect"}  # Django stops reading, answers nothing
            return message

        async def sending(message):
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, sending)
        if over and not answered:
            await _refuse(send, most)


async def _refuse(send, most):
    body = (f"The request is larger than anything this app takes ({most / MB:.0f} MB).\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
