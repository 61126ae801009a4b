"""What the web's views and the JSON API both do, in one place below them both: each
takes rows already allowed by projects.access and does the thing, or says why not."""

from django.db import transaction
from django_q.tasks import async_task

from .access import creatable_teams
from .models import Team


def teams_for_new_project(user, token=None):
    """The teams a new project of `user`'s may go to; one of their own, made now, when
    they are in no team at all."""
    teams = creatable_teams(user, token)
    if not teams.exists() and not user.memberships.exists():
        teams = Team.objects.filter(pk=Team.default_for(user).pk)
    return teams


def start_pipeline(project):
    transaction.on_commit(lambda: async_task("projects.tasks.start", project.pk))
