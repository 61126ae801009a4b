"""What teams need of a server on the internet: sign-ins throttled per client, behind
proxies too; a content security policy the pages pass; the development key kept to this
machine; secure cookies and HSTS; secrets written to no log, the servers' own included."""

import logging
import os
import re
import runpy
import secrets
import socket
import stat
import subprocess
import sys

import httpx
import pytest
from django.core import signing
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter

from projects.access import INPUT_SALT
from projects.logs import RedactSecrets, redact
from projects.models import Link
from storyboard.settings import DEVELOPMENT_KEY
from tests.factories import make_project, make_take
from tests.live import ROOT, LiveApp

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"  # a TLS proxy before the app


@pytest.fixture
def own_key(settings):
    """A key of its own, as a server answering other machines has (the development key
    answers this machine only)."""
    settings.SECRET_KEY = "a-key-of-this-test-only-" + "k" * 40


def sign_in(username, password, **client):
    return Client(**client).post(reverse("login"), {"username": username, "password": password})


def test_failed_sign_ins_lock_out_the_user_and_the_address(user, settings, own_key):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(3):
        client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    # Even the right password is refused now, for this user...
    locked = client.post(reverse("login"), {"username": "ada", "password": "pw-for-tests"})
    assert locked.status_code == 429 and "Too many tries" in locked.content.decode()
    # ...and from this address, whoever it names.
    other = Client(REMOTE_ADDR="10.0.0.7").post(
        reverse("login"), {"username": "someone", "password": "x"}
    )
    assert other.status_code == 429
    # Elsewhere, another user signs in.
    from tests.factories import make_user

    make_user("bob", password="bobs pass")
    fine = Client(REMOTE_ADDR="10.0.0.8").post(
        reverse("login"), {"username": "bob", "password": "bobs pass"}
    )
    assert fine.status_code == 302


def test_behind_a_proxy_each_client_is_locked_out_alone(user, settings, own_key):
    settings.TRUSTED_PROXIES = 1
    # Eight people behind the TLS proxy, one wrong password each: nobody is locked out.
    tries = [
        sign_in(f"person{n}", "wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        for n in range(8)
    ]
    assert [t.status_code for t in tries] == [200] * 8
    fine = sign_in("ada", "pw-for-tests", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.50")
    assert fine.status_code == 302
    # One client trying names is locked out, whatever it puts before the address the
    # proxy appended; the others are not.
    tries = [
        sign_in(
            f"name{n}",
            "wrong",
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9",
        )
        for n in range(6)
    ]
    assert [t.status_code for t in tries][-2:] == [429, 429]
    other = sign_in("ada", "pw-for-tests", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.51")
    assert other.status_code == 302


def test_without_a_proxy_a_forwarded_for_header_is_ignored(user, settings, own_key):
    assert settings.TRUSTED_PROXIES == 0  # the default
    tries = [
        sign_in(
            f"name{n}", "wrong", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        )
        for n in range(6)
    ]
    # Locked out by its own address, however many others it claims to be...
    assert [t.status_code for t in tries][-2:] == [429, 429]
    # ...and it cannot lock out the address it names.
    victim = sign_in(
        "ada", "pw-for-tests", REMOTE_ADDR="192.0.2.3", HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    assert victim.status_code == 302


def test_pages_carry_a_strict_content_security_policy_and_no_inline_script(client_of, user):
    project = make_project(user, shots=[("A", "cut")])
    make_take(project.shots.get())
    for url in (
        reverse("project-list"),
        project.get_absolute_url(),
        reverse("project-settings", args=[project.pk]),
        reverse("team-list"),
        reverse("team-detail", args=[project.team_id]),
        reverse("shared-project", args=[project.view_link().token]),
    ):
        response = client_of.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        html = response.content.decode()
        # Every script comes from a file; no element runs code or carries a style inline.
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert not re.search(r'\sstyle="', html), url


def manage(*args, **env):
    """A manage.py command on the development key, whatever key files this checkout has."""
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environment["SECRET_KEY_FILE"] = os.devnull + "/none"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_development_key_is_refused_outside_a_machine_of_ones_own():
    # The security checks, where the refusal is (projects.checks): the URL checks would
    # import every view for nothing here, and `up` runs them all on every start.
    refused = manage("check", "--tag", "security", ALLOWED_HOSTS="storyboard.example.com")
    assert refused.returncode != 0
    assert "SECRET_KEY is the development key" in refused.stderr
    local = manage("check", "--tag", "security", ALLOWED_HOSTS="127.0.0.1,localhost")
    assert local.returncode == 0, local.stderr
    # A render the command line drives itself, as a worker would, refuses it too (the
    # commands on the data run no system checks).
    render = manage("storyboard", "render", "1", "--wait", ALLOWED_HOSTS="storyboard.example.com")
    assert render.returncode != 0
    assert "SECRET_KEY is the development key" in render.stderr


def test_the_development_key_answers_this_machine_only(user, settings):
    settings.SECRET_KEY = DEVELOPMENT_KEY
    login = reverse("login")
    assert Client().get(login).status_code == 200  # 127.0.0.1
    assert Client(REMOTE_ADDR="::1").get(login).status_code == 200
    # Naming this machine as the host proves nothing about where a request comes from.
    elsewhere = Client(REMOTE_ADDR="192.0.2.9").get(login, HTTP_HOST="localhost")
    assert elsewhere.status_code == 403
    assert "development key" in elsewhere.content.decode()
    assert Client(REMOTE_ADDR="192.0.2.9").get(reverse("healthz")).status_code == 403
    # Through a proxy on this machine, the client is who the proxy says.
    settings.TRUSTED_PROXIES = 1
    proxied = Client(HTTP_X_FORWARDED_FOR="192.0.2.9").get(login)
    assert proxied.status_code == 403
    settings.SECRET_KEY = "a-key-of-this-test-only-" + "k" * 40
    assert Client(HTTP_X_FORWARDED_FOR="192.0.2.9").get(login).status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.9").get(login).status_code == 200


def test_the_installation_key_is_made_once_for_its_owner_only(tmp_path):
    from projects.management.commands.up import installation_key

    path = tmp_path / "data" / "secret.key"
    key = installation_key(path)
    assert len(key) >= 50 and key != DEVELOPMENT_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert installation_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]


def test_up_beyond_this_machine_signs_with_a_key_of_its_own(tmp_path, live_template):
    app = LiveApp(tmp_path, template=live_template, host="0.0.0.0")
    for name in ("SECRET_KEY", "SECRET_KEY_FILE"):
        app.env.pop(name, None)
    app.start()
    try:
        key_file = tmp_path / "secret.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert len(key) >= 50 and key != DEVELOPMENT_KEY
        # The command line (and so the worker, on the same settings) signs with it: a link
        # to a stored input that it makes is served by the web server...
        made = app.manage("shell", "-c", STORED_INPUT).split()
        pk, token = int(made[-2]), made[-1]
        assert httpx.get(f"{app.url}/inputs/{token}", timeout=60).status_code == 200
        # ...and one forged with the development key is not.
        forged = signing.dumps(
            {"m": "reference", "pk": pk, "f": "file"},
            key=DEVELOPMENT_KEY,
            salt=INPUT_SALT,
            compress=True,
        )
        assert httpx.get(f"{app.url}/inputs/{forged}", timeout=60).status_code == 404
    finally:
        app.stop()
    assert token not in app.output() and forged not in app.output()


STORED_INPUT = """
from django.core.files.base import ContentFile
from projects.access import input_token
from projects.models import Reference
from tests.factories import make_project, make_user
shot = make_project(make_user("owner", password=None), shots=[("A", "cut")]).shots.get()
reference = Reference(shot=shot, kind="audio", position=0)
reference.file.save("sound.wav", ContentFile(b"RIFF"), save=True)
print(reference.pk, input_token(reference, "file"))
"""


def test_check_deploy_is_clean_with_the_production_settings_of_the_readme():
    """The README's Deployment lines, `...` standing for a secret of the operator's."""
    section = (ROOT / "README.md").read_text().split("## Deployment\n")[1].split("\n## ")[0]
    exported = re.findall(r"^export (.+)$", section, re.MULTILINE)
    production = dict(item.split("=", 1) for line in exported for item in line.split())
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "SECURE", "TRUSTED_PROXIES"} <= set(production)
    for name, value in production.items():
        if value == "...":
            production[name] = secrets.token_urlsafe(50)
    checked = manage("check", "--deploy", "--fail-level", "WARNING", **production)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no issues" in checked.stdout


def test_link_and_invitation_secrets_never_reach_a_log(user):
    link = Link.make(make_project(user), Link.Kind.REVIEW)
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (f"/s/{link.token}/",),
        None,
    )
    RedactSecrets().filter(record)
    assert link.secret not in record.getMessage()
    assert record.getMessage() == "Not Found: /s/[secret]/"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /invitations/abc.def", (), None)
    RedactSecrets().filter(record)
    assert "abc.def" not in record.getMessage()


# A request to each route that carries a secret, as it may reach the server.
SECRET_ROUTES = [
    ("GET", "/s/1.{}/"),
    ("POST", "/s/1.{}/name"),
    ("GET", "/invitations/{}"),
    ("GET", "/inputs/{}"),
    ("POST", "/callbacks/{}"),
    ("GET", "/accounts/login/?next=/invitations/{}"),
]


def test_the_servers_access_log_never_carries_a_secret(web_server):
    sent = []
    for method, route in SECRET_ROUTES:
        secret = secrets.token_urlsafe(16)
        response = httpx.request(method, web_server.url + route.format(secret), timeout=60)
        assert response.status_code in (200, 403, 404), route
        sent.append(secret)
    log = web_server.output()
    assert "/callbacks/[secret]" in log  # the access log is on, and redacted
    assert log.count("[secret]") >= len(SECRET_ROUTES)
    assert not [secret for secret in sent if secret in log]


def test_every_route_that_carries_a_secret_is_redacted():
    """Routes name their secret `token`; a string in any other route must be no secret."""
    not_secrets = {"kind"}  # take-file's video, poster, ...
    carrying = set()
    for route, converters in every_route(get_resolver().url_patterns):
        for name, converter in converters.items():
            if name == "token":
                carrying.add(route.split("<")[0])
                path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", route)
                path = path.replace("<token>", "s3cr3t")
                path = re.sub(r"<\w+>", "1", path)
                assert "s3cr3t" not in redact(f"GET {path} HTTP/1.1"), path
            elif not isinstance(converter, IntConverter):
                assert name in not_secrets, f"{route}: is <{name}> a secret? Call it token."
    assert carrying == {"s/", "invitations/", "inputs/", "callbacks/"}


def every_route(patterns, prefix=""):
    """(route, converters) of each URL of the app's (not of Django's admin)."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route != "admin/":
                yield from every_route(pattern.url_patterns, route)
        else:
            yield route, pattern.pattern.converters


def test_each_worker_of_a_parallel_suite_has_a_redis_database_of_its_own(monkeypatch):
    """Under pytest-xdist, worker gwN (and every process it starts, which inherits its
    environment) uses the suite's Redis database plus N for its queue, cache and live
    channels, so two workers never take each other's tasks or hear each other's events.
    The settings file is run as each such process runs it, in the environment it would
    inherit (here, rather than in a Django process of its own for each: a second each)."""
    base = "redis://127.0.0.1:6379/10"
    monkeypatch.setenv("REDIS_URL", base)
    urls = {}
    for worker in ("", "gw0", "gw1", "gw3"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        s = runpy.run_path(str(ROOT / "storyboard" / "settings.py"))
        urls[worker] = {s["REDIS_URL"], s["Q_CLUSTER"]["redis"], s["CACHES"]["default"]["LOCATION"]}
    assert urls[""] == urls["gw0"] == {base}
    assert urls["gw1"] == {"redis://127.0.0.1:6379/11"}
    assert urls["gw3"] == {"redis://127.0.0.1:6379/13"}


def test_each_worker_of_a_parallel_suite_picks_ports_of_its_own(monkeypatch):
    """Servers that tests start take ports from tests.live.free_port: under pytest-xdist,
    two workers never get the same one (one test's browser would reach another's app),
    and one worker never gets the same one twice while its range has others."""
    import tests.live

    picked = {}
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setattr(tests.live, "_handed_out", set())
        picked[worker] = [tests.live.free_port() for _ in range(30)]
        assert len(set(picked[worker])) == 30
        assert all(port < 32768 for port in picked[worker])  # below the ephemeral ports
    assert not set(picked["gw0"]) & set(picked["gw1"])
    assert not set(picked["gw1"]) & set(picked["gw2"])
    # A port taken by someone else is passed over.
    monkeypatch.setattr(tests.live, "_handed_out", set())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", picked["gw2"][0]))
        taken.listen()
        assert tests.live.free_port() != picked["gw2"][0]
