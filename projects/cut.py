"""The cut: each shot's selected take (its draft, or its final), trimmed, joined to the
one before it by its opening, a cut entering with its transition; planned when an
export is asked for, then made as a video (media) or as what editors open (interchange).
"""

from dataclasses import dataclass

from django.utils.text import slugify

from . import interchange, media
from .media.reencode import FPS as MIXED_RATE
from .models import ASSUMED_RATE, Kind, Opening


class NotReady(Exception):
    """Some shot has no finished take to put in the cut."""


def kind_ready(shots):
    """Which cut an export joins when none is asked for: the finals once every shot has
    a current final, else the drafts."""
    if shots and all(shot.current_final is not None for shot in shots):
        return Kind.FINAL
    return Kind.DRAFT


def plan(project, kind=Kind.DRAFT, shots=None):
    """The cut of `kind` as it stands, as an export keeps it: one entry per shot, in
    order, each its shot's current take of that kind (the trims apply to both)."""
    shots = project.timeline() if shots is None else shots
    missing = [shot.number for shot in shots if shot.current_of(kind) is None]
    if not shots:
        raise NotReady("Add and generate shots first.")
    if missing:
        raise NotReady(
            f"Nothing to export yet: shot {', '.join(map(str, missing))} has no finished "
            + ("final: Make final first." if kind == Kind.FINAL else "take.")
        )
    entries = []
    for shot in shots:
        entry = take_entry(shot, shot.current_of(kind))
        if not entries:
            entry["transition"] = None  # nothing before it to come from
        entries.append(entry)
    return entries


def take_entry(shot, take):
    """The entry of `take` in the cut, as its shot now stands."""
    transition = None
    if shot.transition and not shot.continues:
        transition = [shot.transition, shot.transition_frames]
    return {
        "take": take.pk,
        "shot": shot.number,
        "prompt": shot.prompt,
        "notes": shot.notes,
        "joins": Opening.CONTINUE if shot.continues else Opening.CUT,
        "first": shot.trim_in,
        "last": shot.trim_out,
        "transition": transition,
    }


@dataclass(frozen=True)
class Clip:
    """A planned entry with its take's files, read to local paths."""

    entry: dict
    video: str  # path of the take's clip
    poster: str | None
    frames: int  # frames in the clip
    rate: float = ASSUMED_RATE  # its frames per second
    has_audio: bool = False  # it has a sound track, as probed


def pieces(clips):
    """The media pieces of the cut, trims clamped to each clip as it is now."""
    return [
        media.Piece(
            clip.video,
            first=min(clip.entry["first"], clip.frames - 1),
            last=_last(clip),
            joins=clip.entry["joins"],
            transition=media.Transition(*clip.entry["transition"])
            if clip.entry["transition"]
            else None,
        )
        for clip in clips
    ]


def timeline(title, clips, size, seamless=True, clip_names=None):
    """The cut for editors (interchange.Cut), each entry referring to `clip_names[i]`,
    the trimmed clip of that shot (what the editor's bundle holds).

    It runs at the clips' frame rate, as the video does; clips of different rates are
    counted at the rate the video is then made at (media's), to the nearest frame."""
    rates = {clip.rate for clip in clips}
    rate = rates.pop() if len(rates) == 1 else MIXED_RATE
    entries = []
    for index, clip in enumerate(clips):
        first, last = min(clip.entry["first"], clip.frames - 1), _last(clip)
        kept = (clip.frames - 1 if last is None else last) - first + 1
        # Seamless: a continue's first frame repeats the shot before; it does not play
        # (unless trimmed in: then the trim cut it already).
        continues = index and clip.entry["joins"] == Opening.CONTINUE
        drop = 1 if seamless and continues and first == 0 else 0

        def counted(frames, clip=clip):
            return frames if clip.rate == rate else round(frames * rate / clip.rate)

        entries.append(
            interchange.Entry(
                number=clip.entry["shot"],
                prompt=clip.entry["prompt"],
                notes=clip.entry.get("notes", ""),
                opening=clip.entry["joins"] if index else Opening.CUT,
                clip=(clip_names or names(clips))[index],
                clip_frames=counted(kept),
                source_in=counted(drop),
                frames=counted(kept) - counted(drop),
                transition=tuple(clip.entry["transition"]) if clip.entry["transition"] else None,
                poster=clip.poster,
                has_audio=clip.has_audio,
            )
        )
    fps = round(rate)  # editors' timelines count whole frames a second
    return interchange.Cut(title=title, width=size[0], height=size[1], entries=entries, fps=fps)


def names(clips):
    """clips/NN-<slug>.mp4 of each shot, as the editor's bundle names them."""
    return [f"clips/{clip.entry['shot']:02d}-{_slug(clip.entry['prompt'])}.mp4" for clip in clips]


def _slug(prompt):
    return slugify(interchange.for_people(prompt))[:40] or "shot"


def _last(clip):
    last = clip.entry["last"]
    return None if last is None or last >= clip.frames - 1 else last
