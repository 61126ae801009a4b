"""Saving an edit writes what the form owns onto the row as it is now: whatever else
changed meanwhile (a take picked, a trim, a new order, a move to another team) stays."""

from django.test import Client
from django.urls import reverse

from projects import arrange, edits
from projects.forms import ProjectForm, ShotForm
from projects.models import Membership, Opening, Project, Role, Shot, Team
from tests.factories import make_project, make_take


def test_saving_a_shot_keeps_the_pick_trim_and_order_made_since_its_form_was_bound(user):
    project = make_project(
        user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE), ("C", Opening.CUT)]
    )
    first, second, third = project.shots.in_order()
    make_take(third)
    data = {"prompt": "C at night", "duration": 4, "opening": "cut", "version": 1}
    form = ShotForm(data, instance=third, project=project)
    assert form.is_valid(), form.errors
    # Meanwhile: a worker picks a new take, someone trims, someone moves the shot first.
    newer = make_take(third, select=False)
    newer.select()
    Shot.objects.filter(pk=third.pk).update(trim_in=3, trim_out=50)
    arrange.reorder(project, [third.pk, first.pk, second.pk])

    edits.save(form, user)

    third.refresh_from_db()
    assert third.prompt == "C at night" and third.version == 2 and third.edited_by == user
    assert third.selected_take_id == newer.pk
    assert (third.trim_in, third.trim_out) == (3, 50)
    assert list(project.shots.in_order().values_list("pk", "position")) == [
        (third.pk, 0),
        (first.pk, 1),
        (second.pk, 2),
    ]


def test_saving_settings_keeps_a_move_to_another_team_made_since(user):
    project = make_project(user)
    other = Team.objects.create(name="Night crew")
    Membership.objects.create(team=other, user=user, role=Role.OWNER)
    form = ProjectForm(
        {"title": "Harbour", "resolution": "480p", "ratio": "16:9", "version": 1},
        instance=project,
    )
    assert form.is_valid(), form.errors
    client = Client()
    client.force_login(user)
    moved = client.post(reverse("project-move", args=[project.pk]), {"team": other.pk})
    assert moved.status_code == 302

    edits.save(form, user)

    project = Project.objects.get(pk=project.pk)
    assert (project.title, project.team_id, project.version) == ("Harbour", other.pk, 2)
