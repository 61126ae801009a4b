"""Exports: the cut's selected takes joined into one file in media storage.

Clips are read from storage and the result written back to it, so the worker that
renders an export needs no disk in common with the one that made the takes. An export
keeps a lease like a take; one whose worker died, or that cannot be rendered, fails
with the reason instead of staying "rendering" for ever, and one whose message the task
queue lost is sent again once, then fails, instead of staying "queued" for ever.
"""

import json
import logging
import tempfile
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from .. import boards, cut, interchange, media, webhooks
from ..files import local_copy, storage_errors
from ..models import Export, Kind, Take
from .bridging import WAITING, StoredBridges, prepared
from .collecting import learn_frames
from .failing import fail_export
from .leases import Heartbeat, LeaseLost, beat, expired_before, me, orphaned

log = logging.getLogger(__name__)
Status = Export.Status

# What the web and the API say when queue_export could not hand an export to a worker.
QUEUE_REFUSED = (
    "The export could not be handed to the workers: the task queue did not answer. "
    "Try again in a moment."
)


def export(export):
    """Render a queued export in its format: the cut as a video, or for editors."""
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

    noted = [""]

    def waiting(now):
        """Say on the export's card while it waits for a bridge another worker encodes."""
        heartbeat()
        note = WAITING if now else ""
        if note != noted[0]:
            noted[0] = note
            mine.update(note=note)

    bridges = StoredBridges(waiting=waiting)
    try:
        with tempfile.TemporaryDirectory() as scratch, ExitStack() as opened:
            # The printed storyboard shows posters and stills: it joins no clips.
            clips = [] if export.format == Export.Format.PDF else _clips(export, opened)
            heartbeat()
            target = Path(scratch) / export.filename()
            made = MAKERS[export.format](export, clips, target, progress, bridges)
            with open(target, "rb") as f:
                name = export.file.field.generate_filename(export, export.filename())
                name = export.file.storage.save(name, File(f, name=export.filename()))
    except LeaseLost:
        log.info("export %s: another worker took it over", export.pk)
        return
    except (media.MediaError, interchange.InterchangeError, *storage_errors()) as error:
        fail_export(export, error)
        return
    except Exception as error:  # nothing may leave an export rendering for ever
        log.exception("export %s failed", export.pk)
        fail_export(export, f"The export failed unexpectedly: {error!r}")
        return
    finally:
        bridges.release()
    if made.mode == "smart" and (export.seamless or export.format == Export.Format.ZIP):
        # What it encoded of each take alone is kept now: the sweep need not prepare it.
        prepared(clip.entry for clip in clips)
    fields = {
        "status": Status.DONE,
        "file": name,
        "mode": made.mode,
        "duration": made.duration,
        "progress": 1.0,
        "note": "",
        "finished_at": timezone.now(),
    }
    with transaction.atomic():  # done, and its webhooks written, in one step
        done = mine.update(**fields)
        if done:
            for field, value in fields.items():
                setattr(export, field, value)
            webhooks.export_done(export)
    if not done:
        export.file.storage.delete(name)


def _clips(export, opened):
    """The export's planned entries with local copies of their takes' clips and posters."""
    entries = export.plan or [
        {
            "take": pk,
            "shot": n,
            "prompt": "",
            "joins": "cut",
            "first": 0,
            "last": None,
            "transition": None,
        }
        for n, pk in enumerate(export.takes, start=1)
    ]
    takes = Take.objects.in_bulk([entry["take"] for entry in entries])
    if any(entry["take"] not in takes or not takes[entry["take"]].video for entry in entries):
        raise media.MediaError(
            "A take of the cut was deleted after the export was asked for; export again."
        )
    clips = []
    for entry in entries:
        take = takes[entry["take"]]
        video = opened.enter_context(local_copy(take.video, ".mp4"))
        poster = opened.enter_context(local_copy(take.poster, ".jpg")) if take.poster else None
        info = media.probe(video)
        learn_frames(take, info)
        clips.append(cut.Clip(entry, video, poster, info.frames, info.fps, info.has_audio))
    return clips


@dataclass(frozen=True)
class Made:
    mode: str
    duration: float


def _video(export, clips, target, progress, bridges):
    result = media.join(
        cut.pieces(clips),
        target,
        seamless=export.seamless,
        normalize=export.normalize,
        bridges=bridges,
        progress=progress,
    )
    log.info(
        "export %s: %s, %d frames encoded (%d of them prepared before)",
        export.pk,
        result.mode,
        result.reencoded,
        result.prepared,
    )
    return Made(result.mode, result.duration)


def _for_editors(export, clips, target, progress, bridges=None):
    """A timeline, captions or a contact sheet: what the format asks for."""
    timeline = _timeline(export, clips)
    interchange.write(timeline, target)
    progress(1.0)
    return Made("", timeline.frames / timeline.fps)


def _board(export, clips, target, progress, bridges=None):
    """The printed storyboard, from the panels planned when it was asked for."""
    with ExitStack() as opened:
        # Each panel beats the lease: hundreds of pictures copied from S3 take a while.
        board = boards.board(export.project, export.plan, opened, lambda f: progress(f / 2))
        interchange.write_board(board, target, lambda f: progress(0.5 + f / 2))
    progress(1.0)
    return Made("", board.seconds)


def _timeline(export, clips):
    info = media.probe(clips[0].video)
    return cut.timeline(export.project.title, clips, (info.width, info.height), export.seamless)


def _bundle(export, clips, target, progress, bridges):
    """Everything an editor needs, in one zip that opens as it is: the sequence, each
    trimmed clip, the timelines pointing at the clips by relative path, captions, the
    contact sheet, the storyboard file and the printed storyboard."""
    from .. import storyboard_file  # it checks shots with the pipeline: imported late

    folder = target.parent / "bundle"
    (folder / "clips").mkdir(parents=True)
    sequence = media.join(
        cut.pieces(clips),
        folder / "sequence.mp4",
        seamless=True,
        normalize=export.normalize,
        bridges=bridges,
        progress=lambda f: progress(0.5 * f),
    )
    for index, (piece, name) in enumerate(zip(cut.pieces(clips), cut.names(clips), strict=True)):
        media.trim(media.Piece(piece.path, first=piece.first, last=piece.last), folder / name)
        progress(0.5 + 0.4 * (index + 1) / len(clips))
    timeline = _timeline(export, clips)
    for name in ("timeline.otio", "timeline.fcpxml", "timeline.edl", "captions.srt"):
        interchange.write(timeline, folder / name)
    interchange.write(timeline, folder / "contact-sheet.png")
    # Its panels are the shots this bundle joins, with the takes it joins: not a shot
    # added since. When every one of them is gone, the bundle goes without it.
    joined = {take.shot_id: take for take in Take.objects.in_bulk(export.takes).values()}
    shots = [shot for shot in export.project.timeline() if shot.pk in joined]
    if shots:
        with ExitStack() as opened:
            planned = boards.plan(export.project, export.kind, shots=shots, takes=joined)
            interchange.write_board(
                boards.board(export.project, planned, opened), folder / "storyboard.pdf"
            )
    (folder / "storyboard.json").write_text(
        json.dumps(storyboard_file.dump(export.project), indent=2)
    )
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                # Video and pictures are compressed already: stored as they are.
                method = (
                    zipfile.ZIP_STORED
                    if path.suffix in (".mp4", ".png", ".pdf")
                    else zipfile.ZIP_DEFLATED
                )
                archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)
    progress(1.0)
    return Made(sequence.mode, sequence.duration)


def write_clips(export, folder):
    """Write the trimmed clips a timeline export points at (clips/NN-….mp4) under `folder`:
    what the command line puts beside a timeline it writes alone, as the bundle holds
    them beside its own. Their names, relative to `folder`."""
    folder = Path(folder)
    with ExitStack() as opened:
        clips = _clips(export, opened)
        names = cut.names(clips)
        for piece, name in zip(cut.pieces(clips), names, strict=True):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            media.trim(media.Piece(piece.path, first=piece.first, last=piece.last), folder / name)
    return names


MAKERS = {
    Export.Format.MP4: _video,
    Export.Format.ZIP: _bundle,
    Export.Format.PDF: _board,
    **{
        kind: _for_editors
        for kind in (
            Export.Format.OTIO,
            Export.Format.FCPXML,
            Export.Format.EDL,
            Export.Format.SRT,
            Export.Format.VTT,
            Export.Format.PNG,
        )
    },
}


# A re-queued export waits this many leases for a worker: room for the longest tasks ahead
# of it in a busy queue (django-q's timeout is ten default leases), not for ever.
REQUEUED_LEASES = 10


def queue_deadline():
    """How long a re-queued export may wait for a worker to take it before it fails."""
    return timedelta(seconds=REQUEUED_LEASES * settings.PIPELINE_LEASE_SECONDS)


def sweep(requeue):
    """Fail the exports whose worker died while rendering them. Queued ones no worker took
    within a lease (the broker lost the message) are handed to `requeue(export_id)`, once;
    those still queued queue_deadline() later fail with the reason. Returns how many
    failed."""
    swept = 0
    for export in Export.objects.filter(status=Status.RUNNING):
        if orphaned(export) and fail_export(
            export, "The worker rendering it stopped before it was done; export again."
        ):
            swept += 1
    now, waited = timezone.now(), expired_before()
    for export in Export.objects.filter(status=Status.QUEUED, created_at__lt=waited):
        if export.heartbeat_at is None:
            # Claimed first, so that two sweepers send it once.
            if Export.objects.filter(pk=export.pk, status=Status.QUEUED, heartbeat_at=None).update(
                heartbeat_at=now
            ):
                swept += _requeue(export, requeue)
        elif export.heartbeat_at < now - queue_deadline() and fail_export(
            export,
            "No worker took it from the task queue, even when it was sent again; export again.",
        ):
            swept += 1
    return swept


def _requeue(export, requeue):
    """Send a queued export to the task queue again; 1 when the queue refused it, and the
    export failed saying so."""
    log.warning("export %s: no worker took it from the task queue; sending it again", export.pk)
    try:
        requeue(export.pk)
    except Exception as error:  # any broker's refusal: Redis down, its database locked...
        return int(bool(fail_export(export, refused(error))))
    return 0


def plan_for(project, format, kind=None):
    """(kind, plan) of an export of `project` in `format`: the cut of `kind`, or of the
    kind ready (cut.kind_ready) when none is asked for. cut.NotReady when a shot has no
    current take of that kind; a printed storyboard needs none (a shot not generated yet
    shows its stills)."""
    shots = project.timeline()
    if kind not in Kind.values:
        kind = cut.kind_ready(shots)
    if format == Export.Format.PDF:
        return kind, boards.plan(project, kind, shots)
    return kind, cut.plan(project, kind, shots)


def queue(project, kind, plan, created_by=None, **options):
    """Start an export of `plan` (plan_for's) with `options` (format, seamless,
    normalize), or join the unfinished one of the same choice, and hand a new one to the
    workers once the transaction commits: nothing is rendered here. (export, new,
    refusal): the task queue's error when it would not take it (the export then failed,
    saying so), else None."""
    export, new = Export.objects.start_or_join(
        project,
        kind,
        takes=[entry["take"] for entry in plan if entry["take"] is not None],
        plan=plan,
        created_by=created_by,
        **options,
    )
    refusals = []

    def hand_over():
        try:
            async_task("projects.tasks.export", export.pk)
        except Exception as error:  # any broker's refusal: Redis down, its database locked...
            log.warning("export %s: the task queue refused it: %r", export.pk, error)
            fail_export(export, refused(error))
            refusals.append(error)

    if new:
        transaction.on_commit(hand_over)  # outside a transaction: at once
    return export, new, (refusals[0] if refusals else None)


def refused(error):
    """Why an export failed when the task queue would not take it."""
    return f"The task queue refused it ({type(error).__name__}: {error}); export again."
