"""Links that open a project to people outside its team: to watch it, or to review it."""

import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from .tracking import Tracked, TrackedQuerySet


class LinkQuerySet(TrackedQuerySet):
    def live(self):
        now = timezone.now()
        return self.filter(revoked_at=None).filter(
            models.Q(expires_at=None) | models.Q(expires_at__gt=now)
        )


class Link(Tracked):
    """A project's view-only or review link. Its token is `<id>.<secret>`: the id finds
    it, the secret is compared in constant time; revoked or expired, it opens nothing."""

    class Kind(models.TextChoices):
        VIEW = "view", "view-only"
        REVIEW = "review", "review"

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.VIEW)
    secret = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Whether its holders see what the takes cost and how they were made (tokens billed,
    # seeds, model ids, the provider's task ids and notes): not unless its maker says so.
    shows_details = models.BooleanField(default=False)

    objects = LinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} link to {self.project}"

    def get_additional_data(self):
        return {"project": self.project_id}

    @classmethod
    def make(cls, project, kind, created_by=None, expires_at=None, shows_details=False):
        return cls.objects.create(
            project=project,
            kind=kind,
            secret=secrets.token_urlsafe(24),
            created_by=created_by,
            expires_at=expires_at,
            shows_details=shows_details,
        )

    @property
    def token(self):
        return f"{self.pk}.{self.secret}"

    @classmethod
    def find(cls, token):
        """The live link a token names, or None."""
        links = cls.objects.live().select_related("project__team__gateway", "project__connection")
        pk, dot, secret = (token or "").partition(".")
        if dot and pk.isdigit():
            link = links.filter(pk=int(pk)).first()
        else:  # handed out before links had ids: the bare secret of a view-only link
            link, secret = links.filter(kind=cls.Kind.VIEW, secret=token).first(), token
        if link is None or not hmac.compare_digest(link.secret.encode(), secret.encode()):
            return None
        return link

    @property
    def is_live(self):
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
