"""Who the activity log names: the person who did it, served as uvicorn serves the app
(ASGI) as well as by the test client; a review link's guest by their name; the person who
deleted a shot or a project, even when the worker removes its row later; and the command
line only for manage.py."""

from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient, Client
from django.urls import reverse

from projects import activity, pipeline
from projects.models import Link, Take, Team, Verdict
from tests.factories import make_project, make_take, make_user


def lines(project):
    return [f"{line.who} {line.what}" for line in activity.of_project(project)]


def asgi_post(user, url, data=None):
    """A POST as uvicorn hands it to Django: through the ASGI handler, signed in."""

    async def post():
        client = AsyncClient()
        await client.aforce_login(user)
        return await client.post(url, data or {})

    return async_to_sync(post)()


def test_changes_made_over_asgi_are_the_signed_in_persons(user):
    project = make_project(user, shots=[("A", "cut"), ("B", "cut")])
    second = project.shots.get(position=1)

    asgi_post(user, reverse("team-list"), {"name": "Night crew"})
    asgi_post(user, reverse("shot-move", args=[project.pk, second.pk]), {"direction": "up"})
    asgi_post(user, reverse("project-generate", args=[project.pk]))

    team = Team.objects.get(name="Night crew")
    assert [f"{line.who} {line.what}" for line in activity.of_team(team)][-1] == (
        "ada made the team"
    )
    told = lines(project)
    assert "ada generated shot 1" in told and "ada generated shot 2" in told, told
    assert any(line.startswith("ada moved shot") for line in told), told
    # What the factory made before is the command line's; nothing done over ASGI is.
    assert not any(
        line.startswith(activity.COMMAND_LINE) and ("generated" in line or "moved" in line)
        for line in told
    ), told


def test_an_export_over_asgi_is_the_exporters(user, broker):
    project = make_project(user, shots=[("A", "cut")])
    make_take(project.shots.get())
    asgi_post(user, reverse("export-create", args=[project.pk]), {"format": "srt"})
    assert project.exports.count() == 1
    assert "ada exported the cut" in lines(project)


def test_a_review_guests_verdict_names_the_guest(user):
    project = make_project(user, shots=[("A lighthouse", "cut")])
    take = make_take(project.shots.get())
    link = Link.make(project, Link.Kind.REVIEW)
    guest = Client()
    guest.post(reverse("shared-guest-name", args=[link.token]), {"name": "Rey"})
    guest.post(
        reverse("shared-take-verdict", args=[link.token, take.pk]), {"verdict": Verdict.APPROVED}
    )
    assert f"Rey (guest) marked take {take.number} of shot 1 approved" in lines(project)


def test_a_shot_purged_by_the_worker_is_still_the_deleters(user):
    bob = make_user("bob")
    project = make_project(user, shots=[("A", "cut"), ("B", "cut")])
    doomed = project.shots.get(position=1)
    make_take(doomed, status=Take.Status.RUNNING)
    client = Client()
    client.force_login(user)
    client.post(reverse("shot-delete", args=[project.pk, doomed.pk]))
    # The next change (bob's) forgets it; its take still runs, so its row stays for now.
    team = Team.default_for(user)
    team.memberships.create(user=bob, role="editor")
    bobs = Client()
    bobs.force_login(bob)
    first = project.shots.get(position=0)
    bobs.post(reverse("shot-duplicate", args=[project.pk, first.pk]))
    assert project.shots.model.everywhere.deleted().filter(pk=doomed.pk).exists()
    # The worker, later, with nobody signed in.
    Take.objects.filter(shot=doomed).update(status=Take.Status.DONE)
    pipeline.purge()

    assert not project.shots.model.everywhere.filter(pk=doomed.pk).exists()
    told = lines(project)
    assert told.count("ada deleted shot 2") == 1, told
    assert not any("deleted" in line and not line.startswith("ada") for line in told), told


def test_an_undone_deletion_is_told_as_put_back(user):
    project = make_project(user, shots=[("A", "cut"), ("B", "cut")])
    shot = project.shots.get(position=1)
    client = Client()
    client.force_login(user)
    client.post(reverse("shot-delete", args=[project.pk, shot.pk]))
    client.post(reverse("shot-undo", args=[project.pk]))
    assert lines(project)[:2] == ["ada put back shot 2", "ada deleted shot 2"]


def test_a_project_deleted_with_work_in_flight_is_the_deleters(user):
    project = make_project(user, shots=[("A", "cut")], title="Harbour")
    make_take(project.shots.get(), status=Take.Status.RUNNING)
    client = Client()
    client.force_login(user)
    client.post(reverse("project-delete", args=[project.pk]))
    Take.objects.filter(shot__project=project).update(status=Take.Status.DONE)
    pipeline.purge()
    told = [f"{line.who} {line.what}" for line in activity.of_team(Team.default_for(user))]
    assert "ada deleted the project Harbour" in told, told
    assert not any("moved the project" in line for line in told), told


def test_only_manage_py_is_the_command_line(user):
    call_command("team", "create", "Night crew", "--owner", "ada")
    team = Team.objects.get(name="Night crew")
    assert f"{activity.COMMAND_LINE} made the team" in [
        f"{line.who} {line.what}" for line in activity.of_team(team)
    ]
