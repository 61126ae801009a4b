"""Log lines never carry a secret of a URL: a link's, an invitation's, a provider input's,
a callback's, or whatever route names its secret as urls.py names them all."""

import functools
import logging
import re

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

# The name every route gives the secret it carries: `<str:token>`.
SECRET = "token"
# The servers' own loggers, which Django's LOGGING does not reach without replacing their
# handlers: uvicorn's access and error logs, runserver's requests.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "django.server")


def secret_routes():
    """Each secret-bearing route as the regex of what comes before its secret."""
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            regex = pattern.pattern.regex.pattern.removeprefix("^").removesuffix(r"\Z")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + regex)
            elif isinstance(pattern, URLPattern) and f"(?P<{SECRET}>" in regex:
                found.add(prefix + regex.split(f"(?P<{SECRET}>")[0])

    walk(get_resolver().url_patterns, "")
    return sorted(found)


@functools.cache
def secret_paths():
    """What to redact: the secret after any secret-bearing route's beginning, in a path
    or in a query string's `next=`."""
    routes = "|".join(secret_routes())
    return re.compile(rf"(/(?:{routes}))[^/\s?&#\"']+")


def redact(text):
    return secret_paths().sub(r"\1[secret]", text)


class RedactSecrets(logging.Filter):
    """Redacts each argument of a record, keeping the arguments apart for formatters that
    read them (uvicorn's access log does); a message that formats into a secret anyway
    is flattened."""

    def filter(self, record):
        if not apps.ready:  # no URLs to go by yet; no request has been served either
            return True
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact_servers():
    """Put the servers' own log lines through the same redaction as the app's."""
    for name in SERVER_LOGGERS:
        logging.getLogger(name).addFilter(RedactSecrets())
