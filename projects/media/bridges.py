"""Prepared bridges: the frames a smart render encodes, kept so a join need not encode them.

A bridge that shows only one clip's frames (the start of a continuing clip after its
dropped first frame, a trim inside a GOP) depends on nothing but that GOP's packets, the
frames kept of it and the format it is encoded to. Its key is a digest of exactly those,
so a stored bridge is right for any join that asks for the same key, whatever the file
is called or wherever it sits, and a changed input can only miss, never be wrong.

    key = bridge_key(packets, first, last, fingerprint)
    store.get(key) -> bytes | None ; store.put(key, pack(encoded))

A store is anything with those two methods: Folder (a directory, bounded by size) here;
the app keeps them in its media storage, where every worker finds them.
"""

import hashlib
import os
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import MediaError

MAGIC = b"SBBRIDGE1\n"
_RECORD = struct.Struct(">iBI")  # pts within the bridge, keyframe flag, length of data


@dataclass(frozen=True)
class Encoded:
    """One packet of a bridge, in decode order: its data as the track stores it."""

    pts: int  # display index within the bridge, 0 for its first frame
    keyframe: bool
    data: bytes


class Bridges(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


def bridge_key(packets: Iterable[bytes], first: int, last: int, fingerprint: bytes) -> str:
    """The key of frames first..last (within the GOP) of the GOP made of `packets`,
    encoded in the format `fingerprint` describes."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(MAGIC + fingerprint + struct.pack(">ii", first, last))
    for data in packets:
        digest.update(struct.pack(">I", len(data)))
        digest.update(data)
    return digest.hexdigest()


def pack(encoded: list[Encoded]) -> bytes:
    parts = [MAGIC]
    for packet in encoded:
        parts.append(_RECORD.pack(packet.pts, packet.keyframe, len(packet.data)))
        parts.append(packet.data)
    return b"".join(parts)


def unpack(data: bytes) -> list[Encoded]:
    """The packets of a stored bridge; MediaError if it is not one (a damaged store)."""
    if not data.startswith(MAGIC):
        raise MediaError("A prepared bridge is damaged.")
    out, at = [], len(MAGIC)
    while at < len(data):
        if at + _RECORD.size > len(data):
            raise MediaError("A prepared bridge is damaged.")
        pts, keyframe, size = _RECORD.unpack_from(data, at)
        at += _RECORD.size
        if at + size > len(data):
            raise MediaError("A prepared bridge is damaged.")
        out.append(Encoded(pts, bool(keyframe), data[at : at + size]))
        at += size
    return out


class Folder:
    """Bridges as files in a directory, the least recently used removed beyond `limit` bytes."""

    def __init__(self, path, limit: int = 2 << 30) -> None:
        self.path, self.limit = Path(path), limit

    def get(self, key: str) -> bytes | None:
        file = self._file(key)
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            return None
        os.utime(file)  # used: the last to go
        return data

    def put(self, key: str, data: bytes) -> None:
        file = self._file(key)
        file.parent.mkdir(parents=True, exist_ok=True)
        part = file.with_name(f".{file.name}.{uuid.uuid4().hex[:8]}")
        part.write_bytes(data)
        os.replace(part, file)  # readers see a whole bridge or none
        self._prune()

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.bridge"

    def _prune(self) -> None:
        files = []
        for file in self.path.glob("*/*.bridge"):
            try:
                stat = file.stat()
            except FileNotFoundError:  # pruned by another process meanwhile
                continue
            files.append((stat.st_mtime, stat.st_size, file))
        total = sum(size for _, size, _ in files)
        for _, size, file in sorted(files):
            if total <= self.limit:
                break
            file.unlink(missing_ok=True)
            total -= size
