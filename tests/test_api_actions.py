"""The API's arranging, sending again, verdicts and links do what the web's do: each
checked against what the web then shows or what its own route would have written."""

import pytest
from django.test import Client
from django.urls import reverse

from projects.models import AccessToken, Link, Membership, Role, Shot, Take, Team
from tests.factories import make_project, make_take, make_user

pytestmark = pytest.mark.django_db


def bearer(user, **limits):
    return Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.make(user, 'script', **limits)[1]}")


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


@pytest.fixture
def ada():
    return make_user("ada")


@pytest.fixture
def film(ada):
    """Three cut shots, each with a finished take picked for the cut."""
    project = make_project(ada, shots=[("A harbour", "cut"), ("A boat", "cut"), ("A gull", "cut")])
    for shot in project.shots.in_order():
        make_take(shot)
    return project


def api(project, *rest):
    return "/".join(["/api/v1/projects", str(project.pk), *map(str, rest)])


def prompts(project):
    return [shot.prompt for shot in project.shots.in_order()]


def test_a_trim_through_the_api_shows_in_the_webs_timeline(ada, film):
    shot = film.shots.in_order()[1]
    client = bearer(ada)
    answer = post(client, api(film, "shots", shot.pk, "trim"), {"trim_in": 12, "trim_out": 60})
    assert answer.status_code == 200, answer.content
    assert answer.json()["message"] == "Shot 2 plays 2.04 s in the cut."
    assert (answer.json()["shot"]["trim_in"], answer.json()["shot"]["trim_out"]) == (12, 60)
    page = signed_in(ada).get(reverse("project-detail", args=[film.pk])).content.decode()
    assert "Plays frames 12-60 of 96" in page

    # Past the clip's frames: refused in the web's words, nothing changed.
    wrong = post(client, api(film, "shots", shot.pk, "trim"), {"trim_in": 50, "trim_out": 96})
    assert wrong.status_code == 409
    assert wrong.json() == {
        "code": "refused",
        "message": "An in point before the out point, within frames 0-95.",
    }
    shot.refresh_from_db()
    assert (shot.trim_in, shot.trim_out) == (12, 60)


def test_a_shot_moves_by_steps_and_says_so_at_the_end(ada, film):
    gull = film.shots.in_order()[2]
    client = bearer(ada)
    answer = post(client, api(film, "shots", gull.pk, "move"), {"steps": -2})
    assert answer.status_code == 200
    assert answer.json()["message"] == "Moved shot 3 to 1."
    assert prompts(film) == ["A gull", "A harbour", "A boat"]
    stays = post(client, api(film, "shots", gull.pk, "move"), {"steps": -1})
    assert stays.json()["message"] == "Shot 1 is already at that end."
    assert prompts(film) == ["A gull", "A harbour", "A boat"]


def test_a_duplicate_makes_a_shot_and_an_undo_puts_back_a_deleted_one(ada, film):
    boat = film.shots.in_order()[1]
    client = bearer(ada)
    copy = post(client, api(film, "shots", boat.pk, "duplicate"))
    assert copy.status_code == 201
    assert copy.json()["message"] == "Shot 3 is a copy of shot 2."
    assert (
        copy.json()["shot"]["prompt"] == "A boat" and copy.json()["shot"]["selected_take"] is None
    )
    assert prompts(film) == ["A harbour", "A boat", "A boat", "A gull"]

    nothing = post(client, api(film, "shots", "undo"))
    assert nothing.status_code == 409
    assert nothing.json()["message"] == "Nothing to undo: the project changed since."
    assert client.delete(api(film, "shots", boat.pk)).status_code == 204
    assert prompts(film) == ["A harbour", "A boat", "A gull"]
    back = post(client, api(film, "shots", "undo"))
    assert back.status_code == 200 and back.json()["message"] == "Shot 2 is back."
    assert prompts(film) == ["A harbour", "A boat", "A boat", "A gull"]


def test_a_variant_is_a_new_project_with_the_same_shots(ada, film):
    answer = post(bearer(ada), api(film, "variant"))
    assert answer.status_code == 201
    copy = answer.json()
    assert copy["id"] != film.pk and copy["team"] == film.team_id and copy["role"] == "owner"
    shots = bearer(ada).get(f"/api/v1/projects/{copy['id']}/shots").json()
    assert [s["prompt"] for s in shots["items"]] == prompts(film)
    assert all(s["selected_take"] for s in shots["items"])


def test_a_held_continue_is_released_from_a_frame_of_the_shot_before(ada):
    project = make_project(ada, shots=[("A harbour", "cut"), ("A boat sails on", "continue")])
    first, second = project.shots.in_order()
    upstream = make_take(first)
    held = Take.objects.create(
        shot=second,
        number=1,
        status=Take.Status.WAITING,
        upstream_take=upstream,
        held="Held: shot 2 would start on a near-black frame from shot 1.",
    )
    client = bearer(ada)
    url = api(project, "shots", second.pk, "release")
    early = post(client, url, {"out": 10})
    assert early.status_code == 409
    assert early.json()["message"] == "Pick a frame of shot 1 within frames 48-95."
    held.refresh_from_db()
    assert held.held
    answer = post(client, url, {"out": 80})
    assert answer.status_code == 202, answer.content
    assert answer.json()["message"] == "Shot 2 continues from frame 80 of shot 1."
    held.refresh_from_db()
    first.refresh_from_db()
    assert held.held == "" and first.trim_out == 80
    again = post(client, url, {"out": 80})
    assert again.status_code == 409 and again.json()["message"] == "Shot 2 is not held."


def test_seam_pairs_are_listed_and_a_pair_is_picked_for_the_cut(ada):
    project = make_project(ada, shots=[("A harbour", "cut"), ("A boat sails on", "continue")])
    first, second = project.shots.in_order()
    a1 = make_take(first)
    b1 = make_take(second, upstream=a1)
    a2 = make_take(first)  # picked last: the cut has a2 then b1
    client = bearer(ada)
    pairs = client.get(api(project, "shots", second.pk, "seam")).json()
    assert pairs["count"] == 2
    assert {(p["before"], p["after"]) for p in pairs["items"]} == {(a1.pk, b1.pk), (a2.pk, b1.pk)}
    assert [p["in_cut"] for p in pairs["items"] if p["before"] == a2.pk] == [True]
    assert client.get(api(project, "shots", first.pk, "seam")).status_code == 404  # a cut

    picked = post(
        client, api(project, "shots", second.pk, "seam"), {"before": a1.pk, "after": b1.pk}
    )
    assert picked.status_code == 200
    assert [s["selected_take"] for s in picked.json()] == [a1.pk, b1.pk]
    first.refresh_from_db()
    assert first.selected_take_id == a1.pk
    wrong = post(
        client, api(project, "shots", second.pk, "seam"), {"before": b1.pk, "after": a1.pk}
    )
    assert wrong.status_code == 404


def test_sending_again_only_an_uncertain_take(ada, film):
    take = film.shots.in_order()[0].takes.get()
    client = bearer(ada)
    done = post(client, api(film, "takes", take.pk, "send-again"))
    assert done.status_code == 202
    assert done.json() == {"takes": [], "message": "Shot 1 is not waiting to be sent again."}
    Take.objects.filter(pk=take.pk).update(status=Take.Status.UNCERTAIN)
    sent = post(client, api(film, "takes", take.pk, "send-again"))
    assert sent.status_code == 202 and sent.json() == {"takes": [take.pk], "message": ""}
    take.refresh_from_db()
    assert take.status == Take.Status.WAITING
    assert take.note == "Sent again by ada, knowing it may be billed twice."


def test_a_verdict_through_the_api_is_the_reviewers(ada, film):
    cy = make_user("cy")
    Membership.objects.create(team=film.team, user=cy, role=Role.VIEWER)
    take = film.shots.in_order()[0].takes.get()
    answer = post(bearer(cy), api(film, "takes", take.pk, "verdict"), {"verdict": "needs_changes"})
    assert answer.status_code == 200
    assert (answer.json()["verdict"], answer.json()["verdict_by"]) == ("needs_changes", "cy")
    take.refresh_from_db()
    assert take.verdict == "needs_changes" and take.verdict_by == "cy"
    wrong = post(bearer(cy), api(film, "takes", take.pk, "verdict"), {"verdict": "meh"})
    assert wrong.status_code == 422 and "verdict" in wrong.json()["fields"]


def test_a_link_made_through_the_api_opens_the_shared_page_until_revoked(ada, film):
    client = bearer(ada)
    made = post(client, api(film, "links"), {"kind": "review", "expires_in_days": 7})
    assert made.status_code == 201
    link = made.json()
    assert link["kind"] == "review" and link["expires_at"]
    shared = Client().get(link["url"].removeprefix("http://testserver"))
    assert shared.status_code == 200 and film.title in shared.content.decode()
    listed = client.get(api(film, "links")).json()
    assert [entry["id"] for entry in listed["items"]] == [link["id"]]
    assert link["shows_details"] is False
    shown = client.patch(
        api(film, "links", link["id"]), {"shows_details": True}, content_type="application/json"
    )
    assert shown.status_code == 200 and shown.json()["shows_details"] is True
    assert Link.objects.get(pk=link["id"]).shows_details

    assert client.delete(api(film, "links", link["id"])).status_code == 204
    assert Client().get(link["url"].removeprefix("http://testserver")).status_code == 404
    assert client.get(api(film, "links")).json()["count"] == 0
    assert Link.objects.get(pk=link["id"]).revoked_at is not None


def test_a_project_moves_to_a_team_its_owner_makes_projects_in(ada, film):
    bob = make_user("bob")
    Membership.objects.create(team=film.team, user=bob, role=Role.EDITOR)
    studio = Team.objects.create(name="Studio")
    for user in (ada, bob):
        Membership.objects.create(team=studio, user=user, role=Role.EDITOR)

    refused = post(bearer(bob), api(film, "move"), {"team": studio.pk})  # bob only edits
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        "A project moves only from a team you own to one where you make projects."
    )
    # A token limited to the project's team reaches no other team.
    limited = post(bearer(ada, team=film.team), api(film, "move"), {"team": studio.pk})
    assert limited.status_code == 404
    film.refresh_from_db()
    assert film.team_id != studio.pk

    moved = post(bearer(ada), api(film, "move"), {"team": studio.pk})
    assert moved.status_code == 200 and moved.json()["team"] == studio.pk
    film.refresh_from_db()
    assert film.team_id == studio.pk
    assert Shot.objects.filter(project=film).count() == 3
