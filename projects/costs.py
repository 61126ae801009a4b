"""What generating costs: tokens and price before and after, time per shot and in all."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from .models import Connection, Kind, Spend, Take
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
        "2:3": (720, 1080),  # wisgate's portrait size
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
class Work:
    """What making the takes of one kind still costs."""

    shots: int  # shots it would make
    in_progress: int  # shots being made now
    tokens: int
    price: float | None
    seconds: float  # wall time: chains run side by side, a chain in order
    held: int = 0  # shots the seam guard holds until a person acts: not being made
    behind: int = 0  # shots waiting behind a take that waits for a person

    @property
    def stopped(self):
        return self.held + self.behind

    @property
    def time_text(self):
        return spoken_seconds(self.seconds)


@dataclass
class Estimate(Work):
    """Generate's drafts, and what was billed; `final` is what Make final would cost."""

    billed_tokens: int = 0
    billed_price: float | None = None
    final: Work | None = None


@dataclass
class Bill:
    """What one button would bill, asked before it is (a card's Generate, its
    Regenerate from here): its shots made one after another, as a chain is."""

    shots: int
    tokens: int
    price: float | None
    seconds: float
    currency: str

    @property
    def time_text(self):
        return spoken_seconds(self.seconds)


def bill(project, shots, expectations, kind=Kind.DRAFT):
    """The Bill of making a take of `kind` of each of `shots`, in order."""
    asked = project.settings_for(kind)
    tokens = sum(tokens_for(asked["resolution"], asked["ratio"], s.duration) for s in shots)
    return Bill(
        shots=len(shots),
        tokens=tokens,
        price=price_of(tokens, asked["model"]),
        seconds=sum(expectations.for_shot(shot, kind) for shot in shots),
        currency=settings.SEEDANCE_CURRENCY,
    )


def work(project, shots, kind, expectations):
    """The cost of making a take of `kind` of every shot without a current one."""
    asked = project.settings_for(kind)
    busy = set()
    held = behind = 0  # held at a seam by the guard; waiting behind a hold in its chain
    stopped = False  # whether the chain so far stops at a take that waits for a person
    for shot in shots:
        latest = shot.latest_of(kind)
        if not shot.continues:
            stopped = False
        if latest is None or not latest.is_unfinished:
            stopped = False
            continue
        busy.add(shot.pk)
        if latest.is_held:
            held += 1
        elif stopped and latest.status == Take.Status.WAITING:
            behind += 1
        stopped = latest.waits_for_person or (stopped and latest.status == Take.Status.WAITING)
    pending = [s for s in shots if s.current_of(kind) is None and s.pk not in busy]
    tokens = sum(tokens_for(asked["resolution"], asked["ratio"], s.duration) for s in pending)
    chains = {}
    for shot in pending:
        chains[shot.chain] = chains.get(shot.chain, 0.0) + expectations.for_shot(shot, kind)
    return Work(
        shots=len(pending),
        in_progress=len(busy) - held - behind,
        held=held,
        behind=behind,
        tokens=tokens,
        price=price_of(tokens, asked["model"]),
        seconds=max(chains.values(), default=0.0),
    )


def estimate(project, shots, expectations=None):
    """The cost of generating every shot without a current draft (Generate), of making
    every final not made yet (Make final), and what was billed.

    `shots` come from project.timeline(). Chains run side by side, the shots of a chain
    one after another.
    """
    expectations = expectations or Expectations.recent()
    drafts = work(project, shots, Kind.DRAFT, expectations)
    billed_tokens, billed_price = billed(project)
    return Estimate(
        **vars(drafts),
        billed_tokens=billed_tokens,
        billed_price=billed_price,
        final=work(project, shots, Kind.FINAL, expectations),
    )


def billed(project):
    """What the project was billed, from the ledger (models.Spend), which deleting a
    take or a shot never lowers: (tokens, price or None). Read with the project where it
    was loaded with_billed(), else in one query."""
    if not hasattr(project, "billed_tokens"):
        rows = Spend.objects.filter(project=project).values("model").annotate(tokens=Sum("tokens"))
        prices = [price_of(row["tokens"], row["model"]) for row in rows]
        tokens = sum(row["tokens"] for row in rows)
        return tokens, None if None in prices else sum(prices)
    price = None if project.billed_unpriced else project.billed_amount
    return project.billed_tokens, price


def remaining_seconds(project, kind=Kind.DRAFT):
    """Wall time to make every shot without a current take of `kind` (those on the way
    too), chains side by side."""
    expectations = Expectations.recent()
    chains = {}
    for shot in project.timeline():
        if shot.current_of(kind) is None:
            seconds = expectations.for_shot(shot, kind)
            chains[shot.chain] = chains.get(shot.chain, 0.0) + seconds
    return max(chains.values(), default=0.0)


def spoken_seconds(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def over_budget(take):
    """Why submitting this take would exceed its project's budget or its team's budget
    for this month, with the figures, or ''.

    What was spent is the ledger's (models.Spend: deleting a take, a shot or a project
    never lowers it), and what is sent but not billed yet counts at its estimate.
    """
    project = take.shot.project
    team = project.team
    month = month_start()
    budgets = [
        (
            project.budget_tokens,
            Spend.objects.filter(project=project),
            Take.objects.filter(shot__project=project),
            "the project's budget",
            "Raise the budget in the project settings.",
        ),
        (
            team.monthly_budget_tokens,
            Spend.objects.filter(team=team, billed_at__gte=month),
            Take.objects.filter(shot__project__team=team),
            f"{team.name}'s budget for {month:%B}",
            "An owner can raise it on the team's page.",
        ),
    ]
    asked = project.settings_for(take.kind)
    needed = tokens_for(asked["resolution"], asked["ratio"], take.shot.duration)
    for budget, billed, takes, whose, remedy in budgets:
        if budget is None:
            continue
        spent = _spent(billed, takes.exclude(pk=take.pk))
        if spent + needed > budget:
            return (
                f"Not sent: it needs about {needed:,} tokens and {whose} has "
                f"{max(0, budget - spent):,} left of {budget:,}. {remedy}"
            )
    return ""


def _spent(billed, takes):
    """Tokens billed, and takes sent but not billed yet at their estimate (an uncertain
    one too: the gateway may have made it)."""
    total = billed.aggregate(total=Sum("tokens"))["total"] or 0
    sent = takes.unfinished().exclude(status=Take.Status.WAITING).filter(tokens=None)
    return total + sum(
        tokens_for(t.inputs.get("resolution"), t.inputs.get("ratio"), t.inputs.get("duration", 5))
        for t in sent
    )


def month_start():
    return timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def team_spend(team):
    """This month's billed tokens of a team, from its ledger: in all, by project (a
    deleted one by the title it had), by person and by gateway connection."""
    spend = Spend.objects.filter(team=team, billed_at__gte=month_start())
    total = spend.aggregate(total=Sum("tokens"))["total"] or 0
    by_project = (
        spend.values("project", "project_title", "project__title", "project__deleted_at")
        .annotate(tokens=Sum("tokens"))
        .order_by("-tokens")
    )
    by_person = (
        spend.values("requested_by__username").annotate(tokens=Sum("tokens")).order_by("-tokens")
    )
    by_gateway = spend.values("provider").annotate(tokens=Sum("tokens")).order_by("-tokens")
    names = dict(team.connections.values_list("pk", "name"))
    budget = team.monthly_budget_tokens
    return {
        "month": month_start(),
        "total": total,
        "budget": budget,
        "left": None if budget is None else max(0, budget - total),
        "by_project": _by_project(by_project),
        "by_person": [
            (row["requested_by__username"] or "the command line", row["tokens"])
            for row in by_person
        ],
        "by_gateway": [
            (_gateway_name(row["provider"], names), row["tokens"]) for row in by_gateway
        ],
    }


def _gateway_name(provider, names):
    """A ledger's gateway in words: the team's connection by name, else the server's."""
    connection_id = Connection.id_of(provider or "")
    if connection_id is None:
        return "the server's gateway"
    return names.get(connection_id, "a deleted connection")


def _by_project(rows):
    """(title, tokens) per project, its title now, or the one it had when it was deleted."""
    totals = {}
    for row in rows:
        if row["project"] is None or row["project__deleted_at"] is not None:
            title = f"{row['project_title']} (deleted)"
        else:
            title = row["project__title"]
        totals[title] = totals.get(title, 0) + row["tokens"]
    return sorted(totals.items(), key=lambda item: -item[1])
