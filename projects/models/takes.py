"""Takes, the attempts that generate a shot, and exports, which join the cut into a file."""

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from .tracking import Tracked, TrackedQuerySet


class TakeQuerySet(TrackedQuerySet):
    def unfinished(self):
        return self.filter(status__in=Take.UNFINISHED)

    def looking(self):
        """Uncertain takes whose task is still looked for (pipeline.uncertain)."""
        return self.filter(status=Take.Status.UNCERTAIN, next_look_at__isnull=False)

    def working(self):
        """Takes something will still happen to without a person: sent and not over at
        the provider, being collected, or an uncertain create still looked for."""
        return self.filter(
            Q(status__in=Take.WORKING) | Q(status=Take.Status.UNCERTAIN, next_look_at__isnull=False)
        )

    def in_flight(self):
        return self.filter(status__in=Take.IN_FLIGHT)

    def readable(self):
        """Takes whose remote task exists and is not over: what polling reads."""
        return self.in_flight().exclude(remote_id="")

    def update(self, **fields):
        """Every update stamps `updated_at`; one that writes more than Take.QUIET also
        stamps `changed_at`, with the same time."""
        now = fields.setdefault("updated_at", timezone.now())
        if not set(fields) <= Take.QUIET:
            fields.setdefault("changed_at", now)
        return super().update(**fields)

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


class Verdict(models.TextChoices):
    APPROVED = "approved", "approved"
    NEEDS_CHANGES = "needs_changes", "needs changes"


class Kind(models.TextChoices):
    """What a take is for. A draft is cheap (the fast model, the lowest resolution, no
    audio: providers.draft_settings) and shows the cut; a final is made at the project's
    settings, with its draft's prompt and seed, once the cut is right."""

    DRAFT = "draft", "draft"
    FINAL = "final", "final"


# Seedance makes clips at 24 fps: takes collected before each kept its own frame rate and
# frame count are counted at it until a worker probes their clip.
ASSUMED_RATE = 24


def take_upload_to(take, filename):
    return f"takes/{take.shot.project_id}/{take.shot_id}/{take.pk}-{filename}"


class Take(Tracked):
    class Status(models.TextChoices):
        WAITING = "waiting", "waiting"  # for its upstream shot's last frame, or a retry
        SUBMITTING = "submitting", "submitting"
        # The create was sent and no answer says what it did: its task may exist.
        UNCERTAIN = "uncertain", "uncertain"
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        COLLECTING = "collecting", "downloading"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    # Not over yet: something will still happen to it.
    # An uncertain take that is no longer looked for waits for a person, as a held one does.
    UNFINISHED = (
        Status.WAITING,
        Status.SUBMITTING,
        Status.UNCERTAIN,
        Status.QUEUED,
        Status.RUNNING,
        Status.COLLECTING,
    )
    # Sent (or being sent) to the provider and not over there: counts against its limits.
    IN_FLIGHT = (Status.SUBMITTING, Status.QUEUED, Status.RUNNING)
    WORKING = (*IN_FLIGHT, Status.COLLECTING)

    Kind = Kind

    shot = models.ForeignKey("Shot", on_delete=models.CASCADE, related_name="takes")
    number = models.PositiveIntegerField(default=1)
    # Takes made before drafts existed are drafts: the cut, its trims and comments are on
    # them (a draft made at the final settings stays current: Shot.made_from_current_inputs).
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.DRAFT)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    progress = models.FloatField(null=True, blank=True)
    # What was asked: the shot's inputs when the take was made, and the upstream take
    # whose last frame became its first frame.
    inputs = models.JSONField(default=dict)
    upstream_take = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="downstream"
    )
    # The upstream take's frame it started on, when the shot before was trimmed (its out
    # point); None: that take's last frame.
    upstream_out = models.PositiveIntegerField(null=True, blank=True)
    # That frame, as sent: extracted from the upstream take's clip at its out point.
    start_frame = models.ImageField(upload_to=take_upload_to, blank=True)
    # The seam guard's hold on a waiting continue: which check its start frame failed, and
    # the card's words. Nothing is sent while it is held; it holds for the upstream take
    # and out point in upstream_take and upstream_out, and a new one is checked afresh.
    held_check = models.CharField(max_length=8, blank=True)
    held = models.TextField(blank=True)
    # A frame of this take that a person picked on a held card to continue from: the
    # guard lets a continue start there unchecked (the director saw it).
    approved_out = models.PositiveIntegerField(null=True, blank=True)
    provider = models.CharField(max_length=50, blank=True)
    remote_id = models.CharField(max_length=200, blank=True, db_index=True)
    # The seed sent: the shot's, or one drawn for the take, which also lets a task whose
    # create answer was lost be recognised among the provider's recent tasks.
    seed = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Creates tried.")
    # A digest of everything the last create sent (see pipeline.requests.fingerprinted).
    fingerprint = models.CharField(max_length=64, blank=True)
    # What the last create sent, kept before it was sent (pipeline.requests.kept): a create
    # whose answer was lost is looked for by it, never by the shot as it is now.
    request = models.JSONField(default=dict, blank=True)
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
    # The clip's own first frame, for the seam inspector; made when first asked for.
    first_frame = models.ImageField(upload_to=take_upload_to, blank=True)
    duration = models.FloatField(null=True, blank=True)
    # The clip's frame rate and frames, as probed when it was collected: trims, out points
    # and seams are counted in them, as exports cut. Takes collected before they were kept
    # get them when a worker next reads their clip (pipeline.collecting.learn_frames).
    frame_rate = models.FloatField(null=True, blank=True)
    frames = models.PositiveIntegerField(null=True, blank=True)
    # What its prepared bridges were made for (pipeline.bridging.made_for: how it joins
    # and its trim); empty when none were, as for takes collected before bridges existed.
    bridged = models.CharField(max_length=60, blank=True)
    # Who asked for it: the team's spend is told by person.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A reviewer's word on it: approved, or needs changes, and who said so.
    verdict = models.CharField(max_length=14, choices=Verdict.choices, blank=True)
    verdict_by = models.CharField(max_length=120, blank=True)
    verdict_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider was seen to have finished it."
    )
    generation_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="How long the provider took: by its clock, else as closely as reads told.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    # When something its card shows last changed: like `updated_at`, but a write of
    # QUIET fields alone (a provider's progress, a worker's heartbeat) leaves it. A page
    # that reconnects gets a small progress event for such a take, not its card.
    changed_at = models.DateTimeField(auto_now=True)
    QUIET = frozenset({"progress", "heartbeat_at", "worker", "next_look_at", "updated_at"})

    objects = TakeQuerySet.as_manager()

    class Meta:
        ordering = ["shot", "number"]
        constraints = [
            models.UniqueConstraint(fields=["shot", "number"], name="one_number_per_take"),
        ]

    def __str__(self):
        return f"Take {self.number} of shot {self.shot.number}"

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is not None and not set(update_fields) <= self.QUIET:
            update_fields = {*update_fields, "changed_at"}
        super().save(*args, update_fields=update_fields, **kwargs)

    @property
    def is_final(self):
        return self.kind == Kind.FINAL

    @property
    def rate(self):
        """Its clip's frames per second: as probed, else the rate takes were assumed to
        have before they kept their own (ASSUMED_RATE)."""
        return self.frame_rate or ASSUMED_RATE

    @property
    def frame_count(self):
        """Frames in its clip (0 without one): as probed, else from its duration."""
        if self.frames is not None:
            return self.frames
        return round((self.duration or 0) * ASSUMED_RATE)

    def get_additional_data(self):
        shot = self.shot
        data = {"project": shot.project_id, "shot": shot.number, "take": self.number}
        if self.verdict_by:  # a review link's guest has no user: the name they gave
            data["guest"] = self.verdict_by
        return data

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED

    @property
    def is_in_flight(self):
        return self.status in self.IN_FLIGHT

    @property
    def is_held(self):
        return self.status == self.Status.WAITING and bool(self.held)

    @property
    def is_uncertain(self):
        return self.status == self.Status.UNCERTAIN

    @property
    def is_unresolved(self):
        """Uncertain, and no longer looked for: a person decides whether to send it again."""
        return self.is_uncertain and self.next_look_at is None

    @property
    def waits_for_person(self):
        return self.is_held or self.is_unresolved

    @property
    def ended_badly(self):
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)

    def move(self, new, **fields):
        """Move from the status this object has to `new`, unless someone moved it first."""
        return Take.objects.claim(self, self.status, new, **fields)

    def fail(self, reason):
        """Fail with a reason the card shows, unless another process moved it on first.
        The row alone: pipeline.fail_take also tells the team's webhooks."""
        return self.move(self.Status.FAILED, error=str(reason), finished_at=timezone.now())

    def select(self):
        """Put this take in the cut of its kind: its shot points at it, and has changed."""
        from .projects import Shot

        # Set aside shots too (Shot.everywhere).
        Shot.everywhere.filter(pk=self.shot_id).update(**{self.selection_field(): self})

    def selection_field(self):
        """The shot's field that picks a take of this kind for the cut."""
        return "selected_final" if self.is_final else "selected_take"

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
            from ..pace import Expectations

            self.expect(Expectations.recent().for_take(self))
        return self._expected

    def expect(self, seconds):
        """Say how long it should take, worked out with many others (projects.pace)."""
        self._expected = seconds


class Format(models.TextChoices):
    """What an export is: the cut as one video, or what editors and players open."""

    MP4 = "mp4", "MP4 video"
    ZIP = "zip", "editor's bundle (zip)"
    OTIO = "otio", "OpenTimelineIO"
    FCPXML = "fcpxml", "Final Cut Pro / DaVinci Resolve (FCPXML)"
    EDL = "edl", "CMX 3600 EDL"
    SRT = "srt", "captions (SRT)"
    VTT = "vtt", "captions (WebVTT)"
    PNG = "png", "contact sheet (PNG)"
    PDF = "pdf", "storyboard (PDF)"


# Timelines point at their clips by relative path (clips/NN-….mp4): only the editor's
# bundle holds the clips beside them, so the page offers them only inside it (the command
# line writes the clips beside a timeline it writes alone).
TIMELINES = (Format.OTIO, Format.FCPXML, Format.EDL)

# The export list's groups, in order: each a heading and the formats under it.
GROUPS = (
    ("Video", (Format.MP4,)),
    ("For editors", (Format.ZIP, *TIMELINES)),
    ("Captions", (Format.SRT, Format.VTT)),
    ("Contact sheets", (Format.PNG,)),
    ("Printed storyboards", (Format.PDF,)),
)


class ExportQuerySet(TrackedQuerySet):
    def start_or_join(self, project, kind, **fields):
        """A new export of `project`'s cut of `kind`, or the unfinished one of the same
        choice (kind, format, seamless, loudness) that a second request joins: one job
        whoever asks again. (export, True when new). The project's row is locked while
        looking, so two requests at once make one export."""
        choice = {"kind": kind, **{k: fields[k] for k in ("format", "seamless", "normalize")}}
        with transaction.atomic():
            type(project).objects.select_for_update().filter(pk=project.pk).first()
            running = self.filter(project=project, status__in=Export.UNFINISHED, **choice)
            export = running.order_by("created_at").first()
            if export is not None:
                return export, False
            return self.create(project=project, kind=kind, **fields), True


class Export(Tracked):
    Format = Format
    TIMELINES = TIMELINES
    GROUPS = GROUPS

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "rendering"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    UNFINISHED = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Which takes it joins: each shot's selected draft, or each shot's selected final.
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.DRAFT)
    progress = models.FloatField(default=0)
    takes = models.JSONField(default=list, help_text="Ids of the takes joined, in order.")
    # The cut as it was asked for: each piece's take, trims, join and transition.
    plan = models.JSONField(default=list, blank=True)
    format = models.CharField(max_length=7, choices=Format.choices, default=Format.MP4)
    seamless = models.BooleanField(
        default=True, help_text="Drop the frame each continue repeats from the shot before."
    )
    normalize = models.BooleanField("loudness to -16 LUFS", default=False)
    mode = models.CharField(max_length=10, blank=True, help_text="copy, smart or reencode")
    file = models.FileField(upload_to="exports/", blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # What it is doing besides rendering: waiting for a bridge another worker encodes.
    note = models.CharField(max_length=200, blank=True)
    # Who renders it and when it last said so, as for takes: a silent export is swept. While
    # it is queued, when the sweep sent it to the task queue again (pipeline.exporting).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Export {self.pk} of {self.project}"

    def get_additional_data(self):
        return {"project": self.project_id}

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED

    def filename(self):
        return f"{slugify(self.project.title) or 'storyboard'}-{self.pk}.{self.format}"

    def fail(self, reason):
        """Fail an unfinished export with its reason, unless it ended meanwhile. The row
        alone: pipeline.fail_export also tells the team's webhooks."""
        fields = {"status": self.Status.FAILED, "error": str(reason), "finished_at": timezone.now()}
        failed = Export.objects.filter(pk=self.pk, status__in=self.UNFINISHED).update(**fields)
        if failed:
            for name, value in fields.items():
                setattr(self, name, value)
        return failed
