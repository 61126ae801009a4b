"""Teams: those the token reaches, with the token owner's role in each."""

from django.db.models import F
from ninja import Router, Schema

from ..access import in_reach
from ..models import Team
from .common import Id, answers, paginated, team

router = Router(tags=["teams"])


class TeamOut(Schema):
    id: int
    name: str
    role: str
    monthly_budget_tokens: int | None = None


@router.get("/", response=answers(list[TeamOut]), url_name="team-list")
@paginated
def team_list(request):
    """The teams the token reaches, by name."""
    teams = Team.objects.filter(memberships__user=request.user).annotate(
        role=F("memberships__role")
    )
    return in_reach(teams, request.auth, "pk").order_by("name", "pk")


@router.get("/{int:team_id}", response=answers(TeamOut), url_name="team-detail")
def team_detail(request, team_id: Id):
    found, role = team(request, team_id)
    found.role = role
    return found
