"""The cut's dialogue as captions, each over its entry's time in the cut: SubRip and WebVTT.

A shot with notes (the dialogue a script import gives it) is captioned with them; one
without, with its prompt.

A caption runs between its entry's edit points (see cut.spans), so captions follow one
another without overlapping: across a crossfade the next prompt takes over at its centre,
across a dip at the black. Text is wrapped to lines of at most LINE characters.
"""

import textwrap
from html import escape

from .cut import Cut, spans
from .output import deliver

LINE = 42  # characters: the usual limit for a line of subtitles


def write_srt(cut: Cut, out) -> None:
    """Write SubRip captions of `cut` to `out` (a path or a binary file).

    SubRip has no escapes: text is kept as it is, except that it can hold no blank line,
    which would end its cue.
    """
    cues = []
    for index, (entry, span) in enumerate(zip(cut.entries, spans(cut), strict=True), 1):
        start, end = _timestamp(span.edit_in, cut.fps, ","), _timestamp(span.edit_out, cut.fps, ",")
        cues.append(f"{index}\n{start} --> {end}\n{_lines(_text(entry)) or _untitled(entry)}\n")
    deliver("\n".join(cues).encode(), out)


def write_vtt(cut: Cut, out) -> None:
    """Write WebVTT captions of `cut` to `out` (a path or a binary file).

    Each cue is named by its shot's number. `&`, `<` and `>` are escaped as the format asks,
    which also keeps "-->" out of the text.
    """
    cues = ["WEBVTT\n"]
    for entry, span in zip(cut.entries, spans(cut), strict=True):
        start, end = _timestamp(span.edit_in, cut.fps, "."), _timestamp(span.edit_out, cut.fps, ".")
        text = escape(_lines(_text(entry)), quote=False) or _untitled(entry)
        cues.append(f"shot-{entry.number}\n{start} --> {end}\n{text}\n")
    deliver("\n".join(cues).encode(), out)


def _timestamp(frame: int, fps: int, comma: str) -> str:
    """HH:MM:SS,mmm (or with a dot) of `frame`, rounded to the nearest millisecond."""
    millis = (frame * 2000 + fps) // (2 * fps)
    seconds, millis = divmod(millis, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{comma}{millis:03d}"


def _lines(text: str) -> str:
    """`text` wrapped to LINE characters, its own line breaks kept, with no empty line."""
    lines = []
    for paragraph in text.splitlines():
        lines.extend(textwrap.wrap(paragraph, LINE, break_long_words=False))
    return "\n".join(lines)


def _text(entry) -> str:
    """What is said in the shot where its notes say it, else its prompt."""
    return entry.notes.strip() or entry.prompt


def _untitled(entry) -> str:
    return f"Shot {entry.number}"
