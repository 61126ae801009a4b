"""Writing an MP4 atomically: into a hidden file beside the destination, renamed when complete."""

import os
import threading
import uuid
from pathlib import Path

import av
from av.container import OutputContainer

from .errors import MediaError


class AtomicMp4:
    """An MP4 being written; `path` only ever holds a complete file.

    Use as a context manager: leaving normally finishes the file and renames it into place,
    leaving with an exception deletes it. Writing failures are raised as MediaError.
    Streams may be written from two threads (picture and sound) once start() was called.
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._part = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.part")
        # faststart puts the index first so browsers can start playing before the download ends.
        # A movie timescale of 48 kHz states durations of whole frames (at 24, 25, 30, 50 or
        # 60 fps) and samples exactly, where the default of milliseconds rounds them.
        try:
            self.container: OutputContainer = av.open(
                str(self._part),
                "w",
                format="mp4",
                container_options={"movflags": "+faststart", "movie_timescale": "48000"},
            )
        except av.FFmpegError as exc:
            raise self._failed(exc) from exc
        self._lock = threading.Lock()

    def start(self) -> None:
        """Write the header: every stream must have been added, and none can be after."""
        try:
            self.container.start_encoding()
        except av.FFmpegError as exc:
            raise self._failed(exc) from exc

    def mux(self, packets) -> None:
        try:
            with self._lock:
                self.container.mux(packets)
        except av.FFmpegError as exc:
            raise self._failed(exc) from exc

    def encode(self, stream, frame=None) -> None:
        """Encode `frame` (None flushes the encoder) and write what the encoder returns."""
        try:
            packets = stream.encode(frame)
        except av.FFmpegError as exc:
            raise self._failed(exc) from exc
        self.mux(packets)

    def __enter__(self) -> "AtomicMp4":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            try:
                self.container.close()
            except av.FFmpegError as close_exc:
                if exc_type is None:
                    raise self._failed(close_exc) from close_exc
            if exc_type is None:
                os.replace(self._part, self.path)
        finally:
            self._part.unlink(missing_ok=True)

    def _failed(self, exc: av.FFmpegError) -> MediaError:
        return MediaError(f"Could not write '{self.path.name}' ({exc.strerror}).")
