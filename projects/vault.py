"""Gateway keys at rest: sealed with Fernet, by keys of their own (never SECRET_KEY).

GATEWAY_KEYS_SECRET holds one Fernet key, or several separated by commas: the first
seals, every one opens (MultiFernet), so a new key goes first and the old one after it
until `manage.py gateway_keys rotate` has sealed everything again. Without it, the
installation's own key is made once, random, in GATEWAY_KEYS_FILE (beside the database,
mode 0600), as `up` makes the installation's signing key; a deployment of several
machines sets GATEWAY_KEYS_SECRET in each.
"""

import contextlib
import os
import tempfile
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_lock = threading.Lock()
_cached = {}


class Unreadable(Exception):
    """A sealed key that none of the keys opens (they were changed without rotating)."""


def installation_file(path, make):
    """What `path` holds, made there first by `make()` if there is nothing: readable by
    this user only, and complete before anyone can read it (linked into place, never
    overwritten, so two processes making it at once agree on one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        descriptor, made = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as f:
                f.write(make() + "\n")
            with contextlib.suppress(FileExistsError):  # made by another process meanwhile
                os.link(made, path)
        finally:
            os.unlink(made)
    return path.read_text().strip()


def _secrets(make=False):
    """The keys: GATEWAY_KEYS_SECRET's, else the installation's file. Only sealing may
    make that file: a key made anew to open what an older one sealed would open
    nothing, and would hide that the old one is gone (Unreadable says so instead)."""
    raw = settings.GATEWAY_KEYS_SECRET
    if not raw:
        path = settings.GATEWAY_KEYS_FILE
        if make:
            raw = installation_file(path, lambda: Fernet.generate_key().decode())
        else:
            try:
                raw = path.read_text().strip()
            except OSError as error:
                raise Unreadable(
                    f"The installation's key file {path} cannot be read ({error.strerror}): "
                    "restore it, or save the key again."
                ) from None
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _fernet(make=False):
    keys = _secrets(make)
    with _lock:
        fernet = _cached.get(keys)
        if fernet is None:
            try:
                fernet = MultiFernet([Fernet(key) for key in keys])
            except ValueError as error:
                raise ImproperlyConfigured(
                    "GATEWAY_KEYS_SECRET must be Fernet keys (32 url-safe base64-encoded "
                    f"bytes), separated by commas: {error}"
                ) from None
            _cached.clear()
            _cached[keys] = fernet
    return fernet


def seal(text):
    """`text` sealed with the first key: a token safe to keep in the database."""
    return _fernet(make=True).encrypt(text.encode()).decode()


def unseal(token):
    """The text a sealed token holds; Unreadable when no key opens it, or there is none."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise Unreadable(
            "This key was sealed with a key GATEWAY_KEYS_SECRET no longer holds."
        ) from None


def reseal(token):
    """The token sealed again with the first key (MultiFernet.rotate)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise Unreadable("No key in GATEWAY_KEYS_SECRET opens this token.") from None
