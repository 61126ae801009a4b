"""What generating costs: tokens and price before and after, time per shot and in all."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum

from .models import Take
from .pace import Expectations

# Pixel sizes of Seedance 2.0 clips, by resolution and ratio.
PIXELS = {
    "480p": {
        "16:9": (864, 496),
        "4:3": (752, 560),
        "1:1": (640, 640),
        "3:4": (560, 752),
        "9:16": (496, 864),
        "21:9": (992, 432),
    },
    "720p": {
        "16:9": (1280, 720),
        "4:3": (1112, 834),
        "1:1": (960, 960),
        "3:4": (834, 1112),
        "9:16": (720, 1280),
        "21:9": (1470, 630),
    },
    "1080p": {
        "16:9": (1920, 1080),
        "4:3": (1664, 1248),
        "1:1": (1440, 1440),
        "3:4": (1248, 1664),
        "9:16": (1080, 1920),
        "21:9": (2206, 946),
    },
}


def tokens_for(resolution, ratio, duration):
    """Billed tokens of one clip: width x height x frames / 1024, with 24 x duration + 1
    frames (a 720p 16:9 5 s clip bills 108900)."""
    width, height = PIXELS.get(resolution, PIXELS["720p"]).get(ratio, (1280, 720))
    return width * height * (24 * duration + 1) // 1024


def price_of(tokens, model):
    """The price of `tokens` for `model`, or None when no price is configured for it."""
    per_million = settings.SEEDANCE_PRICES.get(model)
    return None if per_million is None else tokens * per_million / 1_000_000


@dataclass
class Estimate:
    shots: int  # shots Generate would make
    in_progress: int  # shots being made now
    tokens: int
    price: float | None
    seconds: float  # wall time: chains run side by side, a chain in order
    billed_tokens: int
    billed_price: float | None

    @property
    def time_text(self):
        return spoken_seconds(self.seconds)


def estimate(project, shots, expectations=None):
    """The cost of generating every shot without a current take, and what was billed.

    `shots` come from project.timeline(). Chains run side by side, the shots of a chain
    one after another.
    """
    expectations = expectations or Expectations.recent()
    model = project.model_name
    busy = {shot.pk for shot in shots if shot.latest_take and shot.latest_take.is_unfinished}
    pending = [shot for shot in shots if shot.current_take is None and shot.pk not in busy]
    tokens = sum(tokens_for(project.resolution, project.ratio, s.duration) for s in pending)
    pending = {shot.pk for shot in pending}
    chains = {}
    for shot in shots:
        if shot.pk in pending:
            chains[shot.chain] = chains.get(shot.chain, 0.0) + expectations.for_shot(shot)
    seconds = max(chains.values(), default=0.0)
    billed = Take.objects.filter(shot__project=project).aggregate(total=Sum("tokens"))["total"] or 0
    return Estimate(
        shots=len(pending),
        in_progress=len(busy),
        tokens=tokens,
        price=price_of(tokens, model),
        seconds=seconds,
        billed_tokens=billed,
        billed_price=price_of(billed, model),
    )


def remaining_seconds(project):
    """Wall time to make every shot without a current take, chains side by side."""
    expectations = Expectations.recent()
    chains = {}
    for shot in project.timeline():
        if shot.current_take is None:
            chains[shot.chain] = chains.get(shot.chain, 0.0) + expectations.for_shot(shot)
    return max(chains.values(), default=0.0)


def spoken_seconds(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def over_budget(take):
    """Why submitting this take would exceed its project's budget, or ''."""
    project = take.shot.project
    if project.budget_tokens is None:
        return ""
    takes = Take.objects.filter(shot__project=project).exclude(pk=take.pk)
    billed = takes.aggregate(total=Sum("tokens"))["total"] or 0
    # Takes sent but not yet billed count at their estimate.
    sent = takes.unfinished().exclude(status=Take.Status.WAITING).filter(tokens=None)
    pending = sum(
        tokens_for(t.inputs.get("resolution"), t.inputs.get("ratio"), t.inputs.get("duration", 5))
        for t in sent
    )
    needed = tokens_for(project.resolution, project.ratio, take.shot.duration)
    if billed + pending + needed <= project.budget_tokens:
        return ""
    left = max(0, project.budget_tokens - billed - pending)
    return (
        f"Not sent: it needs about {needed:,} tokens and the project's budget has {left:,} "
        f"left of {project.budget_tokens:,}. Raise the budget in the project settings."
    )
