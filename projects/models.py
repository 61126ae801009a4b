"""Projects, their shots, the takes that generate them, and exports of the cut."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from . import providers

MIN_DURATION, MAX_DURATION = 4, 15

RESOLUTIONS = [("480p", "480p"), ("720p", "720p"), ("1080p", "1080p")]
RATIOS = [(r, r) for r in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")]
# Keys a take's recorded inputs may hold from before they were dropped; never compared.
RETIRED_INPUTS = {"provider"}


class TrackedQuerySet(models.QuerySet):
    """Every update stamps `updated_at`, so the live timeline finds each change by it."""

    def update(self, **fields):
        fields.setdefault("updated_at", timezone.now())
        return super().update(**fields)


class Tracked(models.Model):
    """A row the live timeline follows: any save, even of a few fields, stamps `updated_at`."""

    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = TrackedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is not None:
            update_fields = {*update_fields, "updated_at"}
        super().save(*args, update_fields=update_fields, **kwargs)


class Team(models.Model):
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    @classmethod
    def default_for(cls, user):
        """The team a user's new projects belong to: their first, or a personal one."""
        team = user.teams.order_by("id").first()
        if team is None:
            team = cls.objects.create(name=f"{user.get_username()}'s team")
            team.members.add(user)
        return team


class ProjectQuerySet(TrackedQuerySet):
    def for_user(self, user):
        return self.filter(team__members=user)


class Project(Tracked):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    title = models.CharField(max_length=200)
    # Default generation settings, used by every shot of the project.
    model = models.CharField(max_length=100, blank=True)
    resolution = models.CharField(max_length=5, choices=RESOLUTIONS, default="720p")
    ratio = models.CharField(max_length=5, choices=RATIOS, default="16:9")
    generate_audio = models.BooleanField("audio", default=False)
    watermark = models.BooleanField(default=False)
    budget_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    share_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("project-detail", args=[self.pk])

    @property
    def model_name(self):
        return self.model or providers.default_model()

    def settings_snapshot(self):
        """The project-wide inputs a take depends on."""
        return {
            "model": self.model_name,
            "resolution": self.resolution,
            "ratio": self.ratio,
            "generate_audio": self.generate_audio,
            "watermark": self.watermark,
        }

    def touch(self):
        """Say that the timeline's shape changed (a shot added, removed or moved)."""
        Project.objects.filter(pk=self.pk).update()

    def enable_sharing(self):
        if not self.share_token:
            self.share_token = secrets.token_urlsafe(24)
            self.save(update_fields=["share_token"])

    def disable_sharing(self):
        self.share_token = None
        self.save(update_fields=["share_token"])

    def timeline(self):
        """The shots in order, each knowing its chain and whether it is stale.

        A cut starts a chain and a continue extends it; `shot.chain` numbers the chains
        from 1. A shot is stale when its selected take was made from other inputs, or, for
        a continue, from another upstream take than the one now selected before it, or
        when the shot before it is stale: staleness flows down a chain.
        """
        shots = list(self.shots.in_order().with_takes())
        before = None
        chain = 0
        for shot in shots:
            shot.project = self  # one project object for all, not one per shot
            if before is None or not shot.continues:
                chain += 1
                before = None
            shot.chain = chain
            take = shot.selected_take
            shot.stale = take is not None and (
                not shot.made_from_current_inputs(take)
                or (
                    before is not None
                    and (take.upstream_take_id != before.selected_take_id or before.stale)
                )
            )
            before = shot
        later_stale = False  # whether a later shot of the same chain is stale
        for shot in reversed(shots):
            shot.has_stale_after = later_stale
            later_stale = (later_stale or shot.stale) if shot.continues else False
        return shots


class Opening(models.TextChoices):
    CUT = "cut", "Cut"
    CONTINUE = "continue", "Continue"


class ShotQuerySet(TrackedQuerySet):
    def in_order(self):
        return self.order_by("position", "id")

    def with_takes(self):
        return self.select_related("selected_take").prefetch_related("takes", "references")


class Shot(Tracked):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="shots")
    position = models.PositiveIntegerField(default=0)
    prompt = models.TextField()
    duration = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(MIN_DURATION), MaxValueValidator(MAX_DURATION)]
    )
    opening = models.CharField(max_length=8, choices=Opening.choices, default=Opening.CONTINUE)
    first_frame = models.ImageField(upload_to="first_frames/", blank=True)
    last_frame_target = models.ImageField(upload_to="last_frames/", blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    selected_take = models.ForeignKey(
        "Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ShotQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"Shot {self.number} of {self.project}"

    @property
    def number(self):
        return self.position + 1

    @property
    def continues(self):
        return self.opening == Opening.CONTINUE and self.position > 0

    def inputs(self):
        """Everything a take of this shot is generated from, except the upstream frame."""
        inputs = {
            **self.project.settings_snapshot(),
            "prompt": self.prompt,
            "duration": self.duration,
            "opening": self.opening,
            "first_frame": self.first_frame.name if self.first_frame else "",
            "seed": self.seed,
        }
        # Present only when used, so takes made before these inputs existed stay current.
        if self.last_frame_target:
            inputs["last_frame_target"] = self.last_frame_target.name
        if self.pk is not None:
            references = [reference.file.name for reference in self.references.all()]
            if references:
                inputs["references"] = references
        return inputs

    def made_from_current_inputs(self, take):
        recorded = {k: v for k, v in take.inputs.items() if k not in RETIRED_INPUTS}
        return recorded == self.inputs()

    # Project.timeline() works these out for every shot in one pass; a shot read alone
    # asks for its project's timeline the first time one is needed.

    @property
    def stale(self):
        if "_stale" not in self.__dict__:
            self._from_timeline()
        return self._stale

    @stale.setter
    def stale(self, value):
        self._stale = value

    @property
    def chain(self):
        if "_chain" not in self.__dict__:
            self._from_timeline()
        return self._chain

    @chain.setter
    def chain(self, value):
        self._chain = value

    def _from_timeline(self):
        same = next(shot for shot in self.project.timeline() if shot.pk == self.pk)
        self._stale, self._chain = same.stale, same.chain
        self.has_stale_after = same.has_stale_after

    @property
    def current_take(self):
        """The selected take when it is finished and still matches the shot's inputs."""
        take = self.selected_take
        if take is None or take.status != Take.Status.DONE or self.stale:
            return None
        return take

    def takes_in_order(self):
        """Its takes, oldest first, from the prefetched set when there is one."""
        return sorted(self.takes.all(), key=lambda t: t.number)

    @property
    def latest_take(self):
        takes = self.takes_in_order()
        return takes[-1] if takes else None

    def card_take(self):
        """The take a shot's card shows: the newest unfinished one, else the selected one."""
        takes = self.takes_in_order()
        latest = takes[-1] if takes else None
        if latest is not None and (latest.is_unfinished or self.selected_take_id is None):
            return latest
        return next((t for t in takes if t.pk == self.selected_take_id), latest)


class Reference(models.Model):
    """An image, video or audio file that guides a cut shot instead of a first frame."""

    class Kind(models.TextChoices):
        IMAGE = "image", "image"
        VIDEO = "video", "video"
        AUDIO = "audio", "audio"

    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="references")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=5, choices=Kind.choices)
    file = models.FileField(upload_to="references/")

    class Meta:
        ordering = ["shot", "position", "id"]

    def __str__(self):
        return f"Reference {self.kind} {self.position + 1} of {self.shot}"


class TakeQuerySet(TrackedQuerySet):
    def unfinished(self):
        return self.filter(status__in=Take.UNFINISHED)

    def in_flight(self):
        return self.filter(status__in=Take.IN_FLIGHT)

    def readable(self):
        """Takes whose remote task exists and is not over: what polling reads."""
        return self.in_flight().exclude(remote_id="")

    def claim(self, take, old, new, **fields):
        """Move `take` from status `old` (one, or a list) to `new`, setting `fields`, unless
        another process moved it first; True when this call did, and `take` is updated.

        Every change of a take's status goes through here, as one conditional update.
        """
        olds = [old] if isinstance(old, str) else list(old)
        fields = {"status": new, **fields}
        if not self.filter(pk=take.pk, status__in=olds).update(**fields):
            return False
        for name, value in fields.items():
            setattr(take, name, value)
        return True


def take_upload_to(take, filename):
    return f"takes/{take.shot.project_id}/{take.shot_id}/{take.pk}-{filename}"


class Take(Tracked):
    class Status(models.TextChoices):
        WAITING = "waiting", "waiting"  # for its upstream shot's last frame, or a retry
        SUBMITTING = "submitting", "submitting"
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        COLLECTING = "collecting", "downloading"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    # Not over yet: something will still happen to it.
    UNFINISHED = (
        Status.WAITING,
        Status.SUBMITTING,
        Status.QUEUED,
        Status.RUNNING,
        Status.COLLECTING,
    )
    # Sent (or being sent) to the provider and not over there: counts against its limits.
    IN_FLIGHT = (Status.SUBMITTING, Status.QUEUED, Status.RUNNING)

    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="takes")
    number = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    progress = models.FloatField(null=True, blank=True)
    # What was asked: the shot's inputs when the take was made, and the upstream take
    # whose last frame became its first frame.
    inputs = models.JSONField(default=dict)
    upstream_take = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="downstream"
    )
    provider = models.CharField(max_length=50, blank=True)
    remote_id = models.CharField(max_length=200, blank=True, db_index=True)
    # The seed sent: the shot's, or one drawn for the take, which also lets a task whose
    # create answer was lost be recognised among the provider's recent tasks.
    seed = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Creates tried.")
    # A digest of everything the last create sent (see pipeline.requests.fingerprinted).
    fingerprint = models.CharField(max_length=64, blank=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="A waiting take retries no sooner than this."
    )
    next_look_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When its task is read next."
    )
    # Refreshed by whoever works on the take ("host:pid"); a stale heartbeat, or a process
    # of this host that no longer exists, means that worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True, help_text="What happened on the way, for the card.")
    tokens = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    video = models.FileField(upload_to=take_upload_to, blank=True)
    last_frame = models.ImageField(upload_to=take_upload_to, blank=True)
    last_frame_source = models.CharField(
        max_length=10, blank=True, help_text="provider: returned by the API; video: extracted"
    )
    poster = models.ImageField(upload_to=take_upload_to, blank=True)
    duration = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider was seen to have finished it."
    )
    generation_seconds = models.FloatField(
        null=True, blank=True, help_text="How long the provider took, by its own clock."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TakeQuerySet.as_manager()

    class Meta:
        ordering = ["shot", "number"]
        constraints = [
            models.UniqueConstraint(fields=["shot", "number"], name="one_number_per_take"),
        ]

    def __str__(self):
        return f"Take {self.number} of shot {self.shot.number}"

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED

    @property
    def is_in_flight(self):
        return self.status in self.IN_FLIGHT

    @property
    def ended_badly(self):
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)

    def move(self, new, **fields):
        """Move from the status this object has to `new`, unless someone moved it first."""
        return Take.objects.claim(self, self.status, new, **fields)

    def fail(self, reason):
        """Fail with a reason the card shows, unless another process moved it on first."""
        return self.move(self.Status.FAILED, error=str(reason), finished_at=timezone.now())

    def select(self):
        """Put this take in the cut: its shot points at it, and has changed."""
        Shot.objects.filter(pk=self.shot_id).update(selected_take=self)

    def shown_progress(self):
        """0..1 for the progress bar: the provider's figure, else an estimate from time."""
        if self.status in (self.Status.DONE, self.Status.COLLECTING):
            return 1.0
        if self.progress is not None:
            return self.progress
        since = self.started_at or self.submitted_at
        if self.status not in self.IN_FLIGHT or since is None:
            return 0.0
        elapsed = (timezone.now() - since).total_seconds()
        return min(0.95, elapsed / max(1.0, self.expected_seconds()))

    def expected_seconds(self):
        """How long the provider should take, from submit to done (see projects.pace)."""
        if "_expected" not in self.__dict__:
            from .pace import Expectations

            self.expect(Expectations.recent().for_take(self))
        return self._expected

    def expect(self, seconds):
        """Say how long it should take, worked out with many others (projects.pace)."""
        self._expected = seconds


class Export(Tracked):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "rendering"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    UNFINISHED = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0)
    takes = models.JSONField(default=list, help_text="Ids of the takes joined, in order.")
    mode = models.CharField(max_length=10, blank=True, help_text="copy or reencode")
    file = models.FileField(upload_to="exports/", blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Who renders it and when it last said so, as for takes: a silent export is swept.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Export {self.pk} of {self.project}"

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED

    def filename(self):
        return f"{slugify(self.project.title) or 'storyboard'}-{self.pk}.mp4"

    def fail(self, reason):
        """Fail an unfinished export with its reason, unless it ended meanwhile."""
        return Export.objects.filter(pk=self.pk, status__in=self.UNFINISHED).update(
            status=self.Status.FAILED, error=str(reason), finished_at=timezone.now()
        )


class ProviderGate(models.Model):
    """One row per provider: claims lock it, so its limits hold across every worker."""

    provider = models.CharField(max_length=50, unique=True)

    def __str__(self):
        return self.provider


class ProviderCall(models.Model):
    """A request made to a provider, kept for a minute to count against its rate."""

    provider = models.CharField(max_length=50)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "at"])]

    def __str__(self):
        return f"{self.provider} at {self.at:%H:%M:%S}"
