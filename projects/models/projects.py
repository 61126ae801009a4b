"""Projects and their shots: what a team means to make, in order."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.urls import reverse

from .. import providers
from .comments import Comment
from .connections import Connection
from .takes import Kind, Take
from .teams import Team
from .tracking import Tracked, TrackedQuerySet

MIN_DURATION, MAX_DURATION = 4, 15
# The longest prompt a shot may have. None of the gateways' documents (seeds 000-004) nor
# ByteDance's own API reference sets a maximum: every prompt they show is one sentence of
# at most 200 characters, and gateway 002 asks for a paragraph (subject, action, scene,
# camera, lighting, style, constraints, the assets named "image 1", "video 1"). ByteDance's
# prompt guidance for Seedance 2.0 is at most 500 Chinese characters or 1,000 English words,
# past which the model drops details: 1,000 English words are about 6,000 characters with
# their spaces. A longer prompt cannot help a shot; a 20,000-character one only costs.
MAX_PROMPT = 6000
MAX_NOTES = 6000

RESOLUTIONS = [("480p", "480p"), ("720p", "720p"), ("1080p", "1080p")]
# 2:3 is one gateway's portrait 720p (wisgate's 720x1080); the others refuse it.
RATIOS = [(r, r) for r in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "2:3")]
# Keys a take's recorded inputs may hold from before they were dropped; never compared.
RETIRED_INPUTS = {"provider"}


class ProjectQuerySet(TrackedQuerySet):
    def for_user(self, user):
        return self.filter(team__members=user)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def with_billed(self):
        """Each project with what its team was billed for it, from the ledger
        (models.Spend: deleting a take or a shot never lowers it), read with the project
        itself: `billed_tokens`, `billed_price` (None when a model billed has no price)."""
        from .spend import Spend

        spend = Spend.objects.filter(project=OuterRef("pk")).order_by().values("project")
        prices = settings.SEEDANCE_PRICES

        def total(expression, default):
            return Coalesce(Subquery(spend.annotate(total=expression).values("total")), default)

        price = Value(0.0)
        if prices:
            rate = [When(model=m, then=F("tokens") * Value(p / 1e6)) for m, p in prices.items()]
            price = total(Sum(Case(*rate, output_field=FloatField())), Value(0.0))
        return self.annotate(
            billed_tokens=total(Sum("tokens"), 0),
            billed_amount=price,
            billed_unpriced=total(Count("pk", filter=~Q(model__in=list(prices))), 0),
        )


class ProjectManager(models.Manager.from_queryset(ProjectQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Edited(models.Model):
    """Edited by people: each edit counts, so two editors never overwrite each other
    (projects.edits)."""

    version = models.PositiveIntegerField(default=1)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True


class Project(Tracked, Edited):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    title = models.CharField(max_length=200)
    # The team's gateway connection its new takes go through; none: the team's default.
    connection = models.ForeignKey(
        "Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="projects",
        verbose_name="gateway",
    )
    # Default generation settings, used by every shot of the project.
    model = models.CharField(max_length=100, blank=True)
    # The fast model drafts are made with; blank: the provider's fast sibling of `model`
    # where one is known, else `model` itself (an endpoint id names no sibling).
    draft_model = models.CharField(max_length=100, blank=True)
    resolution = models.CharField(max_length=5, choices=RESOLUTIONS, default="720p")
    ratio = models.CharField(max_length=5, choices=RATIOS, default="16:9")
    generate_audio = models.BooleanField("audio", default=False)
    watermark = models.BooleanField(default=False)
    budget_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    # The seam guard (pipeline.guarding): the checks a continue's start frame must pass before
    # anything is sent; a failing frame holds the chain. Each can be turned off.
    guard_blank = models.BooleanField(
        "hold on a near-black or near-uniform start frame", default=True
    )
    guard_cut = models.BooleanField("hold on a start frame just after a scene cut", default=True)
    guard_blur = models.BooleanField("hold on a blurred start frame", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Deleted by a person while takes of it were still at the provider: gone from every
    # page, kept until they end (pipeline.cancelling), so what they cost is collected.
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Every query of projects leaves out deleted ones; `everywhere` sees them too.
    objects = ProjectManager()
    everywhere = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        default_manager_name = "objects"

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("project-detail", args=[self.pk])

    def get_additional_data(self):
        """What the activity log files this change under (django-auditlog)."""
        return {"project": self.pk, "team": self.team_id}

    def gateway(self):
        """The provider this project's new takes go through: its own pick among its team's
        gateway connections, else the team's default, else the server's own; None while
        that is misconfigured (Connection.chosen_for). Read once per project object."""
        if "_gateway" not in self.__dict__:
            connection = Connection.chosen_for(self, fresh=False)
            try:  # what pages read of it needs no key: it stays sealed
                self._gateway = (
                    connection.provider(keyed=False) if connection else providers.deployment()
                )
            except providers.ProviderError:
                self._gateway = None
        return self._gateway

    @property
    def model_name(self):
        return self.model or providers.default_model(self.gateway())

    def settings_snapshot(self):
        """The project-wide inputs a take depends on: the final settings."""
        return {
            "model": self.model_name,
            "resolution": self.resolution,
            "ratio": self.ratio,
            "generate_audio": self.generate_audio,
            "watermark": self.watermark,
        }

    def settings_for(self, kind):
        """The settings takes of `kind` are made with: a final, the project's; a draft,
        the cheapest the provider makes of them (providers.draft_settings)."""
        final = self.settings_snapshot()
        if kind == Kind.FINAL:
            return final
        return providers.draft_settings(final, self.draft_model, self.gateway())

    def cast_list(self):
        """Its cast, read once per project object (the page and its form); nothing is read
        when its timeline() found it has none."""
        if "_cast_list" not in self.__dict__:
            none = self.__dict__.get("_has_cast") is False
            self._cast_list = [] if none else list(self.cast.all())
        return self._cast_list

    def guard_checks(self):
        """The seam guard's checks this project keeps on (names of media.guard.CHECKS)."""
        return tuple(name for name in ("blank", "cut", "blur") if getattr(self, f"guard_{name}"))

    def touch(self):
        """Say that the timeline's shape changed (a shot added, removed or moved)."""
        Project.objects.filter(pk=self.pk).update()

    def view_link(self):
        """The project's live view-only link, made when it has none."""
        from .links import Link

        link = self.links.live().filter(kind=Link.Kind.VIEW).first()
        return link or Link.make(self, Link.Kind.VIEW)

    def timeline(self):
        """The shots in order, each knowing its chain and whether it is stale.

        A cut starts a chain and a continue extends it; `shot.chain` numbers the chains
        from 1. A shot is stale when its selected take was made from other inputs, or, for
        a continue, from another upstream take than the one now selected before it, or
        when the shot before it is stale: staleness flows down a chain.

        Drafts and finals are two cuts over the same shots: `shot.stale` judges the
        selected draft against the draft before it, `shot.final_stale` the selected
        final against the final before it (finals chain from finals).
        """
        # Whether each shot has a cast, and the project one, told with the shots: only
        # the casts there are are read.
        shots = list(
            self.shots.in_order()
            .with_takes()
            .annotate(
                has_cast=Exists(Shot.cast.through.objects.filter(shot_id=OuterRef("pk"))),
                project_has_cast=Exists(
                    self.cast.model.objects.filter(project_id=OuterRef("project_id"))
                ),
            )
        )
        self.__dict__.pop("_cast_list", None)
        self._has_cast = shots[0].project_has_cast if shots else None
        prefetch_related_objects([shot for shot in shots if shot.has_cast], "cast__images")
        before = None
        chain = 0
        for shot in shots:
            shot.project = self  # one project object for all, not one per shot
            shot.without_cast = not shot.has_cast
            if before is None or not shot.continues:
                chain += 1
                before = None
            shot.chain = chain
            shot.stale_reason = _stale_reason(shot, before)
            shot.stale = bool(shot.stale_reason)
            shot.final_stale_reason = _stale_reason(shot, before, Kind.FINAL)
            shot.final_stale = bool(shot.final_stale_reason)
            shot.is_last = False
            before = shot
        if shots:
            shots[-1].is_last = True
        later_stale = False  # whether a later shot of the same chain is stale
        later = []  # the later shots of the same chain
        for shot in reversed(shots):
            shot.has_stale_after = later_stale
            shot.chain_after = later
            later_stale = (later_stale or shot.stale) if shot.continues else False
            later = [shot, *later] if shot.continues else []
        return shots


def _stale_reason(shot, before, kind=Kind.DRAFT):
    """Why the shot's selected take of `kind` no longer fits the timeline ("" when it
    does); `before` is the shot it continues, None when it opens a chain. Drafts and
    finals are two cuts: a final continues the final selected before it."""
    take = shot.selected_of(kind)
    if take is None:
        return ""
    if not shot.made_from_current_inputs(take):
        return _changed_cast(take, shot) or "made before a change to this shot"
    if before is None:
        if take.upstream_take_id is not None:
            return "now opens its chain; it was made continuing another shot"
        return ""
    if take.upstream_take_id not in {other.pk for other in before.takes.all()}:
        return f"now follows shot {before.number}"
    final = kind == Kind.FINAL
    if take.upstream_take_id != (before.selected_final_id if final else before.selected_take_id):
        return f"shot {before.number} has another {'final' if final else 'take'} in the cut"
    if take.upstream_out != before.trim_out:
        return f"the out point of shot {before.number} moved"
    if before.final_stale if final else before.stale:
        return f"shot {before.number} is stale"
    return ""


def _changed_cast(take, shot):
    """ "Mara's look changed" when what changed since `take` is its cast alone (their
    descriptions or images, who is in it, a name, with the prompts a rename rewrote)."""
    from .cast import rewrite

    recorded = {k: v for k, v in take.inputs.items() if k not in RETIRED_INPUTS}
    before = {member["id"]: member for member in recorded.get("cast", [])}
    for kind in (Kind.FINAL, Kind.DRAFT):
        now = shot.inputs(kind)
        prompt = recorded.get("prompt", "")
        changed = []
        for member in now.get("cast", []):
            old = before.get(member["id"])
            if old is None:
                changed.append(f"{member['name']} joined the shot")
                continue
            if (old["description"], old["images"]) != (member["description"], member["images"]):
                changed.append(f"{member['name']}'s look changed")
            if old["name"] != member["name"]:
                prompt = rewrite(prompt, old["name"], member["name"])
                changed.append(f"{old['name']} is now called {member['name']}")
        gone = set(before) - {member["id"] for member in now.get("cast", [])}
        changed += [f"{before[pk]['name']} left the shot" for pk in sorted(gone)]
        rest = {k: v for k, v in recorded.items() if k not in ("cast", "prompt")}
        if (
            changed
            and prompt == now["prompt"]
            and rest == {k: v for k, v in now.items() if k not in ("cast", "prompt")}
        ):
            return ", ".join(changed)
    return ""


class Opening(models.TextChoices):
    CUT = "cut", "Cut"
    CONTINUE = "continue", "Continue"


class Transition(models.TextChoices):
    """How a cut enters; a continue never has one: it is continuous already."""

    CROSSFADE = "crossfade", "crossfade"
    DIP = "dip", "dip to black"


class ShotQuerySet(TrackedQuerySet):
    def removed(self):
        """Removed shots an undo may still put back."""
        return self.filter(removed_at__isnull=False, deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def in_order(self):
        return self.order_by("position", "id")

    def with_takes(self):
        return self.select_related("selected_take", "selected_final").prefetch_related(
            "takes",
            "references",
            Prefetch("comments", Comment.objects.select_related("author", "take")),
        )


class ShotManager(models.Manager.from_queryset(ShotQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(removed_at__isnull=True)


class Shot(Tracked, Edited):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="shots")
    position = models.PositiveIntegerField(default=0)
    prompt = models.TextField(max_length=MAX_PROMPT)
    # Its dialogue and notes (a script import puts the scene's lines here): for people, in
    # captions and the printed storyboard; never sent to the gateway.
    notes = models.TextField(max_length=MAX_NOTES, blank=True)
    duration = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(MIN_DURATION), MaxValueValidator(MAX_DURATION)]
    )
    opening = models.CharField(max_length=8, choices=Opening.choices, default=Opening.CONTINUE)
    first_frame = models.ImageField(upload_to="first_frames/", blank=True)
    last_frame_target = models.ImageField(upload_to="last_frames/", blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    # The cast it names: by `@Name` in its prompt or picked beside it (projects.cast).
    cast = models.ManyToManyField("CastMember", blank=True, related_name="shots")
    # The draft in the cut (takes made before drafts existed are drafts), and the final
    # in the cut of finals once Make final has made one.
    selected_take = models.ForeignKey(
        "Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    selected_final = models.ForeignKey(
        "Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # In the cut: the frames of its selected take that play (`trim_out` inclusive, None:
    # the clip's end), and how a cut enters: a crossfade or a dip to black of N frames.
    trim_in = models.PositiveIntegerField("in point (frame)", default=0)
    trim_out = models.PositiveIntegerField("out point (frame)", null=True, blank=True)
    transition = models.CharField(max_length=9, choices=Transition.choices, blank=True)
    transition_frames = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(2), MaxValueValidator(72)]
    )

    # Deleted, but still to be had back until the project's next change (projects.arrange).
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_from = models.PositiveIntegerField(null=True, blank=True)  # its position then
    # Removed for good while takes of it were still at the provider: kept, out of reach of
    # undo, until they end (pipeline.cancelling).
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Shots in the project: every query of shots, through a project or not, leaves out
    # removed ones; `everywhere` sees them too, for undoing and forgetting them.
    objects = ShotManager()
    everywhere = ShotQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        default_manager_name = "objects"

    def __str__(self):
        return f"Shot {self.number} of {self.project}"

    def get_additional_data(self):
        return {"project": self.project_id, "shot": self.number}

    @property
    def number(self):
        return self.position + 1

    @property
    def continues(self):
        return self.opening == Opening.CONTINUE and self.position > 0

    @property
    def opening_now(self):
        """How it opens where it stands: a continue moved to the top opens as a cut (and
        continues again when moved back)."""
        return Opening.CONTINUE if self.continues else Opening.CUT

    def get_opening_display(self):
        return Opening(self.opening_now).label

    def inputs(self, kind=Kind.FINAL):
        """Everything a take of `kind` of this shot is generated from, except the upstream
        frame and a final's seed drawn for its draft."""
        inputs = {
            **self.project.settings_for(kind),
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
            cast = self.cast_inputs()
            if cast:
                inputs["cast"] = cast
        return inputs

    def cast_in_order(self):
        """Its cast in the order the prompt names them (`@Name`), then the others by name:
        the order their images go out in, "image 1" first."""
        if self.pk is None or getattr(self, "without_cast", False):
            return []
        members = sorted(self.cast.all(), key=lambda member: member.name.lower())
        from .cast import mentioned_order

        return mentioned_order(self.prompt, members)

    def cast_inputs(self):
        """What of its cast a take depends on: each member's description and images."""
        return [
            {
                "id": member.pk,
                "name": member.name,
                "description": member.description,
                "images": [image.file.name for image in member.image_list()],
            }
            for member in self.cast_in_order()
        ]

    def made_from_current_inputs(self, take):
        """Whether `take` was made from what its kind would send now. A draft made at the
        final settings counts too: it is no worse a draft (and takes made before drafts
        existed, at the project's settings, stay current)."""
        recorded = {k: v for k, v in take.inputs.items() if k not in RETIRED_INPUTS}
        if recorded == self.inputs(Kind.FINAL):
            return True
        return not take.is_final and recorded == self.inputs(Kind.DRAFT)

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

    @property
    def final_stale(self):
        if "_final_stale" not in self.__dict__:
            self._from_timeline()
        return self._final_stale

    @final_stale.setter
    def final_stale(self, value):
        self._final_stale = value

    def _from_timeline(self):
        same = next(shot for shot in self.project.timeline() if shot.pk == self.pk)
        self._stale, self._chain = same.stale, same.chain
        self._final_stale = same.final_stale
        self.stale_reason, self.final_stale_reason = same.stale_reason, same.final_stale_reason
        self.has_stale_after, self.is_last = same.has_stale_after, same.is_last

    def selected_of(self, kind):
        return self.selected_final if kind == Kind.FINAL else self.selected_take

    def current_of(self, kind):
        """The selected take of `kind` when it is finished and still matches the shot's
        inputs and, for a continue, the take of the same kind selected before it."""
        take = self.selected_of(kind)
        stale = self.final_stale if kind == Kind.FINAL else self.stale
        if take is None or take.status != Take.Status.DONE or stale:
            return None
        return take

    @property
    def current_take(self):
        """The selected draft when it is finished and current."""
        return self.current_of(Kind.DRAFT)

    @property
    def current_final(self):
        """The selected final when it is finished and current."""
        return self.current_of(Kind.FINAL)

    def takes_of(self, kind):
        """Its takes of `kind`, oldest first, from the prefetched set when there is one."""
        return sorted((t for t in self.takes.all() if t.kind == kind), key=lambda t: t.number)

    def takes_in_order(self):
        """Its drafts, oldest first: the takes the card lists to pick from."""
        return self.takes_of(Kind.DRAFT)

    def final_takes(self):
        return self.takes_of(Kind.FINAL)

    def latest_of(self, kind):
        takes = self.takes_of(kind)
        return takes[-1] if takes else None

    @property
    def latest_take(self):
        return self.latest_of(Kind.DRAFT)

    def next_number(self):
        """The number a new take of either kind gets."""
        return max((t.number for t in self.takes.all()), default=0) + 1

    def card_of(self, kind):
        """The take of `kind` a card shows: the newest unfinished one, else the selected one."""
        takes = self.takes_of(kind)
        latest = takes[-1] if takes else None
        selected_id = self.selected_final_id if kind == Kind.FINAL else self.selected_take_id
        if latest is not None and (latest.is_unfinished or selected_id is None):
            return latest
        return next((t for t in takes if t.pk == selected_id), latest)

    def card_take(self):
        return self.card_of(Kind.DRAFT)

    def card_final(self):
        return self.card_of(Kind.FINAL)


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
