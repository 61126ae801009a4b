"""Small cuts for the interchange tests: every kind of entry, and prompts that need escaping."""

from projects.interchange import Cut, Entry

# Frames: 1 plays 0-95, 2 plays 96-215, 3 crossfades in over 204-215 and plays to 283,
# 4 dips in (3 fades out over 278-283, 4 fades in over 284-290) and plays to 379.
FOX = 'A fox watches from the ridge; it\'s "calm" & <alert> --> then\n\nleaves'


def make_cut(**changes) -> Cut:
    """A cut of four entries: a cut, a continue, a crossfade (12) and a dip (13, odd)."""
    entries = [
        Entry(1, "Drone shot over an autumn valley", "cut", "clips/01-drone-shot.mp4", 96, 0, 96),
        Entry(2, "The drone dives toward the river", "continue", "clips/02-dive.mp4", 120, 0, 120),
        Entry(3, FOX, "cut", "/srv/media/03 fox's.mp4", 96, 10, 80, ("crossfade", 12)),
        Entry(4, "Night falls on the valley", "cut", "clips/04-night.mp4", 100, 4, 96, ("dip", 13)),
    ]
    fields = {"title": "Autumn valley", "width": 864, "height": 496, "entries": entries}
    return Cut(**(fields | changes))


def plain_cut(count: int, frames: int = 48, posters: list[str] | None = None) -> Cut:
    """`count` entries of `frames` each, following one another by plain cuts."""
    entries = [
        Entry(
            number,
            f"Shot number {number} of a long sequence",
            "cut" if number % 3 == 1 else "continue",
            f"clips/{number:03d}.mp4",
            frames,
            0,
            frames,
            poster=posters[number - 1] if posters else None,
        )
        for number in range(1, count + 1)
    ]
    return Cut("Many shots", 864, 496, entries)
