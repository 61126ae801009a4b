"""The one exception the media package raises for problems a user can fix."""


class MediaError(Exception):
    """A clip can't be read or an export can't be written; the message is fit to show a user."""
