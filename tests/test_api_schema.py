"""The API against its own OpenAPI schema, by schemathesis: requests made from the schema
(in-process, through the WSGI app, as the owner of a seeded project with finished takes,
an export, a cast member and a comment), and every answer checked: never a 500, and each
one the schema documents shaped as it says."""

import shutil

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from projects.models import AccessToken, CastImage, CastMember, Export
from tests.factories import cached_clip, make_project, make_takes, make_user

CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def connection_kept():
    """The test's database connection kept across requests, as Django's test client keeps
    it: the WSGI handler closes it when a request starts and ends, and on PostgreSQL the
    test's transaction would go with it."""
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


@pytest.fixture(scope="module")
def seed(django_db_setup, django_db_blocker, tmp_path_factory):
    """ada's project with two shots and their takes, a done export, a cast member with a
    picture and a comment; an owner's token; the ids a path may name.

    Made once for the module, as Django's setUpTestData does: in a transaction that each
    test's own nests in (and rolls back to, whatever its requests changed), itself rolled
    back at the end. Its files are made in a folder of their own, copied into each
    test's media (requests may delete them)."""
    folder = tmp_path_factory.mktemp("seed")
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        quick = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # as the suite hashes
        with (
            django_db_blocker.unblock(),
            override_settings(MEDIA_ROOT=folder, PASSWORD_HASHERS=quick),
        ):
            made = make_seed()
        yield made, folder
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def make_seed():
    ada = make_user("ada")
    project = make_project(ada, shots=[("A lighthouse", "cut"), ("Its beam turns", "continue")])
    takes = make_takes(project)
    export = Export.objects.create(project=project, takes=[t.pk for t in takes], status="done")
    with takes[0].video.open("rb") as clip:
        export.file.save("cut.mp4", clip)
    member = CastMember.objects.create(project=project, name="Keeper", description="Tall")
    member.voice.save("keeper.wav", ContentFile(b"RIFF"))
    image = CastImage.objects.create(
        member=member, file=ContentFile(cached_clip()[1], name="keeper.png")
    )
    shot = project.shots.in_order().first()
    shot.cast.add(member)
    shot.comments.create(author=ada, body="@ada the beam")
    _, secret = AccessToken.make(ada, "schemathesis")
    return {
        "token": secret,
        "ids": {
            "project_id": project.pk,
            "team_id": project.team_id,
            "shot_id": shot.pk,
            "take_id": takes[0].pk,
            "export_id": export.pk,
            "member_id": member.pk,
            "image_id": image.pk,
        },
    }


@pytest.fixture
def seeded(seed, db, connection_kept, media_root):
    """The module's seed (see `seed`), as this test finds it: its rows and its files."""
    made, folder = seed
    shutil.copytree(folder, media_root, dirs_exist_ok=True)
    return made


def wsgi_app():
    django = get_wsgi_application()

    def app(environ, start_response):
        # From this machine, as the WSGI test client is (it says no address of its own).
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")
        return django(environ, start_response)

    return app


# The schema as the app serves it (no database is needed for it).
# Each operation: a few examples, valid and not (the coverage phase's hundreds of edge
# cases are left out, to run in seconds).
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}}, "generation": {"max-examples": 4}}
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app(), config=CONFIG)


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests every run
)
def test_the_api_answers_as_its_schema_says(case, seeded):
    # Paths name the seeded objects, so requests reach past "not found" into the code.
    for name, value in seeded["ids"].items():
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = value
    case.call_and_validate(headers={"Authorization": f"Bearer {seeded['token']}"}, checks=CHECKS)
