"""How often one person, or one link's holders, may comment, generate and export, and a
team's owners send test events to its webhooks.

Counted by django-ratelimit in the cache every process shares (Redis, or the database:
settings.CACHES), per member (the web and every access token of theirs together, so
minting tokens adds no room), per link and, for test events, per team, at the rates the
settings give. Past a rate, the request is refused with a 429 that says when to try
again (projects.middleware).
"""

from django.conf import settings
from django_ratelimit.core import get_usage

# What each action is called in a refusal, and the setting that gives its rate.
ACTIONS = {
    "comment": ("comments", "COMMENT_RATE"),
    "generate": ("generations", "GENERATE_RATE"),
    "export": ("exports", "EXPORT_RATE"),
    "webhook-test": ("test events", "WEBHOOK_TEST_RATE"),
}
PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


class TooOften(Exception):
    """A rate was passed; the message says which and when to try again, and `back` is the
    page to go back to."""

    def __init__(self, message, back, wait=1):
        super().__init__(message)
        self.back = back
        self.wait = wait  # seconds until it may be tried again


def count(request, viewer, action):
    """Count one `action` by whoever `viewer` is: a link's holders, or a member (on the
    web or through any of their access tokens together: minting tokens adds no room).
    TooOften past its rate."""
    who = f"link:{viewer.link.pk}" if viewer.link is not None else f"user:{viewer.user.pk}"
    through = " through this link" if viewer.link is not None else ""
    count_for(request, who, action, viewer.page_url(), through)


def count_for(request, who, action, back, through=""):
    """Count one `action` by `who` (a key: "user:3", "team:3"...); TooOften past its
    rate, with `back` the page to go back to."""
    what, setting = ACTIONS[action]
    rate = getattr(settings, setting)
    usage = get_usage(
        request,
        group=f"storyboard.{action}",
        key=lambda group, request: who,
        rate=rate,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        wait = max(1, usage["time_left"])
        raise TooOften(
            f"Too many {what}: at most {_said(rate)}{through}. Try again in {wait} s.",
            back=back,
            wait=wait,
        )


def _said(rate):
    """'20/m' as '20 a minute', '5/10m' as '5 every 10 minutes'."""
    number, _, period = rate.partition("/")
    unit = PERIODS[period[-1]]
    if period[:-1] in ("", "1"):
        return f"{number} {'an' if unit == 'hour' else 'a'} {unit}"
    return f"{number} every {period[:-1]} {unit}s"
