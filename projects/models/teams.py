"""Teams: who works together, what each member may do, and how people are invited."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

INVITATION_LIFETIME = timedelta(days=7)


class Role(models.TextChoices):
    """What a member may do; projects.access says which role allows which action."""

    OWNER = "owner", "owner"
    EDITOR = "editor", "editor"
    VIEWER = "viewer", "viewer"


class Team(models.Model):
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        through_fields=("team", "user"),
        related_name="teams",
    )
    monthly_budget_tokens = models.PositiveBigIntegerField(
        "monthly budget (tokens)",
        null=True,
        blank=True,
        help_text="Optional: no shot is sent that would take the team past it this month.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The gateway connection its projects' new takes go through; none: the server's own.
    gateway = models.ForeignKey(
        "Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="used_by"
    )

    def __str__(self):
        return self.name

    def get_additional_data(self):
        return {"team": self.pk}

    @classmethod
    def default_for(cls, user):
        """The team a user's new projects belong to: their first, or a personal one."""
        team = user.teams.order_by("id").first()
        if team is None:
            team = cls.objects.create(name=f"{user.get_username()}'s team")
            Membership.objects.create(team=team, user=user, role=Role.OWNER)
        return team

    def role_of(self, user):
        """The user's role here, or None when they are not a member."""
        if not user.is_authenticated:
            return None
        return self.memberships.filter(user=user).values_list("role", flat=True).first()


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team"),
        ]

    def __str__(self):
        return f"{self.user} ({self.role}) in {self.team}"

    def get_additional_data(self):
        return {"team": self.team_id, "member": self.user.get_username()}


def digest(secret):
    """What is kept of a secret token: never the token itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def derived_secret(seed):
    """An invitation's secret, from its seed and the server's key: the rows alone (a
    dump, a backup) give no link away, and the server can give its link again."""
    return salted_hmac("projects.invitation.secret", seed, algorithm="sha256").hexdigest()[:32]


class InvitationQuerySet(models.QuerySet):
    def open(self):
        return self.filter(used_at=None, revoked_at=None, expires_at__gt=timezone.now())

    def for_user(self, user):
        """The open invitations addressed to `user` by name, waiting for their answer."""
        return self.open().filter(invitee_name=user.get_username())


class Invitation(models.Model):
    """An invitation to a team, open for seven days: a link that adds whoever opens it,
    once, or one addressed to a user name, which its holder accepts or declines."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    secret_digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What its secret is derived from (derived_secret); blank for an invitation made
    # before links could be copied again, whose secret only its first link carried.
    secret_seed = models.CharField(max_length=64, blank=True)
    # Addressed to this user name (kept whether or not anyone has it, so the inviter
    # learns nothing of who has an account); empty: a link to send.
    invitee_name = models.CharField(max_length=150, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation to {self.team} as {self.role}"

    def get_additional_data(self):
        return {"team": self.team_id}

    @classmethod
    def make(cls, team, role, created_by, invitee_name=""):
        """A new invitation and its secret, which only the link carries (an invitation
        addressed to a name is answered by its holder, signed in: no link is given)."""
        seed = secrets.token_urlsafe(24)
        secret = derived_secret(seed)
        invitation = cls.objects.create(
            team=team,
            role=role,
            created_by=created_by,
            invitee_name=invitee_name,
            secret_seed=seed,
            secret_digest=digest(secret),
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        return invitation, secret

    @staticmethod
    def lifetime():
        return INVITATION_LIFETIME.total_seconds()

    def secret(self):
        """The secret its link carries, for an owner to copy again while it is open; None
        when it was made before seeds were kept."""
        return derived_secret(self.secret_seed) if self.secret_seed else None

    def matches(self, secret):
        """Whether `secret` is this invitation's, compared in constant time."""
        return hmac.compare_digest(self.secret_digest, digest(secret))

    @property
    def is_open(self):
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()
