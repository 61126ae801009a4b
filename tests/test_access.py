"""Every URL of the app, asked by everyone who might ask, by GET and by POST.

One table says, for each URL, whether it needs signing in, which methods it takes and
which action each method is; the rules of projects.access then say what each person
should get. The table must name every URL of the app, so a new one cannot be forgotten.
A GET changes nothing, no POST goes without its CSRF token, and what people wrote is
shown as text, never run.
"""

import json
import os
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from projects.access import LINKS, ROLES, TOKEN_READS, callback_token, input_token
from projects.models import (
    AccessToken,
    Breakdown,
    CastImage,
    CastMember,
    Connection,
    Delivery,
    DeliveryAttempt,
    Endpoint,
    Export,
    Invitation,
    Link,
    Membership,
    Mention,
    Role,
    Shot,
    Team,
    WebhookEvent,
)
from projects.views.common import GUEST_NAME
from projects.views.teams import INVITATION_SALT
from tests.factories import cached_clip, make_project, make_take, make_user

pytestmark = pytest.mark.django_db

MEMBERS = {"owner": Role.OWNER, "editor": Role.EDITOR, "viewer": Role.VIEWER}
LINK_PERSONAS = {"view link", "review link", "revoked link"}
PERSONAS = ["anonymous", "outsider", *MEMBERS, *sorted(LINK_PERSONAS)]
LOGIN = "login"  # sent to sign in
# Written into the world by people: a page that shows it unescaped would run it.
HOSTILE = "<x-xss>"


class Route:
    """A URL: signing in first or not; per method, the action it is, None: not taken, and
    what it answers when it is taken (a page, 200; a form's action, a redirect).

    An API route (api=True) is asked with an access token instead of a session, by the
    API's personas, and by every method it takes."""

    def __init__(
        self,
        kind,
        get=None,
        post=None,
        login=True,
        args=(),
        whose=None,
        ok=None,
        api=False,
        patch=None,
        put=None,
        delete=None,
    ):
        self.kind = kind  # "project" (by id), "shared" (by a link's token), "team", "open"
        self.actions = {"GET": get, "POST": post, "PATCH": patch, "PUT": put, "DELETE": delete}
        self.login = login
        self.args = args  # names of the objects its URL takes after the id or token
        self.whose = whose  # for an "own" action: the persona whose object it is
        self.api = api
        answers = {"GET": 200, "POST": 201, "PATCH": 200, "PUT": 200, "DELETE": 204}
        self.ok = {**(answers if api else {"GET": 200, "POST": 302}), **(ok or {})}


PROJECT, SHARED, TEAM, OPEN = "project", "shared", "team", "open"
VIEWING = {  # the routes a link's holder reaches too, under its token
    "shot-card": dict(get="view", args=["shot"]),
    "comment-create": dict(post="comment", args=["shot"]),
    "take-verdict": dict(post="review", args=["take"]),
    "export-list": dict(get="view"),
    "export-card": dict(get="view", args=["export"]),
    "export-download": dict(get="view", args=["export"]),
    "take-file": dict(get="view", args=["take", "video"]),
    "project-events": dict(get="view"),
    "cast-image": dict(get="view", args=["cast-image"]),
}
# The JSON API (projects.api), by name in its namespace: `kind` as above, each method's
# action; "create" makes a project in a team of one's own choosing.
API = {
    "api-root": dict(kind=OPEN, get="open", login=False, ok={"GET": 404}),  # nothing there
    "openapi-json": dict(kind=OPEN, get="open", login=False),
    "openapi-view": dict(kind=OPEN, get="open", login=False),
    "team-list": dict(kind=OPEN, get="open"),
    "team-detail": dict(kind=TEAM, get="view"),
    "project-list": dict(kind=OPEN, get="open", post="create"),
    "project-detail": dict(kind=PROJECT, get="view", patch="edit", delete="delete"),
    "project-generate": dict(kind=PROJECT, post="generate", ok={"POST": 202}),
    "project-final": dict(kind=PROJECT, post="generate", ok={"POST": 202}),
    "project-cancel": dict(kind=PROJECT, post="generate", ok={"POST": 202}),
    "shot-list": dict(kind=PROJECT, get="view", post="edit"),
    "shot-detail": dict(kind=PROJECT, get="view", patch="edit", delete="edit", args=["shot"]),
    "shot-order": dict(kind=PROJECT, put="edit"),
    "shot-pictures": dict(kind=PROJECT, post="edit", args=["shot"], ok={"POST": 200}),
    "shot-regenerate": dict(kind=PROJECT, post="generate", args=["shot"], ok={"POST": 202}),
    "take-list": dict(kind=PROJECT, get="view", args=["shot"]),
    "take-detail": dict(kind=PROJECT, get="view", args=["take"]),
    "take-select": dict(kind=PROJECT, post="edit", args=["take"], ok={"POST": 200}),
    "take-file": dict(kind=PROJECT, get="view", args=["take", "video"]),
}
# The API's exports, storyboard file, comments and cast (projects.api: exports,
# storyboard, comments, cast). The bodies are JSON (API_BODIES): a cast member needs a
# form with pictures, and an import a file, so those are refused (422) once access is
# granted; a member in a shot is deleted only once confirmed (409).
API.update(
    {
        "exports": dict(kind=PROJECT, get="view", post="export", ok={"POST": 202}),
        "export-detail": dict(kind=PROJECT, get="view", args=["export"]),
        "export-download": dict(kind=PROJECT, get="view", args=["export"]),
        "storyboard-file": dict(kind=PROJECT, get="view"),
        "storyboard-import": dict(kind=OPEN, post="create", ok={"POST": 422}),
        "comment-list": dict(kind=PROJECT, get="view"),
        "shot-comments": dict(kind=PROJECT, get="view", post="comment", args=["shot"]),
        "cast": dict(kind=PROJECT, get="view", post="edit", ok={"POST": 422}),
        "cast-member": dict(
            kind=PROJECT,
            get="view",
            patch="edit",
            delete="edit",
            args=["cast-member"],
            ok={"DELETE": 409},
        ),
        "cast-image": dict(kind=PROJECT, get="view", args=["cast-member", "cast-image"]),
        "cast-voice": dict(kind=PROJECT, get="view", args=["cast-member"]),
    }
)
# Arranging, sending again, verdicts and links (projects.api: arranging, takes, links),
# each with the action of its web route. Bodies: API_BODIES; a release of a shot not
# held, and an undo with nothing deleted, are refused (409) once access is granted.
API.update(
    {
        "shot-move": dict(kind=PROJECT, post="edit", args=["shot"], ok={"POST": 200}),
        "shot-duplicate": dict(kind=PROJECT, post="edit", args=["shot"]),
        "shot-trim": dict(kind=PROJECT, post="edit", args=["shot"], ok={"POST": 200}),
        "shot-release": dict(kind=PROJECT, post="generate", args=["shot"], ok={"POST": 409}),
        "shot-seam": dict(
            kind=PROJECT, get="view", post="edit", args=["continuing"], ok={"POST": 200}
        ),
        "shot-undo": dict(kind=PROJECT, post="edit", ok={"POST": 409}),
        "project-variant": dict(kind=PROJECT, post="edit"),
        # To a team none of the project's members is in: not found, once access is granted.
        "project-move": dict(kind=PROJECT, post="edit", ok={"POST": 404}),
        "take-send-again": dict(kind=PROJECT, post="generate", args=["take"], ok={"POST": 202}),
        "take-verdict": dict(kind=PROJECT, post="review", args=["take"], ok={"POST": 200}),
        "link-list": dict(kind=PROJECT, get="share", post="share"),
        "link-detail": dict(kind=PROJECT, patch="share", delete="share", args=["link"]),
    }
)
TABLE = {
    # A sign-in with a wrong password, an empty password change: the form again.
    "login": Route(OPEN, get="open", post="open", login=False, ok={"POST": 200}),
    "logout": Route(OPEN, post="open", login=False),
    "password_change": Route(OPEN, get="open", post="open", ok={"POST": 200}),
    "password_change_done": Route(OPEN, get="open"),
    "healthz": Route(OPEN, get="open", login=False),
    "project-list": Route(OPEN, get="open", post="create"),
    "mention": Route(OPEN, post="own", args=["mention"], whose="owner"),
    "project-detail": Route(PROJECT, get="view"),
    "project-settings": Route(PROJECT, get="view", post="edit"),
    "project-move": Route(PROJECT, post="edit"),
    "project-delete": Route(PROJECT, post="delete"),
    "project-storyboard": Route(PROJECT, get="view"),
    "project-generate": Route(PROJECT, post="generate"),
    "project-cancel": Route(PROJECT, post="generate"),
    "project-final": Route(PROJECT, post="generate"),
    # A member without pictures is refused: the form again (a 400), once access is granted.
    "cast-list": Route(PROJECT, get="view", post="edit", ok={"POST": 400}),
    "cast-edit": Route(PROJECT, get="view", post="edit", args=["cast-member"]),
    "cast-delete": Route(PROJECT, post="edit", args=["cast-member"]),
    # The import page is an editor's; a POST previews (the page again), writing nothing.
    "script-import": Route(PROJECT, get="edit", post="edit", ok={"POST": 200}),
    "shot-list-csv": Route(PROJECT, get="view"),
    "script-breakdown": Route(PROJECT, get="edit", args=["breakdown"]),
    "shot-create": Route(PROJECT, post="edit"),
    "shot-edit": Route(PROJECT, get="view", post="edit", args=["shot"]),
    "shot-delete": Route(PROJECT, post="edit", args=["shot"]),
    "shot-regenerate": Route(PROJECT, post="generate", args=["shot"]),
    "shot-regenerate-from": Route(PROJECT, post="generate", args=["shot"]),
    "take-select": Route(PROJECT, post="edit", args=["take"]),
    "take-send-again": Route(PROJECT, post="generate", args=["take"]),
    "shot-trim": Route(PROJECT, post="edit", args=["shot"]),
    "shot-order": Route(PROJECT, post="edit"),
    "shot-undo": Route(PROJECT, post="edit"),
    "shot-move": Route(PROJECT, post="edit", args=["shot"]),
    "shot-duplicate": Route(PROJECT, post="edit", args=["shot"]),
    "shot-seam": Route(PROJECT, get="view", args=["continuing"]),
    "seam-pick": Route(PROJECT, post="edit", args=["continuing"]),
    "project-variant": Route(PROJECT, post="edit"),
    "shot-release": Route(PROJECT, post="generate", args=["shot"]),
    "export-create": Route(PROJECT, post="export"),
    "link-create": Route(PROJECT, post="share"),
    "link-revoke": Route(PROJECT, post="share", args=["link"]),
    "link-details": Route(PROJECT, post="share", args=["link"]),
    "shared-project": Route(SHARED, get="view", login=False),
    "shared-guest-name": Route(SHARED, post="review", login=False),
    "team-list": Route(OPEN, get="open", post="open"),
    "team-detail": Route(TEAM, get="view", post="manage"),
    "team-leave": Route(TEAM, post="view"),
    "invitation-create": Route(TEAM, post="manage"),
    "invitation-revoke": Route(TEAM, post="manage", args=["invitation"]),
    "member-role": Route(TEAM, post="manage", args=["member"]),
    "member-remove": Route(TEAM, post="manage", args=["member"]),
    "endpoint-create": Route(TEAM, post="manage"),
    "endpoint-enable": Route(TEAM, post="manage", args=["endpoint"]),
    "endpoint-delete": Route(TEAM, post="manage", args=["endpoint"]),
    "endpoint-test": Route(TEAM, post="manage", args=["endpoint"]),
    "connection-create": Route(TEAM, post="manage"),
    "connection-default": Route(TEAM, post="manage"),
    "connection-key": Route(TEAM, post="manage", args=["connection"]),
    "connection-check": Route(TEAM, post="manage", args=["connection"]),
    "connection-delete": Route(TEAM, post="manage", args=["connection"]),
    "invitation": Route(
        OPEN, get="open", post="open", login=False, args=["invitation-token"], ok={"POST": 400}
    ),
    "invitation-answer": Route(OPEN, post="own", args=["named-invitation"], whose="outsider"),
    # Making a token answers with its secret, once (the page again, never a redirect).
    "token-list": Route(OPEN, get="open", post="open", ok={"POST": 200}),
    "token-revoke": Route(OPEN, post="own", args=["access-token"], whose="owner"),
    "provider-input": Route(OPEN, get="open", login=False, args=["input-token"]),
    "take-callback": Route(
        OPEN, post="open", login=False, args=["callback-token"], ok={"POST": 204}
    ),
    **{name: Route(PROJECT, login=False, **spec) for name, spec in VIEWING.items()},
    **{f"shared-{name}": Route(SHARED, login=False, **spec) for name, spec in VIEWING.items()},
    **{f"api-v1:{name}": Route(api=True, **spec) for name, spec in API.items()},
}


def app_url_names():
    names = set()

    def walk(patterns, prefix="", space=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                inner = f"{pattern.namespace}:" if pattern.namespace else space
                walk(pattern.url_patterns, route, inner)
            elif not route.startswith("admin/"):
                names.add(space + pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_the_table_names_every_url_of_the_app():
    assert set(TABLE) == app_url_names()


# Who asks the API, and as whom: the member whose token it is (None: no live token).
TOKENS = {
    "no token": None,
    "owner's session": None,  # signed in, no token: the API rides on no cookie (no CSRF)
    "expired token": None,
    "revoked token": None,
    "outsider token": "outsider",
    "owner token": "owner",
    "editor token": "editor",
    "viewer token": "viewer",
    "read-only token": "owner",  # the owner's, limited to reading
    "team token": "owner",  # the owner's, limited to the project's team
    "other-team token": "owner",  # the owner's, limited to another team of theirs
}
API_PERSONAS = list(TOKENS)


def expected(route, persona, method):
    """What `persona` should get from `route` by `method`, by projects.access's rules."""
    action = route.actions[method]
    if persona in TOKENS:
        return expected_of_token(route, persona, method)
    signed_in = persona in ("outsider", *MEMBERS)
    if route.login and not signed_in:
        return LOGIN
    ok = route.ok[method]
    if action is None:
        return 405
    if action == "open":
        return ok
    if action == "create":  # in a team where they own or edit; the viewer is in none
        return 200 if persona == "viewer" else ok  # (the page says so)
    if action == "own":  # a mention, an invitation by name: only theirs
        return ok if persona == route.whose else 404
    if route.kind == SHARED:
        if persona in ("view link", "review link"):
            kind = Link.Kind.VIEW if persona == "view link" else Link.Kind.REVIEW
            return ok if action in LINKS[kind] else 404
        return 404  # no link, or a revoked one: nothing is said
    if persona not in MEMBERS:
        return 404  # not a member: the project's existence is not told
    roles = ROLES.get(action, {Role.OWNER, Role.EDITOR, Role.VIEWER})
    return ok if MEMBERS[persona] in roles else 403


def expected_of_token(route, persona, method):
    """What a token's bearer gets from an API route: what its owner gets, within what the
    token reaches (one team: another's is a stranger's, 404) and allows (reading: 403)."""
    action, ok = route.actions[method], route.ok[method]
    if action is None:
        return 405
    if action == "open" and not route.login:
        return ok
    member = TOKENS[persona]
    if member is None:
        return 401
    if persona == "other-team token" and route.kind in (PROJECT, TEAM):
        return 404
    if action == "create":  # in a team of their own choosing, where they own or edit
        if persona == "viewer token":  # they only view, in their only team: the create
            return 422 if ok == 201 else 403  # form says so; the import, before the file
        return 403 if persona == "read-only token" else ok
    answer = expected(Route(route.kind, login=False, get=action), member, "GET")
    if answer != 404 and persona == "read-only token" and action not in TOKEN_READS | {"open"}:
        return 403
    return ok if answer in (200, 302) else answer


@pytest.fixture
def world(db):
    """A team of three with a project, a finished take, an export, links and invitations,
    and an outsider in a team of their own. Whatever people typed holds markup."""
    owner, editor = make_user("ada"), make_user("bob")
    # The viewer is in no team of their own: they make projects nowhere.
    viewer = get_user_model().objects.create_user("cy", password="pw-for-tests")
    outsider = make_user("eve")
    project = make_project(
        owner, title=f"Harbour {HOSTILE}", shots=[(f"A lighthouse {HOSTILE}", "cut")]
    )
    team = project.team
    team.name = f"Crew {HOSTILE}"
    team.save()
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    shot = project.shots.get()
    take = make_take(shot)
    continuing = Shot.objects.create(project=project, position=1, prompt="The beam turns")
    continuing_take = make_take(continuing)
    export = Export.objects.create(project=project, takes=[take.pk], status=Export.Status.DONE)
    with take.video.open("rb") as clip:
        export.file.save("cut.mp4", clip)
    links = {
        "view link": Link.make(project, Link.Kind.VIEW),
        "review link": Link.make(project, Link.Kind.REVIEW),
        "revoked link": Link.make(project, Link.Kind.REVIEW),
    }
    links["revoked link"].revoke()
    elsewhere = Team.objects.create(name="Elsewhere")
    Membership.objects.create(team=elsewhere, user=owner, role=Role.OWNER)
    tokens = {
        "outsider token": AccessToken.make(outsider, "t")[1],
        "owner token": AccessToken.make(owner, "t")[1],
        "editor token": AccessToken.make(editor, "t")[1],
        "viewer token": AccessToken.make(viewer, "t")[1],
        "read-only token": AccessToken.make(owner, "t", read_only=True)[1],
        "team token": AccessToken.make(owner, "t", team=team)[1],
        "other-team token": AccessToken.make(owner, "t", team=elsewhere)[1],
        "expired token": AccessToken.make(owner, "t", days=-1)[1],
    }
    revoked, tokens["revoked token"] = AccessToken.make(owner, "t")
    revoked.revoke()
    invitation, secret = Invitation.make(team, Role.EDITOR, owner)
    from django.core import signing

    gateway = Connection(team=team, name=f"Gate {HOSTILE}", preset="byteplus")
    gateway.set_key("sk-world-key-1234")
    gateway.save()
    team.gateway = gateway
    team.save()

    keeper = CastMember.objects.create(project=project, name="Keeper", description=HOSTILE)
    picture = CastImage.objects.create(
        member=keeper, file=ContentFile(cached_clip()[1], name="keeper.png")
    )
    keeper.voice.save("keeper.wav", ContentFile(b"RIFF"))
    shot.cast.add(keeper)  # a link's holder sees the pictures of the cast its cards show
    comment = shot.comments.create(author=editor, body=f"@ada look {HOSTILE}")
    shot.comments.create(link=links["review link"], guest_name=f"Rey {HOSTILE}", body="Hm")
    # An endpoint (on a public address), and a delivery whose attempt failed.
    endpoint = Endpoint.objects.create(
        team=team, url=f"https://93.184.216.34/hooks?{HOSTILE}", events=["take.done"]
    )
    event = WebhookEvent.objects.create(
        team=team, type="take.done", body="{}", created_at=timezone.now()
    )
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, attempts=1)
    DeliveryAttempt.objects.create(delivery=delivery, at=timezone.now(), error=f"Refused {HOSTILE}")
    return {
        "users": {"owner": owner, "editor": editor, "viewer": viewer, "outsider": outsider},
        "project": project,
        "team": team,
        "links": links,
        "tokens": tokens,
        "objects": {
            "shot": shot.pk,
            "continuing": continuing.pk,
            "cast-member": keeper.pk,
            "cast-image": picture.pk,
            "breakdown": Breakdown.objects.create(project=project, script="A kite").pk,
            "continuing-take": continuing_take.pk,
            "take": take.pk,
            "export": export.pk,
            "link": links["view link"].pk,
            "invitation": invitation.pk,
            "connection": gateway.pk,
            "outsider-team": Team.default_for(outsider).pk,
            "member": editor.pk,
            "endpoint": endpoint.pk,
            "mention": Mention.objects.create(comment=comment, user=owner).pk,
            "named-invitation": Invitation.make(team, Role.VIEWER, owner, "eve")[0].pk,
            "video": "video",
            "invitation-token": signing.dumps(
                {"i": invitation.pk, "s": secret}, salt=INVITATION_SALT
            ),
            "input-token": input_token(take, "last_frame"),
            "access-token": AccessToken.make(owner, "script")[0].pk,
            "callback-token": callback_token(take, 3600),
        },
    }


def url_of(name, route, persona, world):
    objects = [world["objects"][arg] for arg in route.args]
    if route.kind == PROJECT:
        return reverse(name, args=[world["project"].pk, *objects])
    if route.kind == SHARED:
        link = world["links"].get(persona)
        return reverse(name, args=[link.token if link else "1.not-a-link", *objects])
    if route.kind == TEAM:
        return reverse(name, args=[world["team"].pk, *objects])
    return reverse(name, args=objects)


def client_of(persona, world):
    if persona in TOKENS:  # the API's: a token or none, checking CSRF as a browser would
        secret = world["tokens"].get(persona)
        client = Client(enforce_csrf_checks=True)
        if secret:
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        if persona == "owner's session":
            client.force_login(world["users"]["owner"])
        return client
    client = Client()  # CSRF checks are the subject of other tests
    if persona in world["users"]:
        client.force_login(world["users"][persona])
    if persona == "review link":
        session = client.session
        session[GUEST_NAME] = f"Rey {HOSTILE}"
        session.save()
    return client


def classify(response):
    if response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL + "?"):
        return LOGIN
    return response.status_code


def files(media_root):
    """Every file under `media_root`, by its path there (os.walk: asked before and after
    each of a thousand GETs, pathlib's walk cost a second)."""
    return sorted(
        os.path.relpath(os.path.join(folder, name), media_root)
        for folder, _, names in os.walk(media_root)
        for name in names
    )


@contextmanager
def statements():
    """The SQL of every statement run on the connection meanwhile, as the code sent it.

    (Django's CaptureQueriesContext holds the same statements, each with its parameters
    written in: on SQLite one more query each, a thousand cells over.)"""
    sent = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield sent


def writes(queries):
    """The statements of `queries` that wrote rows, a visit's own session aside."""
    return [
        sql[:80]
        for sql in queries
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "django_session" not in sql
        and "projects_accesstoken" not in sql  # a token's last use
    ]


def body_of(name, world):
    body = dict(POSTS.get(name, {}))
    objects = world["objects"]
    return {k: world["team"].pk if v == "team" else objects.get(v, v) for k, v in body.items()}


POSTS = {  # enough of a body that a POST is about access, not an empty form
    "shot-create": {"prompt": "A", "duration": "4", "opening": "cut"},
    "shot-edit": {"prompt": "A", "duration": "4", "opening": "cut"},
    "cast-list": {"name": "Mara", "kind": "character"},
    "script-import": {"text": "A kite over the sea", "preview": ""},
    "cast-edit": {"name": "Keeper", "kind": "character", "description": "An old keeper"},
    "cast-delete": {"confirm": "yes"},  # the keeper is in a shot: asked, and answered
    "comment-create": {"body": "Nice"},
    "shared-comment-create": {"body": "Nice"},
    "take-verdict": {"verdict": "approved"},
    "shared-take-verdict": {"verdict": "approved"},
    "link-create": {"kind": "view", "expires": "7"},
    "member-role": {"role": "viewer"},
    "invitation-create": {"role": "viewer"},
    "endpoint-create": {"url": "https://93.184.216.34/hooks", "events": "take.done"},
    "endpoint-enable": {"enabled": "0"},
    "project-move": {"team": "team"},
    "seam-pick": {"before": "take", "after": "continuing-take"},
    "project-list": {"title": "New", "resolution": "480p", "ratio": "16:9"},
    "project-settings": {"title": "Renamed", "resolution": "480p", "ratio": "16:9"},
    "team-list": {"name": "New crew"},
    "token-list": {"name": "CI", "days": "90"},
    "team-detail": {"name": "Renamed crew"},
    "connection-create": {"name": "Own gateway", "preset": "byteplus", "key": "sk-new-5678"},
    "connection-key": {"key": "sk-newer-9012"},
    "connection-default": {"connection": "connection"},
}


def test_every_url_answers_everyone_as_the_rules_say(world, settings, media_root):
    """Each cell: the answer the rules promise; a GET that changes nothing; a page that
    shows what people wrote as text."""
    settings.LOGIN_URL = "/accounts/login/"
    wrong = []
    for persona in PERSONAS:
        client = client_of(persona, world)
        for name, route in TABLE.items():
            if name in ("project-events", "shared-project-events", "logout") or route.api:
                continue  # streams and signing out: below; the API: by token, below
            for method in ("GET", "POST"):
                url = url_of(name, route, persona, world)
                where = f"{persona:12} {method:4} {name}"
                stored = files(media_root) if method == "GET" else None  # what a GET keeps
                with transaction.atomic(), statements() as queries:
                    if method == "GET":
                        response = client.get(url)
                    else:
                        response = client.post(url, body_of(name, world))
                    transaction.set_rollback(True)  # each cell starts from the same world
                if method == "GET":
                    new_files = sorted(set(files(media_root)) ^ set(stored))
                    if writes(queries) or new_files:
                        wrong.append(f"{where}: changed {writes(queries)} {new_files}")
                got, want = classify(response), expected(route, persona, method)
                if got != want:
                    wrong.append(f"{where}: {got}, expected {want}")
                html = response.get("Content-Type", "").startswith("text/html")
                if html and not response.streaming and HOSTILE in response.content.decode():
                    wrong.append(f"{where}: shows {HOSTILE} unescaped")
    assert not wrong, "\n".join(wrong)


def test_no_post_goes_without_its_csrf_token_but_the_providers_callback(world, settings):
    """Whoever may take each action, asked by a page of another site (no token): refused
    before anything happens. The provider's callback has no session to ride on: it only
    hands the take to a worker, which reads the task from the provider."""
    settings.LOGIN_URL = "/accounts/login/"
    wrong = []
    for name, route in TABLE.items():
        if route.actions["POST"] is None or name == "take-callback" or route.api:
            continue  # the API is asked with a token, never a cookie: below
        persona = next(
            p for p in PERSONAS if expected(route, p, "POST") not in (LOGIN, 403, 404, 405)
        )
        client = Client(enforce_csrf_checks=True)
        client.cookies = client_of(persona, world).cookies
        with transaction.atomic():
            response = client.post(url_of(name, route, persona, world), body_of(name, world))
            transaction.set_rollback(True)
        if response.status_code != 403 or "CSRF" not in response.content.decode():
            wrong.append(f"{persona} POST {name}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


API_BODIES = {  # JSON bodies enough that a request is about access, not an empty body
    ("api-v1:project-list", "POST"): {"title": "New"},
    ("api-v1:project-detail", "PATCH"): {"title": "Renamed"},
    ("api-v1:shot-list", "POST"): {"prompt": "A kite", "duration": 4},
    ("api-v1:shot-detail", "PATCH"): {"prompt": "A kite, higher"},
    ("api-v1:shot-order", "PUT"): {"shots": ["continuing", "shot"]},
    ("api-v1:shot-comments", "POST"): {"body": "Hm"},
    ("api-v1:exports", "POST"): {"format": "pdf"},  # needs no take
    ("api-v1:shot-move", "POST"): {"steps": 1},
    ("api-v1:shot-trim", "POST"): {"trim_in": 0, "trim_out": 1},
    ("api-v1:shot-release", "POST"): {"out": 0},
    ("api-v1:shot-seam", "POST"): {"before": "take", "after": "continuing-take"},
    ("api-v1:project-move", "POST"): {"team": "outsider-team"},
    ("api-v1:take-verdict", "POST"): {"verdict": "approved"},
    ("api-v1:link-list", "POST"): {"kind": "review", "expires_in_days": 7},
    ("api-v1:link-detail", "PATCH"): {"shows_details": True},
}


def api_body_of(name, method, world):
    body = API_BODIES.get((name, method))
    if body is None:
        return ""
    objects = world["objects"]
    resolved = {  # an object's name, alone or in a list, is its id
        k: [objects[v] for v in value] if isinstance(value, list) else objects.get(value, value)
        for k, value in body.items()
    }
    return json.dumps(resolved)


def test_every_api_route_answers_every_token_as_the_rules_say(world, media_root):
    """The same table and rules as the web's, asked through the API by every kind of
    token and by none; a GET changes nothing (but a token's last use); every answer,
    refusals too, is the API's one JSON shape."""
    wrong = []
    for persona in API_PERSONAS:
        client = client_of(persona, world)
        for name, route in TABLE.items():
            if not route.api:
                continue
            for method, action in route.actions.items():
                if action is None and method not in ("GET", "POST"):
                    continue  # a method no route here takes: asked of one by GET and POST
                url = url_of(name, route, persona, world)
                where = f"{persona:16} {method:6} {name}"
                stored = files(media_root) if method == "GET" else None  # what a GET keeps
                body = api_body_of(name, method, world)
                with transaction.atomic(), statements() as queries:
                    response = client.generic(method, url, body, content_type="application/json")
                    transaction.set_rollback(True)  # each cell starts from the same world
                if method == "GET":
                    new_files = sorted(set(files(media_root)) ^ set(stored))
                    if writes(queries) or new_files:
                        wrong.append(f"{where}: changed {writes(queries)} {new_files}")
                got, want = response.status_code, expected(route, persona, method)
                if got != want:
                    wrong.append(f"{where}: {got}, expected {want} {peek(response)}")
                if got >= 400 and not is_error_shape(response):
                    wrong.append(f"{where}: {got} not in the error shape: {peek(response)}")
    assert not wrong, "\n".join(wrong)


def peek(response):
    return "(a file)" if response.streaming else response.content[:200]


def is_error_shape(response):
    if response.get("Content-Type") != "application/json":
        return False
    body = response.json()
    return set(body) <= {"code", "message", "fields"} and bool(body["code"] and body["message"])


@pytest.mark.django_db(transaction=True)  # a stream closes its connection when it ends
def test_event_streams_answer_members_and_live_links_only(world):
    project = world["project"]
    for persona in PERSONAS:
        client = client_of(persona, world)
        for name in ("project-events", "shared-project-events"):
            route = TABLE[name]
            response = client.get(url_of(name, route, persona, world))
            got = classify(response)
            if hasattr(response, "close"):
                response.close()
            assert got == expected(route, persona, "GET"), (persona, name, got)
    assert project.pk


def test_a_refusal_says_why_in_plain_words(world):
    client = client_of("viewer", world)
    response = client.post(reverse("project-generate", args=[world["project"].pk]))
    assert response.status_code == 403
    assert "Only owners and editors can generate" in response.content.decode()


def test_an_expired_link_opens_nothing(world):
    link = world["links"]["view link"]
    link.expires_at = timezone.now() - timedelta(seconds=1)
    link.save(update_fields=["expires_at"])
    assert Client().get(reverse("shared-project", args=[link.token])).status_code == 404


def test_a_team_owner_alone_manages_it(world):
    for persona, status in (("owner", 302), ("editor", 403), ("viewer", 403), ("outsider", 404)):
        client = client_of(persona, world)
        url = reverse("team-detail", args=[world["team"].pk])
        response = client.post(url, {"name": "Renamed"})
        assert response.status_code == status, persona
    assert Team.objects.get(pk=world["team"].pk).name == "Renamed"
