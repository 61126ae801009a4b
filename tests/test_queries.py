"""What pages cost in queries: a constant, however many shots, states, held seams or teams."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from projects.models import Comment, Kind, Membership, Reference, Role, Take, Team
from tests.factories import make_project, make_take

pytestmark = pytest.mark.django_db


def every_state(user, count=200):
    """A project of `count` shots whose cards show every state, in turn: done (picked
    among several, approved, commented, trimmed), stale, held by the seam guard (and one
    waiting behind it), waiting, submitting, queued, running, collecting, failed,
    cancelled, a draft with its final, never generated."""
    project = make_project(user, shots=[(f"Shot {n}", "continue") for n in range(count)])
    shots = list(project.shots.in_order())
    kinds = itertools.cycle(
        ["done", "held", "behind", "stale", "waiting", "submitting", "queued", "running"]
        + ["collecting", "failed", "cancelled", "final", "new", "references"]
    )
    before = None
    for shot, kind in zip(shots, kinds, strict=False):
        upstream = before.selected_take if before is not None else None
        if kind in ("done", "stale", "final", "references"):
            make_take(shot, select=False, upstream=upstream)
            take = make_take(shot, upstream=upstream, verdict="approved", verdict_by="ada")
            Comment.objects.create(shot=shot, take=take, author=user, body="@ada this one")
            shot.trim_in, shot.trim_out = 2, 80
            shot.save(update_fields=["trim_in", "trim_out"])
            if kind == "stale":
                shot.prompt += " at night"
                shot.save(update_fields=["prompt"])
            if kind == "final":
                make_take(shot, kind=Kind.FINAL, inputs=shot.inputs(Kind.FINAL), upstream=None)
            if kind == "references":
                Reference.objects.create(shot=shot, kind="image", file=take.last_frame.name)
            shot.selected_take = take
        elif kind == "held" and upstream is not None:
            Take.objects.create(
                shot=shot,
                inputs=shot.inputs(),
                status=Take.Status.WAITING,
                upstream_take=upstream,
                held="Held: it would start on a near-black frame.",
                held_check="blank",
            )
        elif kind not in ("new", "held"):
            status = {"behind": "waiting"}.get(kind, kind)
            Take.objects.create(
                shot=shot,
                inputs={**shot.inputs(), "model": "never-timed"},
                status=status,
                remote_id=f"cgt-{shot.pk}",
                submitted_at=timezone.now(),
                error="The provider refused it." if kind == "failed" else "",
            )
        before = shot
    return project


def test_the_project_page_costs_at_most_ten_queries_with_200_shots_in_every_state(
    client_of, user, django_assert_max_num_queries
):
    project = every_state(user)
    held = Take.objects.exclude(held="").count()
    assert held == 15

    with django_assert_max_num_queries(10):
        response = client_of.get(project.get_absolute_url())

    html = response.content.decode()
    assert html.count('class="shot-card') == 200
    assert html.count('name="out" min=') == held  # each held card's scrubber
    for state in ("done", "waiting", "submitting", "queued", "running", "collecting"):
        assert f'data-status="{state}"' in html, state
    assert 'data-status="failed"' in html and 'data-status="cancelled"' in html


def test_the_settings_page_costs_the_same_queries_however_many_teams(client_of, user):
    project = make_project(user)
    url = reverse("project-settings", args=[project.pk])

    def teams(count):
        for n in range(count):
            team = Team.objects.create(name=f"Crew {Team.objects.count()} {n}")
            Membership.objects.create(team=team, user=user, role=Role.EDITOR)
        with CaptureQueriesContext(connection) as queries:
            page = client_of.get(url).content.decode()
        return len(queries), page

    few, _ = teams(1)
    many, page = teams(20)
    assert page.count('">Crew ') == 21  # every team it may move to is offered
    assert many == few
