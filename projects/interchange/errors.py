"""The one exception the interchange package raises, for a cut or a format it cannot write."""


class InterchangeError(Exception):
    """The cut can't be written in the asked format; the message is fit to show a user."""
