"""The JSON API: tokens, the one shape of its errors, its pages, and what it answers."""

import hashlib
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from projects.access import REFUSED
from projects.api import api
from projects.models import (
    AccessToken,
    CastImage,
    CastMember,
    Export,
    Membership,
    Project,
    Role,
    Take,
    Team,
)
from tests.factories import cached_clip, make_project, make_take, make_user

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


OPENAPI = Path(__file__).parent / "data" / "openapi.json"
REFRESH = (
    "uv run python manage.py export_openapi_schema --api projects.api.api --indent 2 "
    "--sorted --output tests/data/openapi.json"
)


def test_the_openapi_schema_is_the_one_committed():
    """A change of the API shows in review as a change of this file."""
    committed = json.loads(OPENAPI.read_text())
    assert json.loads(json.dumps(api.get_openapi_schema())) == committed, (
        f"The API's schema differs from {OPENAPI.name}: if the change is meant, refresh it "
        f"with `{REFRESH}` and commit it."
    )


def integers_without_a_maximum(schema, where, components, seen=()):
    """Where in `schema` (of an OpenAPI document) an integer may be any size."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return integers_without_a_maximum(components[name], where, components, (*seen, name))
    found = []
    # (One of a few numbers named, an enum, is bounded by them.)
    if schema.get("type") == "integer" and "maximum" not in schema and "enum" not in schema:
        found.append(where)
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += integers_without_a_maximum(part, where, components, seen)
    if "items" in schema:
        found += integers_without_a_maximum(schema["items"], f"{where}[]", components, seen)
    for name, part in schema.get("properties", {}).items():
        found += integers_without_a_maximum(part, f"{where}.{name}", components, seen)
    return found


def test_no_number_a_request_sends_can_overflow():
    """Every integer in a path, a query or a body has a maximum: a number past what the
    database holds is refused (422), never a 500 when the database is asked about it."""
    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    unbounded = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                at = f"{where} {parameter['in']}:{parameter['name']}"
                unbounded += integers_without_a_maximum(parameter["schema"], at, components)
            for kind in operation.get("requestBody", {}).get("content", {}).values():
                unbounded += integers_without_a_maximum(kind["schema"], f"{where} body", components)
    assert not unbounded, "\n".join(unbounded)


def test_the_api_imports_nothing_of_the_web_views():
    """Layers: the API sits beside the web's views, and what both do is below them both
    (projects.actions, forms, cast, storyboard_file), never in a view."""
    import ast

    import projects.api

    folder = Path(projects.api.__file__).parent
    wrong = []
    for source in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                # Relative to projects.api: "..views" is projects.views.
                base = "projects" if node.level == 2 else "projects.api" if node.level else ""
                module = ".".join(filter(None, [base, node.module]))
                names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(n == "projects.views" or n.startswith("projects.views.") for n in names):
                wrong.append(f"{source.name}:{node.lineno}")
    assert not wrong, wrong


def test_every_operation_asks_for_a_token():
    """No route of the API is open (auth=None): each is TokenAuth's."""
    schema = api.get_openapi_schema()
    open_ = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") != [{"TokenAuth": []}]
    ]
    assert not open_, open_


def test_a_post_riding_on_a_session_cookie_alone_makes_nothing(ada):
    """Another site's page sends the cookie, never the header: a request with the cookie
    and no token makes nothing (the cookie opens nothing here); one with a token does."""
    web = Client(enforce_csrf_checks=True)
    web.force_login(ada)
    forged = web.post("/api/v1/projects/", {"title": "Forged"}, "application/json")
    assert forged.status_code in (401, 403) and not Project.objects.exists()
    _, secret = AccessToken.make(ada, "script")
    scripted = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {secret}")
    scripted.cookies = web.cookies  # a browser's cookie besides: the token decides
    made = scripted.post("/api/v1/projects/", {"title": "Made"}, "application/json")
    assert made.status_code == 201
    bare = Client(enforce_csrf_checks=True).post("/api/v1/projects/", {}, "application/json")
    assert bare.status_code == 401  # no cookie, no token: not signed in, as ever


def test_a_token_is_kept_only_as_a_hash(ada):
    token, secret = AccessToken.make(ada, "script")
    dump = io.StringIO()
    call_command("dumpdata", "projects.accesstoken", stdout=dump)
    assert secret not in dump.getvalue()
    assert hashlib.sha256(secret.encode()).hexdigest() in dump.getvalue()
    assert secret.startswith(token.prefix) and len(token.prefix) < len(secret) / 4
    assert bearer(secret).get("/api/v1/teams/").status_code == 200
    assert bearer(secret[:-1]).get("/api/v1/teams/").status_code == 401


def test_a_revoked_or_expired_token_or_one_of_an_inactive_user_opens_nothing(ada):
    revoked, revoked_secret = AccessToken.make(ada, "revoked")
    expired, expired_secret = AccessToken.make(ada, "expired")
    _, live = AccessToken.make(ada, "live")
    assert bearer(revoked_secret).get("/api/v1/teams/").status_code == 200
    revoked.revoke()
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save()
    for secret in (revoked_secret, expired_secret):
        response = bearer(secret).get("/api/v1/teams/")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
    assert bearer(live).get("/api/v1/teams/").status_code == 200
    ada.is_active = False
    ada.save()
    assert bearer(live).get("/api/v1/teams/").status_code == 401


def test_its_last_use_is_written_at_most_once_a_minute(ada):
    token, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    assert token.last_used_at is None
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            client.get("/api/v1/teams/")
    touches = [q for q in queries if q["sql"].startswith("UPDATE") and "accesstoken" in q["sql"]]
    assert len(touches) == 1
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    AccessToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/teams/")
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)
    # The account page says when.
    web = Client()
    web.force_login(ada)
    page = web.get(reverse("token-list")).content.decode()
    assert "script" in page and "never" not in page


def test_the_account_page_shows_a_new_secret_once_and_revokes(ada):
    web = Client()
    web.force_login(ada)
    team = Team.default_for(ada)
    made = web.post(
        reverse("token-list"), {"name": "CI", "team": team.pk, "read_only": "on", "days": "7"}
    )
    assert made.status_code == 200
    token = AccessToken.objects.get()
    secret = re.search(r'value="(sb_[^"]+)"', made.content.decode()).group(1)
    assert AccessToken.find(secret) == token
    assert (token.team, token.read_only) == (team, True)
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
    again = web.get(reverse("token-list")).content.decode()
    assert secret not in again and token.prefix in again
    # Someone else's token is not theirs to revoke.
    other, _ = AccessToken.make(make_user("bob"), "bob's")
    assert web.post(reverse("token-revoke", args=[other.pk])).status_code == 404
    assert web.post(reverse("token-revoke", args=[token.pk])).status_code == 302
    assert bearer(secret).get("/api/v1/teams/").status_code == 401
    assert AccessToken.objects.get(pk=other.pk).is_live
    bad = web.post(reverse("token-list"), {"name": "", "days": "0"})
    assert bad.status_code == 400 and AccessToken.objects.count() == 2


def test_the_command_line_makes_lists_and_revokes_tokens(ada):
    crew = Team.objects.create(name="Crew")
    Membership.objects.create(team=crew, user=ada, role=Role.OWNER)
    project = make_project(ada, title="Elsewhere")  # in ada's own team, not Crew's
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "token", "create", "ada", "--team", "Crew", "--read-only", "--name", "CI", "--days", "30",
        stdout=out, stderr=err,
    )  # fmt: skip
    secret = out.getvalue().strip()
    assert "\n" not in secret and secret.startswith("sb_")
    assert "Crew, read-only" in err.getvalue()
    client = bearer(secret)
    assert [t["name"] for t in client.get("/api/v1/teams/").json()["items"]] == ["Crew"]
    assert client.get(f"/api/v1/projects/{project.pk}").status_code == 404  # not Crew's
    assert client.post("/api/v1/projects/", {"title": "X"}, "application/json").status_code == 403
    listing = io.StringIO()
    call_command("token", "list", "ada", stdout=listing)
    token = AccessToken.objects.get()
    assert f"{token.pk}\t{token.prefix}…\tCI\tCrew, read-only\tlast used " in listing.getvalue()
    call_command("token", "revoke", str(token.pk), stdout=io.StringIO())
    assert client.get("/api/v1/teams/").status_code == 401
    Team.objects.create(name="Nobody's")
    with pytest.raises(CommandError, match="not a member"):
        call_command("token", "create", "ada", "--team", "Nobody's", stdout=io.StringIO())


def test_a_project_is_made_set_generated_and_deleted(ada):
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    made = client.post("/api/v1/projects/", {"title": "Harbour"}, "application/json")
    assert made.status_code == 201, made.content
    project = made.json()
    assert project["team"] == Team.default_for(ada).pk and project["version"] == 1
    url = f"/api/v1/projects/{project['id']}"
    changed = client.patch(url, {"ratio": "9:16", "version": 1}, "application/json")
    assert changed.status_code == 200 and changed.json()["ratio"] == "9:16"
    assert changed.json()["title"] == "Harbour"  # what was left out stays
    nothing = client.post(f"{url}/generate")
    assert nothing.status_code == 409
    assert nothing.json() == {"code": "refused", "message": "Add a shot first."}
    shot = client.post(f"{url}/shots", {"prompt": "A lighthouse at dusk"}, "application/json")
    assert shot.status_code == 201, shot.content
    assert shot.json()["opening"] == "cut" and shot.json()["duration"] == 5
    queued = client.post(f"{url}/generate")
    assert queued.status_code == 202
    take = Take.objects.get()
    assert queued.json() == {"takes": [take.pk], "message": ""}
    assert take.requested_by == ada and take.status == Take.Status.WAITING
    again = client.post(f"{url}/generate").json()
    assert again == {"takes": [], "message": "Every shot already has a current take."}
    listed = client.get(f"{url}/shots/{shot.json()['id']}/takes").json()
    assert listed["count"] == 1 and listed["items"][0]["status"] == "waiting"
    cancelled = client.post(f"{url}/cancel")
    assert cancelled.status_code == 202
    take.refresh_from_db()
    assert take.status == Take.Status.CANCELLED
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_shots_are_added_edited_with_their_version_ordered_and_deleted(ada):
    project = make_project(ada, shots=[("A kite", "cut"), ("It rises", "continue")])
    first, second = project.shots.in_order()
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    url = f"/api/v1/projects/{project.pk}/shots"
    added = client.post(url, {"prompt": "A gull", "at": 1, "opening": "cut"}, "application/json")
    assert added.status_code == 201
    listed = client.get(url).json()
    assert [s["prompt"] for s in listed["items"]] == ["A kite", "A gull", "It rises"]
    assert [s["number"] for s in listed["items"]] == [1, 2, 3]
    # Two edits from the same version: the second is refused, saying whose came first.
    edit = {"prompt": "A red kite", "version": first.version}
    assert client.patch(f"{url}/{first.pk}", edit, "application/json").status_code == 200
    late = client.patch(f"{url}/{first.pk}", {**edit, "prompt": "A blue kite"}, "application/json")
    assert late.status_code == 409
    assert late.json()["code"] == "conflict"
    assert late.json()["message"].startswith("Changed by ada a moment ago")
    first.refresh_from_db()
    assert first.prompt == "A red kite" and first.version == 2
    order = [second.pk, added.json()["id"], first.pk]
    moved = client.put(f"{url}/order", {"shots": order}, "application/json")
    assert [s["id"] for s in moved.json()] == order
    stale = client.put(f"{url}/order", {"shots": order[:2]}, "application/json")
    assert stale.status_code == 409
    assert client.delete(f"{url}/{second.pk}").status_code == 204
    assert [s["id"] for s in client.get(url).json()["items"]] == order[1:]


def test_the_api_says_what_the_web_form_says(ada):
    """Invalid input is judged by the web's own forms, in the web's own words."""
    project = make_project(ada, shots=[("A kite", "cut")])
    _, secret = AccessToken.make(ada, "script")
    web = Client()
    web.force_login(ada)
    wrong = {"prompt": "A gull", "duration": 99, "opening": "cut", "at": 0, "transition": "wipe"}
    answer = bearer(secret).post(f"/api/v1/projects/{project.pk}/shots", wrong, "application/json")
    page = web.post(reverse("shot-create", args=[project.pk]), wrong)
    assert (answer.status_code, page.status_code) == (422, 400)
    fields = answer.json()["fields"]
    assert set(fields) >= {"duration", "transition"}
    for messages in fields.values():
        for message in messages:
            assert escape(message) in page.content.decode(), message
    assert "Ensure this value is less than or equal to 15." in fields["duration"]
    continuing = {"prompt": "A gull", "opening": "continue", "at": 0}
    answer = bearer(secret).post(
        f"/api/v1/projects/{project.pk}/shots", continuing, "application/json"
    )
    assert answer.json()["fields"]["opening"] == [
        "The first shot has nothing before it to continue: make it a cut."
    ]
    assert answer.json()["message"] == answer.json()["fields"]["opening"][0]


def test_takes_are_read_and_picked_with_their_files(ada):
    project = make_project(ada, shots=[("A kite", "cut")])
    shot = project.shots.get()
    older = make_take(shot)
    newer = make_take(shot, select=False, tokens=1234, generation_seconds=41.5)
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    url = f"/api/v1/projects/{project.pk}"
    listed = client.get(f"{url}/shots/{shot.pk}/takes").json()
    assert [t["id"] for t in listed["items"]] == [newer.pk, older.pk]
    assert [t["selected"] for t in listed["items"]] == [False, True]
    read = client.get(f"{url}/takes/{newer.pk}").json()
    assert read["tokens"] == 1234 and read["generation_seconds"] == 41.5
    assert read["status"] == "done" and read["progress"] == 1.0
    video = client.get(read["files"]["video"])
    assert video.status_code == 200
    assert b"".join(video.streaming_content)[4:8] == b"ftyp"
    assert client.get(read["files"]["last_frame"]).status_code == 200
    picked = client.post(f"{url}/takes/{newer.pk}/select")
    assert picked.status_code == 200 and picked.json()["selected"] is True
    shot.refresh_from_db()
    assert shot.selected_take_id == newer.pk
    # Picked through the API, logged as the token's owner's.
    entry = LogEntry.objects.get_for_object(shot).order_by("-timestamp").first()
    assert entry.actor == ada
    assert client.get(f"{url}/takes/{newer.pk}/files/script").status_code == 422  # no such kind


def test_the_takes_of_a_removed_shot_are_out_of_reach(ada):
    project = make_project(ada, shots=[("A kite", "cut"), ("It rises", "cut")])
    kept, removed = project.shots.in_order()
    take, gone = make_take(kept, select=False), make_take(removed, select=False)
    type(removed).objects.filter(pk=removed.pk).update(removed_at=timezone.now())
    client = bearer(AccessToken.make(ada, "script")[1])
    url = f"/api/v1/projects/{project.pk}"
    assert client.get(f"{url}/takes/{take.pk}").status_code == 200
    assert client.get(f"{url}/takes/{gone.pk}").status_code == 404
    assert client.get(f"{url}/takes/{gone.pk}/files/video").status_code == 404
    assert client.post(f"{url}/takes/{gone.pk}/select").status_code == 404
    removed.refresh_from_db()
    assert removed.selected_take_id != gone.pk


def test_the_command_line_makes_no_token_longer_lived_than_the_account_page(ada):
    from projects.forms import MAX_DAYS

    with pytest.raises(CommandError, match=f"from 1 to {MAX_DAYS}"):
        call_command("token", "create", "ada", "--days", str(MAX_DAYS + 1), stdout=io.StringIO())
    with pytest.raises(CommandError, match=f"from 1 to {MAX_DAYS}"):
        call_command("token", "create", "ada", "--days", "0", stdout=io.StringIO())
    assert not AccessToken.objects.exists()
    call_command("token", "create", "ada", "--days", str(MAX_DAYS), stdout=io.StringIO())
    assert AccessToken.objects.count() == 1


def test_generating_counts_per_token_and_answers_429_in_the_error_shape(ada, settings):
    settings.GENERATE_RATE = "2/h"
    project = make_project(ada, shots=[("A kite", "cut")])
    _, one = AccessToken.make(ada, "one")
    _, other = AccessToken.make(ada, "other")
    url = f"/api/v1/projects/{project.pk}/generate"
    assert [bearer(one).post(url).status_code for _ in range(2)] == [202, 202]
    refused = bearer(one).post(url)
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert refused.json()["message"].startswith("Too many generations: at most 2 an hour.")
    assert int(refused["Retry-After"]) > 0
    # A second token of the same person adds no room: their own count is reached.
    assert bearer(other).post(url).status_code == 429


def test_two_tokens_of_one_person_together_meet_the_persons_rate(ada, settings):
    settings.GENERATE_RATE = "3/h"
    project = make_project(ada, shots=[("A kite", "cut")])
    url = f"/api/v1/projects/{project.pk}/generate"
    one, other = (bearer(AccessToken.make(ada, name)[1]) for name in ("one", "other"))
    assert [c.post(url).status_code for c in (one, other, one)] == [202, 202, 202]
    assert other.post(url).status_code == 429
    web = Client()
    web.force_login(ada)  # and on the web, the same person's count
    assert web.post(reverse("project-generate", args=[project.pk])).status_code == 429


def test_a_team_token_lists_only_its_teams_projects(ada):
    crew = Team.objects.create(name="Crew")
    Membership.objects.create(team=crew, user=ada, role=Role.EDITOR)
    Membership.objects.create(team=crew, user=make_user("bob"), role=Role.OWNER)
    mine = make_project(ada, title="Mine")
    theirs = Project.objects.create(team=crew, title="Crew's")
    _, everywhere = AccessToken.make(ada, "all")
    _, crew_only = AccessToken.make(ada, "crew", team=crew)
    listed = bearer(everywhere).get("/api/v1/projects/").json()["items"]
    assert [(p["title"], p["role"]) for p in listed] == [("Crew's", "editor"), ("Mine", "owner")]
    only = bearer(crew_only).get("/api/v1/projects/").json()["items"]
    assert [p["id"] for p in only] == [theirs.pk]
    made = bearer(crew_only).post("/api/v1/projects/", {"title": "New"}, "application/json")
    assert made.json()["team"] == crew.pk and made.json()["role"] == "editor"
    assert bearer(crew_only).get(f"/api/v1/projects/{mine.pk}").status_code == 404


def seed_rows(endpoint, user, size):
    """`size` rows of `endpoint`'s list, of `user`'s: (its URL, the count it says)."""
    project = make_project(user, shots=[(f"Shot {n}", "cut") for n in range(size)])
    shot = project.shots.in_order().first()
    url = f"/api/v1/projects/{project.pk}"
    if endpoint == "shots":
        return f"{url}/shots", size
    if endpoint == "takes":
        for _ in range(size):
            make_take(shot, select=False)
        return f"{url}/shots/{shot.pk}/takes", size
    if endpoint == "cast":
        for n in range(size):
            member = CastMember.objects.create(project=project, name=f"M{n}", description="d")
            CastImage.objects.create(
                member=member, file=ContentFile(cached_clip()[1], name="m.png")
            )
            shot.cast.add(member)
        return f"{url}/cast", size
    if endpoint == "comments":
        take = make_take(shot)
        for n in range(size):
            shot.comments.create(author=user, take=take, body=f"@{user.username} {n}")
        return f"{url}/comments", size
    if endpoint == "exports":
        for _ in range(size):
            Export.objects.create(project=project, takes=[], status="done", created_by=user)
        return f"{url}/exports", size
    if endpoint == "projects":
        for n in range(size - 1):
            Project.objects.create(team=project.team, created_by=user, title=f"P{n}")
        return "/api/v1/projects/", size
    for n in range(size - 1):  # teams: theirs and size - 1 more
        Membership.objects.create(team=Team.objects.create(name=f"T{n}"), user=user)
    return "/api/v1/teams/", size


@pytest.mark.parametrize(
    "endpoint", ["shots", "takes", "cast", "comments", "exports", "projects", "teams"]
)
def test_a_page_costs_the_same_queries_for_3_rows_or_30(endpoint, media_root):
    """No query per row: a list's page is read in a fixed number of queries."""
    counts = []
    for size in (3, 30):
        user = make_user(f"u{size}")
        client = bearer(AccessToken.make(user, "script")[1])
        client.get("/api/v1/teams/")  # its last use written now, not while counting
        url, count = seed_rows(endpoint, user, size)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).json()
        assert page["count"] == count, page
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_numbers_past_what_a_database_holds_are_refused_not_failed_on(ada):
    """A page, a team or an id too large for any row is a 422 (or names nothing: 404),
    never a database's overflow (a 500)."""
    project = make_project(ada, shots=[("A kite", "cut")])
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    big = 10**20
    assert client.get(f"/api/v1/teams/?page={big}").status_code == 422
    assert client.get(f"/api/v1/projects/?team={big}").status_code == 422
    assert client.get(f"/api/v1/projects/{big}").status_code == 422
    assert client.get(f"/api/v1/projects/{project.pk}/shots/{big}").status_code == 422
    comments = client.get(f"/api/v1/projects/{project.pk}/comments?shot={big}")
    assert comments.status_code == 422 and "shot" in comments.json()["fields"]
    order = client.put(
        f"/api/v1/projects/{project.pk}/shots/order", {"shots": [big]}, "application/json"
    )
    assert order.status_code == 422 and "shots.0" in order.json()["fields"]


def test_the_admin_lists_and_opens_a_token_without_its_hash(ada):
    token, _ = AccessToken.make(ada, "script")
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    web = Client()
    web.force_login(admin)
    listing = web.get(reverse("admin:projects_accesstoken_changelist"))
    assert listing.status_code == 200 and token.prefix in listing.content.decode()
    page = web.get(reverse("admin:projects_accesstoken_change", args=[token.pk]))
    assert page.status_code == 200 and token.hashed_secret not in page.content.decode()
    assert web.get(reverse("admin:projects_accesstoken_add")).status_code == 403


def test_a_refusal_says_what_the_web_says(ada):
    """The 403's message is projects.access's, word for word, on the web and the API."""
    project = make_project(ada, shots=[("A kite", "cut")])
    cy = make_user("cy")
    Membership.objects.create(team=project.team, user=cy, role=Role.VIEWER)
    _, secret = AccessToken.make(cy, "script")
    answer = bearer(secret).post(f"/api/v1/projects/{project.pk}/generate")
    web = Client()
    web.force_login(cy)
    page = web.post(reverse("project-generate", args=[project.pk]))
    assert (answer.status_code, page.status_code) == (403, 403)
    assert answer.json() == {"code": "forbidden", "message": REFUSED["generate"]}
    assert escape(REFUSED["generate"]) in page.content.decode()


def test_a_body_is_an_object_of_known_fields(ada):
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    for body in ('"A title"', "[1, 2]", "", "{not json"):
        answer = client.generic("POST", "/api/v1/projects/", body, "application/json")
        assert answer.status_code in (400, 422), body
        assert set(answer.json()) >= {"code", "message"}, body
    typo = client.post("/api/v1/projects/", {"titel": "Harbour"}, "application/json")
    assert typo.status_code == 422
    assert typo.json()["fields"] == {"titel": ["Extra inputs are not permitted"]}
    assert not Project.objects.exists()


def test_a_shots_pictures_are_sent_as_files_and_judged_by_the_web_form(ada):
    project = make_project(ada, shots=[("A kite", "cut"), ("It rises", "continue")])
    cut, continuing = project.shots.in_order()
    _, secret = AccessToken.make(ada, "script")
    client = bearer(secret)
    url = f"/api/v1/projects/{project.pk}/shots"
    png = cached_clip()[1]
    sent = client.post(
        f"{url}/{cut.pk}/pictures",
        {"first_frame": SimpleUploadedFile("start.png", png, "image/png"), "version": 1},
    )
    assert sent.status_code == 200, sent.content
    assert sent.json()["has_first_frame"] is True and sent.json()["version"] == 2
    cut.refresh_from_db()
    assert cut.first_frame and cut.edited_by == ada
    # A continue takes no first frame of its own: the web form's words.
    refused = client.post(
        f"{url}/{continuing.pk}/pictures",
        {"first_frame": SimpleUploadedFile("start.png", png, "image/png")},
    )
    assert refused.status_code == 422
    assert refused.json()["fields"]["first_frame"] == [
        "A continue starts on the previous shot's last frame; a first frame of its own needs a cut."
    ]
    not_a_picture = client.post(
        f"{url}/{cut.pk}/pictures",
        {"last_frame_target": SimpleUploadedFile("end.png", b"not a picture", "image/png")},
    )
    assert not_a_picture.status_code == 422
    assert list(not_a_picture.json()["fields"]) == ["last_frame_target"]
    stale = client.post(
        f"{url}/{cut.pk}/pictures",
        {"last_frame_target": SimpleUploadedFile("end.png", png, "image/png"), "version": 1},
    )
    assert stale.status_code == 409  # made from version 1; it is at 2
