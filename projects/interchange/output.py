"""Handing a finished file to its destination: a path, replaced whole, or an open binary file."""

import os
import uuid
from pathlib import Path


def deliver(data: bytes, out) -> None:
    """Write `data` to `out`: a writable binary file, or a path that only ever holds whole files."""
    if hasattr(out, "write"):
        out.write(data)
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
