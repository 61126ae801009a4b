"""Who asks the API: the owner of the access token the request bears."""

import contextlib

from auditlog.context import auditlog_value
from ninja.security import HttpBearer

from ..models import AccessToken


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <secret>`: a live token (not expired, not revoked, of an
    active user) is the request's `auth`, and its owner the request's `user`; anything
    else is a 401."""

    def authenticate(self, request, token):
        found = AccessToken.find(token)
        if found is None:
            return None
        found.touch()
        request.user = found.user
        # Changes made through it are logged as its owner's: the audit middleware took
        # the request's user before the token was read.
        with contextlib.suppress(LookupError):  # outside a request's middleware
            auditlog_value.get()["actor"] = found.user
        return found
