"""The JSON API: tokens, the one shape of its errors, its pages, and what it answers."""

import pytest
from django.test import Client

from projects.models import AccessToken, Membership, Role, Team
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


def bearer(secret):
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def ada():
    return make_user("ada")


def test_teams_are_listed_a_page_at_a_time_with_the_role_in_each(ada):
    bob = make_user("bob")
    for name in ("Crew 1", "Crew 2", "Crew 3"):
        team = Team.objects.create(name=name)
        Membership.objects.create(team=team, user=ada, role=Role.VIEWER)
        Membership.objects.create(team=team, user=bob, role=Role.OWNER)
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    page = client.get("/api/v1/teams/?page_size=2").json()
    assert page["count"] == 4
    assert [t["name"] for t in page["items"]] == ["Crew 1", "Crew 2"]
    assert {t["role"] for t in page["items"]} == {"viewer"}
    second = client.get("/api/v1/teams/?page_size=2&page=2").json()
    assert [t["name"] for t in second["items"]] == ["Crew 3", "ada's team"]


def test_every_error_is_one_json_shape(ada):
    make_project(ada)
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    answers = {
        "no token": Client().get("/api/v1/teams/"),
        "wrong token": bearer("sb_nope").get("/api/v1/teams/"),
        "unknown team": client.get("/api/v1/teams/999999"),
        "unknown address": client.get("/api/v1/nowhere"),
        "wrong method": client.delete("/api/v1/teams/"),
        "bad query": client.get("/api/v1/teams/?page=zero"),
    }
    statuses = {what: r.status_code for what, r in answers.items()}
    assert statuses == {
        "no token": 401,
        "wrong token": 401,
        "unknown team": 404,
        "unknown address": 404,
        "wrong method": 405,
        "bad query": 422,
    }
    for what, response in answers.items():
        assert response["Content-Type"] == "application/json", what
        body = response.json()
        assert set(body) <= {"code", "message", "fields"}, what
        assert body["code"] and body["message"], what
    assert answers["bad query"].json()["fields"]["page"]
