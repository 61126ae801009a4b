"""Access tokens: how a script or another program speaks for a person to the JSON API.

A token's secret is shown once, when it is made; only its SHA-256 is kept (a secret of
256 random bits needs no slow hash), with a short prefix of it so its owner can tell
tokens apart. A token may be limited to one team, and to reading; it expires (90 days
unless said otherwise) and can be revoked.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX = "sb_"
DEFAULT_DAYS = 90
# Its last use is written at most this often: one UPDATE a minute, not one a request.
TOUCH_EVERY = timedelta(minutes=1)


def hashed(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def default_expiry():
    return timezone.now() + timedelta(days=DEFAULT_DAYS)


class AccessTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at=None, expires_at__gt=timezone.now())


class AccessToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        "Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_tokens",
        help_text="The one team it reaches; empty: every team of its owner.",
    )
    read_only = models.BooleanField(default=False)
    prefix = models.CharField(max_length=16, help_text="The secret's first characters.")
    hashed_secret = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=default_expiry)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def make(cls, user, name, team=None, read_only=False, days=DEFAULT_DAYS):
        """A new token and its secret, which is never stored and never shown again."""
        secret = PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            team=team,
            read_only=read_only,
            prefix=secret[: len(PREFIX) + 6],
            hashed_secret=hashed(secret),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return token, secret

    @classmethod
    def find(cls, secret):
        """The live token a secret is, with its user, or None (an unknown secret, an
        expired or revoked token, or a user who can no longer sign in)."""
        if not secret:
            return None
        token = (
            cls.objects.live()
            .select_related("user", "team")
            .filter(hashed_secret=hashed(secret))
            .first()
        )
        if token is None or not token.user.is_active:
            return None
        return token

    @property
    def is_live(self):
        return self.revoked_at is None and self.expires_at > timezone.now()

    def touch(self):
        """Note its use, at most once a minute."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= TOUCH_EVERY:
            AccessToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
