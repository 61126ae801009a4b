"""Exports: the cut's selected takes joined into one file in media storage.

Clips are read from storage and the result written back to it, so the worker that
renders an export needs no disk in common with the one that made the takes. An export
keeps a lease like a take; one whose worker died, or that cannot be rendered, fails
with the reason instead of staying "rendering" for ever.
"""

import logging
import tempfile
from contextlib import ExitStack
from pathlib import Path

from django.core.files import File
from django.utils import timezone

from .. import media
from ..files import local_copy, storage_errors
from ..models import Export, Take
from .leases import Heartbeat, LeaseLost, beat, me, orphaned

log = logging.getLogger(__name__)
Status = Export.Status


def export(export):
    """Render a queued export, by stream copy where the clips allow."""
    if not Export.objects.filter(pk=export.pk, status=Status.QUEUED).update(
        status=Status.RUNNING, **beat()
    ):
        return
    mine = Export.objects.filter(pk=export.pk, status=Status.RUNNING, worker=me())
    heartbeat = Heartbeat(mine)
    last = [0.0]

    def progress(fraction):
        heartbeat()
        if fraction - last[0] >= 0.05:
            last[0] = fraction
            mine.update(progress=fraction)

    try:
        takes = Take.objects.in_bulk(export.takes)
        missing = [pk for pk in export.takes if pk not in takes or not takes[pk].video]
        if missing:
            raise media.MediaError(
                "A take of the cut was deleted after the export was asked for; export again."
            )
        with tempfile.TemporaryDirectory() as scratch, ExitStack() as copies:
            paths = [
                copies.enter_context(local_copy(takes[pk].video, ".mp4")) for pk in export.takes
            ]
            heartbeat()
            target = Path(scratch) / "export.mp4"
            result = media.concat(paths, target, progress=progress)
            with open(target, "rb") as f:
                name = export.file.field.generate_filename(export, export.filename())
                name = export.file.storage.save(name, File(f, name=export.filename()))
    except LeaseLost:
        log.info("export %s: another worker took it over", export.pk)
        return
    except (media.MediaError, *storage_errors()) as error:
        export.fail(error)
        return
    except Exception as error:  # nothing may leave an export rendering for ever
        log.exception("export %s failed", export.pk)
        export.fail(f"The export failed unexpectedly: {error!r}")
        return
    if not mine.update(
        status=Status.DONE,
        file=name,
        mode=result.mode,
        duration=result.duration,
        progress=1.0,
        finished_at=timezone.now(),
    ):
        export.file.storage.delete(name)


def sweep():
    """Fail the exports whose worker died while rendering them; returns how many."""
    swept = 0
    for export in Export.objects.filter(status=Status.RUNNING):
        if orphaned(export) and export.fail(
            "The worker rendering it stopped before it was done; export again."
        ):
            swept += 1
    return swept
