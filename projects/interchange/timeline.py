"""The cut as an OpenTimelineIO timeline, and that timeline as an `.otio` file.

One video track holds a clip per entry: its source range is the part of the trim that is
on screen alone, and the frames a transition shows sit just outside it, as the handles
OTIO expects. Each clip references its file with an ExternalReference whose available
range is the whole clip, and carries a marker at its first frame named with the prompt.

A crossfade is an SMPTE_Dissolve centred on the edit: N // 2 frames before it, the rest
after. A dip to black is a black gap of N frames between two SMPTE_Dissolves, one into
the gap (the outgoing clip's last N // 2 frames) and one out of it (the incoming clip's
first N - N // 2). We chose this over a single transition of type Custom because the
dissolve is the only transition every reader and adapter knows: a Custom transition
would come out of the EDL adapter as a crossfade, whereas a dissolve to a gap is how
CMX 3600 and the editors themselves write a fade to black, and it keeps the timing exact.

A clip whose file has a sound track (Entry.has_audio, probed) is on an audio track too,
in the same place, under the picture: editors and the FCPXML adapter hear it from there.

Storyboard's own facts ride in metadata under "storyboard": the shot's number, opening
and prompt on clips and markers, the transition's kind and length on the dissolves.
"""

import copy
from pathlib import Path
from urllib.parse import quote

import opentimelineio as otio

from .cut import Cut, Entry, first_words
from .output import deliver

NAMESPACE = "storyboard"
NAME_WORDS = 40  # characters of the prompt in a clip's name, after its number


def timeline(cut: Cut, sound: bool = True) -> otio.schema.Timeline:
    """An OTIO timeline of `cut`: one video track, clips with markers, dissolves and gaps;
    and under it, when `sound` and some clip has a sound track, an audio track of those."""
    track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    entries = cut.entries
    for index, entry in enumerate(entries):
        after = entries[index + 1] if index + 1 < len(entries) else None
        if entry.transition:
            track.extend(_transition_items(entry, cut.fps))
        head = _lead(entry)
        tail = _trail(after)
        track.append(_clip(entry, head, entry.frames - head - tail, cut.fps))
    result = otio.schema.Timeline(
        name=cut.title,
        global_start_time=otio.opentime.RationalTime(0, cut.fps),
        metadata={NAMESPACE: {"width": cut.width, "height": cut.height, "fps": cut.fps}},
    )
    result.tracks.append(track)
    if sound and any(entry.has_audio for entry in entries):
        result.tracks.append(_sound(track))
    return result


def _sound(picture: otio.schema.Track) -> otio.schema.Track:
    """The audio under `picture`: each clip whose file has sound, again, in its place (no
    markers: the picture's carry them); silence (a gap) under a clip without; the
    transitions and gaps as on the picture, so that both keep the same timing."""
    track = otio.schema.Track(name="Audio 1", kind=otio.schema.TrackKind.Audio)
    for item in picture:
        if isinstance(item, otio.schema.Clip) and not item.metadata[NAMESPACE]["has_audio"]:
            track.append(
                otio.schema.Gap(
                    source_range=otio.opentime.TimeRange(duration=item.source_range.duration)
                )
            )
            continue
        heard = copy.deepcopy(item)
        if isinstance(heard, otio.schema.Clip):
            del heard.markers[:]
        track.append(heard)
    return track


def write_otio(cut: Cut, out) -> None:
    """Write `cut` as an OpenTimelineIO JSON file to `out` (a path or a binary file)."""
    text = otio.adapters.write_to_string(timeline(cut), adapter_name="otio_json")
    deliver(text.encode(), out)


def _url(clip: str) -> str:
    """The clip's path as a URL: file:// when absolute, relative to the timeline file otherwise."""
    path = Path(clip)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def _lead(entry: Entry) -> int:
    """Frames at the entry's start that play before its clip's place on the track."""
    transition = entry.transition
    if transition is None:
        return 0
    if transition.kind == "crossfade":
        return transition.frames // 2
    return transition.head  # the fade in, played over the gap


def _trail(after: Entry | None) -> int:
    """Frames at the entry's end that play after its clip's place on the track."""
    transition = after.transition if after else None
    if transition is None:
        return 0
    if transition.kind == "crossfade":
        return transition.frames - transition.frames // 2
    return transition.tail  # the fade out, played over the gap


def _transition_items(entry: Entry, fps: int) -> list:
    kind, frames = entry.transition
    about = {NAMESPACE: {"transition": kind, "frames": frames}}
    if kind == "crossfade":
        return [_dissolve("Crossfade", frames // 2, frames - frames // 2, about, fps)]
    fade_out, fade_in = frames // 2, frames - frames // 2
    items = [_dissolve("Fade to black", 0, fade_out, about, fps)] if fade_out else []
    items.append(otio.schema.Gap(duration=otio.opentime.RationalTime(frames, fps)))
    items.append(_dissolve("Fade from black", fade_in, 0, about, fps))
    return items


def _dissolve(name: str, before: int, after: int, metadata: dict, fps: int):
    return otio.schema.Transition(
        name=name,
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(before, fps),
        out_offset=otio.opentime.RationalTime(after, fps),
        metadata=metadata,
    )


def _clip(entry: Entry, offset: int, frames: int, fps: int) -> otio.schema.Clip:
    about = {
        NAMESPACE: {
            "number": entry.number,
            "opening": entry.opening,
            "prompt": entry.prompt,
            "has_audio": entry.has_audio,
        }
    }
    start = otio.opentime.RationalTime(entry.source_in + offset, fps)
    reference = otio.schema.ExternalReference(
        target_url=_url(entry.clip),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(entry.clip_frames, fps)
        ),
    )
    reference.name = Path(entry.clip).name
    clip = otio.schema.Clip(
        name=f"{entry.number:02d} {first_words(entry.prompt, NAME_WORDS)}",
        media_reference=reference,
        source_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(frames, fps)),
        metadata=about,
    )
    clip.markers.append(
        otio.schema.Marker(
            name=entry.prompt,
            marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(1, fps)),
            color=otio.schema.MarkerColor.BLUE,
            metadata=about,
        )
    )
    return clip
