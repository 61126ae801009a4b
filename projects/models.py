"""Projects, their shots, the takes that generate them, and exports of the cut."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from . import providers

MIN_DURATION, MAX_DURATION = 4, 15

RESOLUTIONS = [("480p", "480p"), ("720p", "720p"), ("1080p", "1080p")]
RATIOS = [(r, r) for r in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")]


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


class ProjectQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(team__members=user)


class Project(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    title = models.CharField(max_length=200)
    # Default generation settings, used by every shot of the project.
    provider = models.CharField(
        max_length=50, blank=True, help_text="Empty: the provider configured for this server."
    )
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
    updated_at = models.DateTimeField(auto_now=True)

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
            "provider": self.provider,
            "model": self.model_name,
            "resolution": self.resolution,
            "ratio": self.ratio,
            "generate_audio": self.generate_audio,
            "watermark": self.watermark,
        }

    def enable_sharing(self):
        if not self.share_token:
            self.share_token = secrets.token_urlsafe(24)
            self.save(update_fields=["share_token", "updated_at"])

    def disable_sharing(self):
        self.share_token = None
        self.save(update_fields=["share_token", "updated_at"])

    def chains(self):
        """The shots grouped into chains: a cut starts a new one, a continue extends it."""
        chains = []
        for shot in self.shots.in_order():
            if not chains or shot.opening == Opening.CUT:
                chains.append([])
            chains[-1].append(shot)
        return chains

    def timeline(self):
        """The shots in order, each with `stale` set: staleness flows down a chain.

        A shot is stale when its selected take was made from other inputs, or, for a
        continue, from another upstream take than the one now selected before it, or
        when the shot before it is stale.
        """
        shots = list(self.shots.in_order().with_takes())
        before = None
        for shot in shots:
            take = shot.selected_take
            shot.stale = take is not None and (
                take.inputs != shot.inputs()
                or (
                    shot.continues
                    and before is not None
                    and (take.upstream_take_id != before.selected_take_id or before.stale)
                )
            )
            before = shot
        later_stale = False  # whether a later shot of the same chain is stale
        for shot in reversed(shots):
            shot.has_stale_after = later_stale
            later_stale = (later_stale or shot.stale) if shot.continues else False
        return shots

    def selected_takes(self):
        """The takes of the cut, in order; None where a shot has no current take."""
        return [shot.current_take for shot in self.timeline()]


class Opening(models.TextChoices):
    CUT = "cut", "Cut"
    CONTINUE = "continue", "Continue"


class ShotQuerySet(models.QuerySet):
    def in_order(self):
        return self.order_by("position", "id")

    def with_takes(self):
        return self.select_related("selected_take", "project").prefetch_related(
            "takes", "references"
        )


class Shot(models.Model):
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
    updated_at = models.DateTimeField(auto_now=True)

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
        return self.opening == Opening.CONTINUE

    def predecessor(self):
        return self.project.shots.in_order().filter(position__lt=self.position).last()

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

    @property
    def current_take(self):
        """The selected take when it is finished and still matches the shot's inputs.

        Needs `stale`, which Project.timeline() sets on every shot in one pass.
        """
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


class TakeQuerySet(models.QuerySet):
    def unfinished(self):
        return self.filter(status__in=Take.UNFINISHED)

    def in_flight(self):
        return self.filter(status__in=[Take.Status.QUEUED, Take.Status.RUNNING])

    def pace(self, model):
        """Median seconds of generation per second of video of the model's recent takes."""
        recent = (
            self.filter(
                status=Take.Status.DONE,
                inputs__model=model,
                started_at__isnull=False,
                finished_at__isnull=False,
            )
            .order_by("-finished_at")
            .values_list("started_at", "finished_at", "inputs")[:20]
        )
        rates = sorted(
            (end - start).total_seconds() / max(1, inputs.get("duration") or 1)
            for start, end, inputs in recent
        )
        return rates[len(rates) // 2] if rates else None

    def expected_seconds(self, model, duration, pace=None):
        """How long a clip should take: the model's pace, else the provider's typical."""
        pace = pace if pace is not None else self.pace(model)
        return pace * duration if pace is not None else providers.typical_seconds(duration)


def take_upload_to(take, filename):
    return f"takes/{take.shot.project_id}/{take.shot_id}/{take.pk}-{filename}"


class Take(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "waiting"  # for its upstream shot's last frame
        SUBMITTING = "submitting", "submitting"
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        COLLECTING = "collecting", "downloading"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    UNFINISHED = [
        Status.WAITING,
        Status.SUBMITTING,
        Status.QUEUED,
        Status.RUNNING,
        Status.COLLECTING,
    ]

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
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="A waiting take retries no sooner than this."
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

    def select(self):
        """Put this take in the cut: its shot points at it, and has changed."""
        Shot.objects.filter(pk=self.shot_id).update(selected_take=self, updated_at=timezone.now())

    @property
    def is_active(self):
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.COLLECTING)

    def shown_progress(self):
        """0..1 for the progress bar: the provider's figure, else an estimate from time."""
        if self.status in (self.Status.DONE, self.Status.COLLECTING):
            return 1.0
        if self.progress is not None:
            return self.progress
        if self.status != self.Status.RUNNING or self.started_at is None:
            return 0.0
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return min(0.95, elapsed / max(1.0, self.expected_seconds()))

    def expected_seconds(self):
        """How long generation should take, from this model's recent takes."""
        return Take.objects.expected_seconds(
            self.inputs.get("model"), self.inputs.get("duration", 5)
        )


class Export(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "rendering"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0)
    takes = models.JSONField(default=list, help_text="Ids of the takes joined, in order.")
    mode = models.CharField(max_length=10, blank=True, help_text="copy or reencode")
    file = models.FileField(upload_to="exports/", blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
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
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    def filename(self):
        from django.utils.text import slugify

        return f"{slugify(self.project.title) or 'storyboard'}-{self.pk}.mp4"


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
