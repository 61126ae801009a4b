"""A team's own gateway connections: where its takes are made, with whose key."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .. import providers, vault

# The provider name a connection's takes, limits and spend are recorded under.
PREFIX = "connection:"
# How the card of a take waiting on a paused connection begins.
PAUSED = "Waiting: the team's gateway connection"


def key_end_length(key):
    """How many of a key's last characters pages show: four, fewer of a short key (a
    quarter of it), so that what is shown never gives much of it away."""
    return 4 if len(key) > 8 else len(key) // 4


class Connection(models.Model):
    """A gateway a team reaches with its own key: a preset, or a style and a base URL.

    Its key is sealed at rest (projects.vault) and never shown again: pages show its last
    four characters. Its limits, its gate and its spend are its own, under `provider_name`.
    A key the gateway refuses pauses it (nothing new is sent through it) until the owner
    saves another or a check passes.
    """

    class Check(models.TextChoices):
        NONE = "", "not checked"
        CHECKING = "checking", "checking"
        OK = "ok", "works"
        REFUSED = "refused", "key refused"
        UNREACHABLE = "unreachable", "address unreachable"
        FAILED = "failed", "failed"

    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    preset = models.CharField(max_length=30, blank=True)
    style = models.CharField(max_length=30, blank=True)
    base_url = models.URLField(max_length=500, blank=True)
    sealed_key = models.TextField(editable=False)
    key_end = models.CharField(max_length=4, editable=False)
    concurrency = models.PositiveIntegerField(null=True, blank=True)
    rpm = models.PositiveIntegerField("requests a minute", null=True, blank=True)
    daily = models.PositiveIntegerField("requests a day", null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.TextField(blank=True)
    check_state = models.CharField(max_length=12, choices=Check.choices, blank=True)
    check_message = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="connection_name_in_team"),
        ]

    def __str__(self):
        return self.name

    def get_additional_data(self):
        """What the activity log files this change under (django-auditlog)."""
        return {"team": self.team_id, "connection": self.name}

    @property
    def is_default(self):
        """Whether its team's projects go through it (Team.gateway)."""
        return self.team.gateway_id == self.pk

    @property
    def provider_name(self):
        return f"{PREFIX}{self.pk}"

    @staticmethod
    def id_of(provider_name):
        """The connection id a provider name stands for; None for the deployment's."""
        if not provider_name.startswith(PREFIX):
            return None
        rest = provider_name[len(PREFIX) :]
        return int(rest) if rest.isdigit() else None

    def set_key(self, key):
        """Seal a new key (never kept in clear), and resume the connection if paused."""
        self.sealed_key = vault.seal(key)
        self.key_end = key[-key_end_length(key) :] if key_end_length(key) else ""
        self.paused_at = None
        self.paused_reason = ""

    def key(self):
        return vault.unseal(self.sealed_key)

    @property
    def where(self):
        """Where it goes, in words: its preset, or its style at its address."""
        if self.preset and self.preset in providers.PRESETS:
            title = providers.PRESETS[self.preset].title
            return f"{title} at {self.base_url}" if self.base_url else title
        return f"{self.style or 'ark'} API at {self.base_url}"

    @classmethod
    def chosen_for(cls, project, fresh=True):
        """The connection `project`'s new takes go through: its own pick, else (none, or
        deleted meanwhile: the pick is then NULL) its team's default; None for the
        server's own gateway. The one answer pages and the pipeline share.

        fresh: read from the database (the pipeline: its pause, its deletion); else what
        the page already read with the project (its connection, its team's) is used."""
        picked = getattr(project, "connection_id", None)
        if picked is not None:
            if not fresh and "connection" in project._state.fields_cache:
                found = project.connection
            else:
                found = cls.objects.filter(pk=picked).first()
            if found is not None:
                return found
        team_id = getattr(project, "team_id", None)
        if team_id is None:
            return None
        if not fresh and "team" in project._state.fields_cache:
            team = project.team
            return team.gateway if team.gateway_id else None
        return cls.objects.filter(used_by__pk=team_id).first()

    def provider(self, keyed=True):
        """This connection as a Provider (ProviderError when it cannot be one). One whose
        key cannot be read is paused, not failed: its takes wait (nothing is sent without
        a key) until an owner saves the key again or the key file comes back.

        keyed=False: without its key (never unsealed), for what pages read of it, its
        style, models and limits."""
        key = ""
        if keyed:
            try:
                key = self.key()
            except vault.Unreadable as error:
                reason = f"its key cannot be read: {error}"
                if self.pause(reason) or self.paused_at is None:
                    self.paused_at, self.paused_reason = timezone.now(), reason
        return providers.connected(
            self.provider_name,
            api_key=key,
            preset=self.preset,
            style=self.style,
            base_url=self.base_url,
            rpm=self.rpm,
            concurrency=self.concurrency,
            daily=self.daily,
            paused=self.paused_note() if self.paused_at else "",
        )

    def paused_note(self):
        """What the cards of its takes say while it is paused: words of our own, never the
        gateway's (its answer to a refused key may quote part of the key); the gateway's
        words are in paused_reason, which only the team's owners see."""
        return (
            f"{PAUSED} “{self.name}” is paused: the team's gateway key was refused or "
            "cannot be read. An owner of the team saves a new key or tests it again."
        )

    def in_flight(self):
        """Its takes still at its gateway, or being sent there."""
        from .takes import Take

        return Take.objects.filter(
            provider=self.provider_name, status__in=(*Take.WORKING, Take.Status.UNCERTAIN)
        )

    def pause(self, reason):
        """Stop sending through it (once: the first reason stays)."""
        return Connection.objects.filter(pk=self.pk, paused_at__isnull=True).update(
            paused_at=timezone.now(), paused_reason=reason
        )
