"""Each team's own gateway: its takes go through its own connection, with its own key and
limits; a refused key pauses it (takes wait, none fails) until a new key; the key is
never readable back; only owners manage it."""

import http.server as http_server
import io
import json
import signal
import threading
import time

import httpx
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db
from django.urls import reverse

from projects import pipeline, providers, tasks, vault
from projects.models import Connection, Membership, Opening, Project, Role, Spend, Take, Team
from projects.models.connections import PAUSED
from projects.providers.style import Style
from projects.simulator import Simulator
from tests.factories import make_project, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]
Status = Take.Status


@pytest.fixture
def gateway_a(small_clips):
    with Simulator(port=0, delay=0.5, small=small_clips, api_key="sk-team-a-0001") as sim:
        yield sim


@pytest.fixture
def gateway_b(small_clips):
    with Simulator(port=0, delay=0.5, small=small_clips, api_key="sk-team-b-0002") as sim:
        yield sim


@pytest.fixture
def deployment(simulator, settings):
    """The server's own gateway (SEEDANCE_*), a third simulator: nothing of a team with a
    connection may reach it."""
    settings.SEEDANCE_POLL_INTERVAL = 0.1
    return simulator


def connect(team, sim, key, name="Own gateway", default=True, **limits):
    gateway = Connection(
        team=team,
        name=name,
        style="ark",
        base_url=sim.base_url("ark"),
        **limits,
    )
    gateway.set_key(key)
    gateway.save()
    if default:
        Team.objects.filter(pk=team.pk).update(gateway=gateway)
    return gateway


def cuts(user, title, count):
    shots = [(f"{title} {n}", Opening.CUT) for n in range(count)]
    return make_project(user, title=title, shots=shots)


def keys_seen(sim):
    return {r["headers"].get("Authorization") for r in sim.requests}


def most_at_once(tasks):
    events = sorted(
        [(t.created_at, 1) for t in tasks] + [(t.updated_at, -1) for t in tasks],
        key=lambda event: (event[0], event[1]),
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_each_teams_takes_go_to_its_own_gateway_with_its_key_and_limits(
    deployment, gateway_a, gateway_b, worker
):
    ada, bob = make_user("ada"), make_user("bob")
    a = connect(ada.teams.get(), gateway_a, "sk-team-a-0001", concurrency=1)
    b = connect(bob.teams.get(), gateway_b, "sk-team-b-0002")
    harbour, market = cuts(ada, "Harbour", 3), cuts(bob, "Market", 3)
    for project in (harbour, market):
        pipeline.queue_takes(project)
        tasks.start(project.pk)
    takes = Take.objects.all()
    worker.until(lambda: not takes.unfinished().exists(), what="both teams' takes")

    assert sorted(takes.values_list("status", flat=True)) == [Status.DONE] * 6
    assert set(takes.filter(shot__project=harbour).values_list("provider", flat=True)) == {
        a.provider_name
    }
    assert set(takes.filter(shot__project=market).values_list("provider", flat=True)) == {
        b.provider_name
    }
    # Each gateway got its own team's creates, and only its own key.
    assert gateway_a.create_count == 3 and gateway_b.create_count == 3
    assert deployment.create_count == 0 and not deployment.requests
    assert keys_seen(gateway_a) == {"Bearer sk-team-a-0001"}
    assert keys_seen(gateway_b) == {"Bearer sk-team-b-0002"}
    prompts_a = {r["json"]["content"][0]["text"] for r in gateway_a.requests if r["json"]}
    assert prompts_a and all(p.startswith("Harbour") for p in prompts_a)
    # One at once on A's connection held none of B's: B's three ran side by side.
    assert most_at_once(gateway_a.engine.tasks()) == 1
    assert most_at_once(gateway_b.engine.tasks()) >= 2
    # The spend is counted per connection, in each team's ledger.
    assert set(Spend.objects.values_list("team", "provider")) == {
        (harbour.team_id, a.provider_name),
        (market.team_id, b.provider_name),
    }


def test_a_revoked_key_pauses_the_connection_and_a_new_key_resumes_its_takes(
    deployment, gateway_a, worker, client, django_capture_on_commit_callbacks
):
    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-team-a-0001", concurrency=1)
    project = cuts(ada, "Harbour", 2)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    first, second = (shot.latest_take for shot in project.timeline())
    assert first.status == Status.QUEUED and second.status == Status.WAITING

    gateway_a.api_key = "sk-team-a-rotated-9999"  # the gateway revokes the key
    worker.until(
        lambda: Connection.objects.get(pk=gateway.pk).paused_at is not None,
        what="the refused key to pause the connection",
    )
    creates = gateway_a.create_count
    # A while on: nothing fails, nothing new is sent, and each card says why it waits.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        worker.clock.tick()
        time.sleep(0.05)
    takes = Take.objects.filter(shot__project=project).order_by("shot__position")
    assert [t.status for t in takes.all()] == [first.status, Status.WAITING]
    assert not takes.filter(status=Status.FAILED).exists()
    assert gateway_a.create_count == creates == 1
    assert all(t.note.startswith(PAUSED) for t in takes.all()), [t.note for t in takes.all()]

    client.force_login(ada)
    page = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    assert "is paused: the team&#x27;s gateway key was refused" in page
    assert "Unauthorized" not in page  # the gateway's own words stay with the owners
    assert not any("Unauthorized" in t.note for t in takes.all())
    team_page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "Own gateway is paused: the gateway refused its key" in team_page
    grace = make_user("grace")
    Membership.objects.create(user=grace, team=team, role=Role.EDITOR)
    client.force_login(grace)
    team_page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "Own gateway is paused: its gateway key was refused" in team_page
    assert "Unauthorized" not in team_page
    client.force_login(ada)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("connection-key", args=[team.pk, gateway.pk]),
            {"key": "sk-team-a-rotated-9999"},
        )
    gateway.refresh_from_db()
    assert gateway.paused_at is None and gateway.key_end == "9999"
    worker.until(lambda: not takes.unfinished().exists(), what="the takes to resume")
    done = list(takes.all())
    assert [t.status for t in done] == [Status.DONE, Status.DONE], [t.error for t in done]
    assert gateway_a.create_count == 2  # the paused one was sent once, after the new key
    assert not any(t.note.startswith(PAUSED) for t in done), [t.note for t in done]
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.OK  # the new key was tested in the worker


def test_test_connection_says_whether_the_key_and_the_address_work(
    gateway_a, worker, client, django_capture_on_commit_callbacks
):
    def check():
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url)

    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-wrong-key-0000")
    client.force_login(ada)
    url = reverse("connection-check", args=[team.pk, gateway.pk])

    check()
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "Testing the connection" in page and 'http-equiv="refresh"' in page  # not waited on
    worker.drain()
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.REFUSED and gateway.paused_at is not None

    gateway_a.api_key = "sk-wrong-key-0000"  # the owner fixed it at the gateway's side
    check()
    worker.drain()
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.OK and gateway.paused_at is None
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "Works: The key and the address work." in page and 'http-equiv="refresh"' not in page
    # Each test was one read of a task that does not exist.
    reads = [r for r in gateway_a.requests if r["method"] == "GET"]
    assert len(reads) == 2 and all(r["path"].endswith(Style.NO_SUCH_TASK) for r in reads)

    closed = Simulator(port=0)  # bound, then closed: nothing answers there
    address = closed.base_url("ark")
    closed.stop()
    Connection.objects.filter(pk=gateway.pk).update(base_url=address)
    check()
    worker.drain()
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.UNREACHABLE, gateway.check_message


def test_the_key_is_never_readable_back(gateway_a, client, settings):
    ada = make_user("ada")
    team = ada.teams.get()
    client.force_login(ada)
    key = "sk-very-secret-gateway-key-7f3a"
    response = client.post(
        reverse("connection-create", args=[team.pk]),
        {
            "name": "Night gateway",
            "style": "ark",
            "base_url": gateway_a.base_url("ark"),
            "key": key,
            "default": "on",
        },
    )
    assert response.status_code == 302
    gateway = Connection.objects.get()
    assert gateway.key() == key and gateway.key_end == "7f3a" and gateway.is_default

    dump = io.StringIO()
    call_command("dumpdata", "projects", stdout=dump)
    assert gateway.sealed_key in dump.getvalue() and key not in dump.getvalue()
    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM projects_connection")
        rows = repr(cursor.fetchall())
    assert "Night gateway" in rows and key not in rows and key[:12] not in rows
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "····7f3a" in page and key not in page and key[:-4] not in page
    # Sealed with the installation's own key, not SECRET_KEY: another installation's
    # key opens nothing.
    assert settings.GATEWAY_KEYS_FILE.is_file()
    settings.GATEWAY_KEYS_SECRET = Fernet.generate_key().decode()
    with pytest.raises(vault.Unreadable):
        gateway.key()


def test_keys_rotate_by_putting_the_new_one_first(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GATEWAY_KEYS_SECRET = old
    sealed = vault.seal("sk-rotating-1234")
    settings.GATEWAY_KEYS_SECRET = f"{new},{old}"
    assert vault.unseal(sealed) == "sk-rotating-1234"  # the old one still opens it
    resealed = vault.reseal(sealed)
    settings.GATEWAY_KEYS_SECRET = new
    assert vault.unseal(resealed) == "sk-rotating-1234"
    with pytest.raises(vault.Unreadable):
        vault.unseal(sealed)


def test_only_owners_manage_the_teams_connections(gateway_a, client):
    ada, bob = make_user("ada"), make_user("bob")
    team = ada.teams.get()
    Membership.objects.create(team=team, user=bob, role=Role.EDITOR)
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    client.force_login(bob)
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "Own gateway" in page and "····" not in page and "Test connection" not in page
    for name, args, body in (
        ("connection-create", [], {"name": "Mine", "preset": "byteplus", "key": "sk-bob-1"}),
        ("connection-key", [gateway.pk], {"key": "sk-bob-2"}),
        ("connection-check", [gateway.pk], {}),
        ("connection-default", [], {"connection": ""}),
        ("connection-delete", [gateway.pk], {}),
    ):
        response = client.post(reverse(name, args=[team.pk, *args]), body)
        assert response.status_code == 403, name
    gateway = Connection.objects.get(pk=gateway.pk)
    assert gateway.key() == "sk-team-a-0001" and gateway.is_default
    assert Connection.objects.count() == 1


def test_takes_in_flight_finish_on_their_connection_after_the_default_changes(
    deployment, gateway_a, gateway_b, worker, client, django_capture_on_commit_callbacks
):
    ada = make_user("ada")
    team = ada.teams.get()
    a = connect(team, gateway_a, "sk-team-a-0001", name="A")
    b = connect(team, gateway_b, "sk-team-b-0002", name="B", default=False)
    project = cuts(ada, "Harbour", 1)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    sent = project.shots.get().latest_take
    assert sent.status == Status.QUEUED and sent.provider == a.provider_name

    client.force_login(ada)
    client.post(reverse("connection-default", args=[team.pk]), {"connection": b.pk})
    assert Team.objects.get(pk=team.pk).gateway == b
    # A cannot be deleted while the take is at its gateway.
    client.post(reverse("connection-delete", args=[team.pk, a.pk]))
    assert Connection.objects.filter(pk=a.pk).exists()

    worker.until(lambda: Take.objects.get(pk=sent.pk).status == Status.DONE, what="the take")
    assert not gateway_b.requests  # read and collected where it was sent
    assert gateway_a.create_count == 1
    shot = project.timeline()[0]
    assert not shot.stale and shot.selected_take_id == sent.pk  # nothing marked stale

    with django_capture_on_commit_callbacks(execute=True):  # as the request's commit does
        client.post(reverse("shot-regenerate", args=[project.pk, shot.pk]))
    worker.until(lambda: not Take.objects.unfinished().exists(), what="the new take")
    again = project.shots.get().latest_take
    assert again.pk != sent.pk and again.status == Status.DONE
    assert again.provider == b.provider_name and gateway_b.create_count == 1
    assert gateway_a.create_count == 1
    client.post(reverse("connection-delete", args=[team.pk, a.pk]))  # now it may go
    assert not Connection.objects.filter(pk=a.pk).exists()
    assert Take.objects.get(pk=sent.pk).provider == a.provider_name  # its record stays


def test_a_team_without_a_connection_uses_the_servers_gateway(deployment, gateway_a, worker):
    ada, bob = make_user("ada"), make_user("bob")
    connect(ada.teams.get(), gateway_a, "sk-team-a-0001")
    project = cuts(bob, "Market", 1)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    worker.until(lambda: not Take.objects.unfinished().exists(), what="the take")
    take = project.shots.get().latest_take
    assert take.status == Status.DONE and take.provider == providers.deployment().name
    assert deployment.create_count == 1 and gateway_a.create_count == 0
    assert keys_seen(deployment) == {"Bearer test-key"}


def test_rotate_seals_every_key_with_the_new_key(gateway_a, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GATEWAY_KEYS_SECRET = old
    gateway = connect(make_user("ada").teams.get(), gateway_a, "sk-rotate-me-4321")
    settings.GATEWAY_KEYS_SECRET = f"{new},{old}"
    call_command("gateway_keys", "rotate", stdout=io.StringIO())
    settings.GATEWAY_KEYS_SECRET = new  # the old key dropped
    gateway.refresh_from_db()
    assert gateway.key() == "sk-rotate-me-4321"


def test_a_team_on_another_preset_makes_its_models_takes_and_sees_them_current(
    deployment, gateway_a, worker, client
):
    ada = make_user("ada")
    team = ada.teams.get()
    gateway = Connection(
        team=team, name="BytePlus", preset="byteplus", base_url=gateway_a.base_url()
    )
    gateway.set_key("sk-team-a-0001")
    gateway.save()
    Team.objects.filter(pk=team.pk).update(gateway=gateway)
    project = cuts(ada, "Harbour", 1)  # names no model: its gateway's default
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    worker.until(lambda: not Take.objects.unfinished().exists(), what="the take")
    take = Take.objects.get()
    assert take.status == Status.DONE, take.error
    sent = [r["json"]["model"] for r in gateway_a.requests if r["method"] == "POST"]
    assert sent == ["dreamina-seedance-2-0-fast-260128"]  # BytePlus's, not the server's
    shot = Project.objects.get(pk=project.pk).timeline()[0]
    assert not shot.stale, shot.stale
    client.force_login(ada)
    page = client.get(reverse("project-settings", args=[project.pk])).content.decode()
    assert 'value="dreamina-seedance-2-0-260128"' in page  # its gateway's models to pick
    assert 'value="doubao-seedance-2-0-260128"' not in page


SETUP = """
from django.core.management import call_command
from projects.models import Connection, Project, Team
from tests.factories import make_user
made = []
for owner, url, key, path in {spec!r}:
    user = make_user(owner, password=None)
    team = user.teams.get()
    own = Connection(team=team, name="Own", style="ark", base_url=url, concurrency=1)
    own.set_key(key)
    own.save()
    Team.objects.filter(pk=team.pk).update(gateway=own)
    call_command("storyboard", "import", path, "--owner", owner)
    project = Project.objects.latest("pk")
    call_command("storyboard", "render", str(project.pk))
    made.append(project.pk)
print(*made)
"""


def test_each_connections_limit_holds_across_worker_processes_apart_from_the_others(
    tmp_path, small_clips, live_template
):
    """Four worker processes, two teams, each on its own gateway with one task at once:
    each gateway never sees two tasks at once, and the two run side by side."""
    from tests.live import Deployment
    from tests.test_limits import cuts as storyboard
    from tests.test_limits import most_at_once as peak

    # Each team's first task takes four seconds, the rest half a second: the two first
    # tasks, sent together, overlap even on a loaded CI machine (there the second team's
    # first create came 2.3 s after the first's, while each Q worker still imported every
    # view at its first log line), and a second task sent to a gateway before its first
    # ends shows whichever it is.
    sims = [
        Simulator(port=0, delay=0.5, small=small_clips, api_key=key).start()
        for key in ("sk-team-a-0001", "sk-team-b-0002", "test-key")
    ]
    a, b, server = sims
    try:
        app = Deployment(
            tmp_path,
            server,
            live_template,
            Q_WORKERS="4",
            GATEWAY_KEYS_SECRET=Fernet.generate_key().decode(),
        )
        try:
            spec = [
                (
                    "ada",
                    a.base_url("ark"),
                    "sk-team-a-0001",
                    str(storyboard(tmp_path, "H", 3, first_delay=4)),
                ),
                (
                    "bob",
                    b.base_url("ark"),
                    "sk-team-b-0002",
                    str(storyboard(tmp_path, "M", 3, first_delay=4)),
                ),
            ]
            app.manage("shell", "-c", SETUP.format(spec=spec))
            with open(tmp_path / "workers.log", "w") as log:
                worker = app.worker(log)
                deadline = time.monotonic() + 120
                while any(status != "done" for status, _ in app.takes()):
                    assert time.monotonic() < deadline, app.takes()
                    time.sleep(0.2)
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        finally:
            app.database.drop()
        spans = {sim: [(t.created_at, t.updated_at) for t in sim.engine.tasks()] for sim in sims}
    finally:
        for sim in sims:
            sim.stop()
    assert a.create_count == 3 and b.create_count == 3 and server.create_count == 0
    assert peak(spans[a]) == 1 and peak(spans[b]) == 1  # each connection's own limit
    assert peak(spans[a] + spans[b]) == 2  # and neither held the other's takes
    assert keys_seen(a) == {"Bearer sk-team-a-0001"} and keys_seen(b) == {"Bearer sk-team-b-0002"}


def test_a_create_refused_for_its_key_waits_unsent_and_pauses_the_connection(
    deployment, gateway_a, worker
):
    ada = make_user("ada")
    gateway = connect(ada.teams.get(), gateway_a, "sk-revoked-0000")
    project = cuts(ada, "Harbour", 2)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    takes = list(Take.objects.filter(shot__project=project))
    assert [t.status for t in takes] == [Status.WAITING] * 2, [t.error for t in takes]
    assert all(t.note.startswith(PAUSED) for t in takes)
    gateway.refresh_from_db()
    assert gateway.paused_at is not None and "refused its key" in gateway.paused_reason
    assert gateway_a.create_count == 0 and not deployment.requests
    creates = [r for r in gateway_a.requests if r["method"] == "POST"]
    tasks.start(project.pk)  # asked again while paused: nothing more is sent
    assert [r for r in gateway_a.requests if r["method"] == "POST"] == creates


def test_a_project_may_pick_another_of_its_teams_connections(
    deployment, gateway_a, gateway_b, worker, client
):
    ada, bob = make_user("ada"), make_user("bob")
    team = ada.teams.get()
    connect(team, gateway_a, "sk-team-a-0001", name="A")
    b = connect(team, gateway_b, "sk-team-b-0002", name="B", default=False)
    elsewhere = connect(bob.teams.get(), gateway_b, "sk-bob-0003", name="Bob's")
    project = cuts(ada, "Harbour", 1)
    client.force_login(ada)
    url = reverse("project-settings", args=[project.pk])
    page = client.get(url).content.decode()
    assert "The team&#x27;s default (A)" in page and "Bob&#x27;s" not in page
    fields = {"title": "Harbour", "resolution": "480p", "ratio": "16:9", "version": "1"}
    refused = client.post(url, {**fields, "connection": elsewhere.pk})  # another team's
    assert refused.status_code == 400
    client.post(url, {**fields, "connection": b.pk})
    project.refresh_from_db()
    assert project.connection == b
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    worker.until(lambda: not Take.objects.unfinished().exists(), what="the take")
    take = Take.objects.get()
    assert take.status == Status.DONE and take.provider == b.provider_name
    assert gateway_b.create_count == 1 and gateway_a.create_count == 0
    assert keys_seen(gateway_b) == {"Bearer sk-team-b-0002"}


def test_a_teams_gateway_may_not_point_inside_this_network(
    deployment, gateway_a, worker, client, settings, django_capture_on_commit_callbacks
):
    """With GATEWAYS_ALLOW_INTERNAL off (production's default), an owner cannot aim the
    workers at the server's own network: the form refuses such an address, and one saved
    before is refused at send and at check, before any request (and key) goes there."""
    settings.GATEWAYS_ALLOW_INTERNAL = False
    ada = make_user("ada")
    team = ada.teams.get()
    client.force_login(ada)
    for address in (
        "http://127.0.0.1:5432",
        "http://169.254.169.254/latest",
        "https://10.1.2.3/api/v3",
        "http://[::1]:8000",
        "http://localhost:9000",
    ):
        response = client.post(
            reverse("connection-create", args=[team.pk]),
            {"name": address, "style": "ark", "base_url": address, "key": "sk-x-0001"},
            follow=True,
        )
        assert "inside this network" in response.content.decode(), address
    assert not Connection.objects.exists()

    # Saved while it was allowed (or a name that moved inside): refused when used.
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    project = cuts(ada, "Harbour", 1)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    worker.drain()
    take = Take.objects.get(shot__project=project)
    assert take.status == Status.FAILED and "inside this network" in take.error, take.error
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("connection-check", args=[team.pk, gateway.pk]))
    worker.drain()
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.FAILED
    assert "inside this network" in gateway.check_message
    assert gateway_a.requests == [] and gateway_a.create_count == 0  # nothing reached it
    assert deployment.create_count == 0  # nor went to the server's own gateway instead

    # Results of a team's gateway never come from inside this network either, even when
    # its own address is there; the deployment's own (the simulator's) may.
    provider = gateway.provider()
    team_client = provider.client()
    with pytest.raises(providers.ProviderError, match="inside this network"):
        team_client.download(f"{gateway_a.url}/anything.mp4")
    assert gateway_a.requests == []
    assert providers.deployment().client()._internal_api


def _paused_with_a_take_in_flight(team, gateway_a, ada):
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    project = cuts(ada, "Harbour", 1)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    take = Take.objects.get(shot__project=project)
    assert take.status == Status.QUEUED and take.provider == gateway.provider_name
    gateway.pause("the gateway refused its key (Unauthorized).")
    return gateway, take


def test_an_owner_may_delete_a_paused_connection_giving_up_its_takes(
    deployment, gateway_a, worker, client
):
    ada = make_user("ada")
    team = ada.teams.get()
    gateway, take = _paused_with_a_take_in_flight(team, gateway_a, ada)
    client.force_login(ada)
    url = reverse("connection-delete", args=[team.pk, gateway.pk])

    page = client.post(url, follow=True).content.decode()
    assert "confirm giving them up" in page
    assert Connection.objects.filter(pk=gateway.pk).exists()
    team_page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert 'name="give_up" value="yes"' in team_page and "may still bill" in team_page

    page = client.post(url, {"give_up": "yes"}, follow=True).content.decode()
    assert "1 take(s) at its gateway were given up" in page
    assert not Connection.objects.filter(pk=gateway.pk).exists()
    take.refresh_from_db()
    assert take.status == Status.FAILED and "may still finish it, and bill for it" in take.error


def test_a_working_connection_with_takes_at_the_gateway_is_not_deleted(
    deployment, gateway_a, worker, client
):
    ada = make_user("ada")
    team = ada.teams.get()
    gateway, take = _paused_with_a_take_in_flight(team, gateway_a, ada)
    Connection.objects.filter(pk=gateway.pk).update(paused_at=None)
    client.force_login(ada)
    url = reverse("connection-delete", args=[team.pk, gateway.pk])
    page = client.post(url, {"give_up": "yes"}, follow=True).content.decode()
    assert "delete it once they end" in page
    assert Connection.objects.filter(pk=gateway.pk).exists()
    assert Take.objects.get(pk=take.pk).status == Status.QUEUED


def test_takes_of_a_connection_paused_too_long_are_given_up(
    deployment, gateway_a, worker, settings
):
    from datetime import timedelta

    from django.utils import timezone

    ada = make_user("ada")
    team = ada.teams.get()
    gateway, take = _paused_with_a_take_in_flight(team, gateway_a, ada)
    settings.GATEWAYS_MAX_PAUSE_DAYS = 7
    Connection.objects.filter(pk=gateway.pk).update(paused_at=timezone.now() - timedelta(days=6))
    pipeline.poll_many([take])
    assert Take.objects.get(pk=take.pk).status == Status.QUEUED  # still waiting for a key
    Connection.objects.filter(pk=gateway.pk).update(
        paused_at=timezone.now() - timedelta(days=7, hours=1)
    )
    pipeline.poll_many([Take.objects.get(pk=take.pk)])
    take.refresh_from_db()
    assert take.status == Status.FAILED and "stayed paused over 7 days" in take.error
    assert "bill" in take.error


def test_a_take_is_not_claimed_for_a_connection_deleted_meanwhile(deployment, gateway_a):
    from projects import gateways, limits

    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    project = cuts(ada, "Harbour", 1)
    pipeline.queue_takes(project)
    take = Take.objects.get(shot__project=project)
    with gateways.for_project(project):
        assert providers.configured().name == gateway.provider_name  # looked up first
        gateway.delete()  # then deleted, before the claim
        claim = limits.claim(take)
    assert not claim.claimed
    assert Take.objects.get(pk=take.pk).status == Status.WAITING and not gateway_a.requests


@pytest.mark.parametrize(
    "key", ["sk-line\nbreak-0001", "sk-nul\x00-0001", "sk with space", "sk-é-0001"]
)
def test_a_key_with_a_character_http_refuses_is_not_saved(gateway_a, client, key):
    ada = make_user("ada")
    team = ada.teams.get()
    client.force_login(ada)
    page = client.post(
        reverse("connection-create", args=[team.pk]),
        {"name": "Gateway", "style": "ark", "base_url": gateway_a.base_url("ark"), "key": key},
        follow=True,
    ).content.decode()
    assert "printable ASCII without spaces" in page and not Connection.objects.exists()
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    page = client.post(
        reverse("connection-key", args=[team.pk, gateway.pk]), {"key": key}, follow=True
    ).content.decode()
    assert "printable ASCII without spaces" in page
    assert Connection.objects.get().key() == "sk-team-a-0001"


class _Echoing(http_server.BaseHTTPRequestHandler):
    """A gateway that refuses every key, quoting it back (as some do)."""

    def do_GET(self):
        body = json.dumps({"error": {"message": f"bad key {self.headers['Authorization']}"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_errors_never_quote_the_key(gateway_a):
    with httpx.Client(timeout=5) as http:
        style = providers.STYLES["ark"](gateway_a.base_url("ark"), "sk-bad\nkey-0001", http)
        with pytest.raises(providers.ProviderError) as refused:
            style.get("task-1")
        assert "sk-bad" not in str(refused.value) and "key-0001" not in str(refused.value)
        assert not gateway_a.requests  # nothing was sent

    echoing = http_server.ThreadingHTTPServer(("127.0.0.1", 0), _Echoing)
    threading.Thread(  # polled every 10 ms: shutdown() waits for the next poll
        target=echoing.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    try:
        with httpx.Client(timeout=5) as client:
            url = f"http://127.0.0.1:{echoing.server_address[1]}/api/v3"
            style = providers.STYLES["ark"](url, "sk-echoed-secret-0001", client)
            with pytest.raises(providers.ProviderError) as refused:
                style.get("task-1")
    finally:
        echoing.shutdown()
        echoing.server_close()
    assert refused.value.status == 401
    assert "sk-echoed-secret" not in str(refused.value) and "[key]" in str(refused.value)


def test_a_lost_key_file_pauses_the_connection_and_fails_no_take(
    deployment, gateway_a, worker, settings, client, django_capture_on_commit_callbacks
):
    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    project = cuts(ada, "Harbour", 1)
    pipeline.queue_takes(project)
    tasks.start(project.pk)
    take = Take.objects.get(shot__project=project)
    assert take.status == Status.QUEUED
    settings.GATEWAY_KEYS_FILE.unlink()  # the installation's key is lost

    pipeline.poll_many([take])
    take.refresh_from_db()
    assert take.status == Status.QUEUED and take.note.startswith(PAUSED), take.note
    gateway.refresh_from_db()
    assert gateway.paused_at is not None and "cannot be read" in gateway.paused_reason
    assert not settings.GATEWAY_KEYS_FILE.exists()  # reading never makes a new one
    with pytest.raises(vault.Unreadable):
        vault.unseal(gateway.sealed_key)

    client.force_login(ada)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("connection-check", args=[team.pk, gateway.pk]))
    worker.drain()
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.FAILED and gateway.paused_at is not None
    assert "cannot be read" in gateway.check_message
    assert Take.objects.get(pk=take.pk).status == Status.QUEUED
    assert not settings.GATEWAY_KEYS_FILE.exists()

    # Saving the key again makes a new installation key, and the take is read again.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("connection-key", args=[team.pk, gateway.pk]), {"key": "sk-team-a-0001"}
        )
    assert settings.GATEWAY_KEYS_FILE.exists()
    worker.until(lambda: not Take.objects.unfinished().exists(), what="the take")
    assert Take.objects.get(pk=take.pk).status == Status.DONE


class _NotAGateway(http_server.BaseHTTPRequestHandler):
    """Some other server: a bare 404 page for any path."""

    def do_GET(self):
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_server_that_is_not_a_gateway_does_not_pass_the_test(gateway_a):
    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-team-a-0001")
    with httpx.Client(timeout=5) as http:  # every style's own 404 passes
        for name in providers.STYLES:
            style = providers.STYLES[name](gateway_a.base_url(name), "sk-team-a-0001", http)
            assert style.check() is None, name
    other = http_server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAGateway)
    threading.Thread(  # polled every 10 ms: shutdown() waits for the next poll
        target=other.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    try:
        Connection.objects.filter(pk=gateway.pk).update(
            base_url=f"http://127.0.0.1:{other.server_address[1]}/api/v3"
        )
        gateway.pause("the gateway refused its key (Unauthorized).")
        from projects import gateways

        assert gateways.check(gateway.pk) is False
    finally:
        other.shutdown()
        other.server_close()
    gateway.refresh_from_db()
    assert gateway.check_state == Connection.Check.FAILED, gateway.check_message
    assert "not as the ark API does" in gateway.check_message
    assert gateway.paused_at is not None  # not resumed by a server that is no gateway


def test_keys_stay_out_of_error_reports_reprs_and_short_keys_show_less(gateway_a, rf):
    from django.views.debug import SafeExceptionReporterFilter

    from projects.views import connections as views

    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-repr-secret-0001")
    for view, args in (
        (views.connection_create, [team.pk]),
        (views.connection_key, [team.pk, gateway.pk]),
    ):
        request = rf.post("/", {"name": "G", "key": "sk-report-secret-0001"})
        request.user = ada
        request._messages = type("M", (), {"add": lambda *a, **k: None})()
        view(request, *args)
        shown = SafeExceptionReporterFilter().get_post_parameters(request)
        assert shown["key"] != "sk-report-secret-0001" and shown["name"] == "G", view
    assert "sk-repr-secret" not in repr(gateway.provider())

    gateway.set_key("abcdefgh")  # eight characters: two shown
    assert gateway.key_end == "gh"
    gateway.set_key("abc")
    assert gateway.key_end == ""
    gateway.set_key("sk-long-enough-1234")
    assert gateway.key_end == "1234"


def test_connection_changes_show_in_the_teams_activity(gateway_a, client):
    from projects import activity

    ada = make_user("ada")
    team = ada.teams.get()
    client.force_login(ada)
    client.post(
        reverse("connection-create", args=[team.pk]),
        {
            "name": "Night gateway",
            "style": "ark",
            "base_url": gateway_a.base_url("ark"),
            "key": "sk-activity-secret-0001",
            "default": "on",
        },
    )
    gateway = Connection.objects.get()
    client.post(
        reverse("connection-key", args=[team.pk, gateway.pk]), {"key": "sk-activity-new-0002"}
    )
    client.post(reverse("connection-default", args=[team.pk]), {"connection": ""})
    client.post(reverse("connection-delete", args=[team.pk, gateway.pk]))
    lines = [line.what for line in activity.of_team(team)]
    assert lines[:5] == [
        "deleted the gateway connection Night gateway",
        "sent the team's new takes through the server's own gateway",
        "replaced the key of the gateway connection Night gateway",
        "picked another gateway for the team's new takes",
        "added the gateway connection Night gateway",
    ], lines
    page = client.get(reverse("team-detail", args=[team.pk])).content.decode()
    assert "added the gateway connection Night gateway" in page
    from auditlog.models import LogEntry

    logged = repr(list(LogEntry.objects.values_list("changes", flat=True)))
    assert "sk-activity" not in logged and gateway.sealed_key not in logged


def test_pages_and_the_pipeline_agree_on_a_projects_gateway_without_its_key(
    gateway_a, gateway_b, settings
):
    from projects import gateways

    ada = make_user("ada")
    team = ada.teams.get()
    default = connect(team, gateway_a, "sk-team-a-0001", name="A")
    picked = connect(team, gateway_b, "sk-team-b-0002", name="B", default=False)
    project = cuts(ada, "Harbour", 1)
    Project.objects.filter(pk=project.pk).update(connection=picked)
    stale = Project.objects.get(pk=project.pk)  # holds the pick, as a running step does
    assert stale.gateway().name == picked.provider_name
    picked.delete()

    with gateways.for_project(stale):
        assert providers.configured().name == default.provider_name
    assert Project.objects.get(pk=project.pk).gateway().name == default.provider_name
    stale.__dict__.pop("_gateway")
    assert stale.gateway().name == default.provider_name

    # What pages read of it (style, models) needs no key: none is unsealed.
    settings.GATEWAY_KEYS_FILE.unlink()
    fresh = Project.objects.get(pk=project.pk)
    gateway = fresh.gateway()
    assert gateway is not None and gateway.api_key == "" and fresh.model_name
    assert Connection.objects.get(pk=default.pk).paused_at is None


def test_reads_brought_along_follow_each_gateways_own_listing(deployment, gateway_a):
    from datetime import timedelta

    from django.utils import timezone

    from projects.models import ProviderGate
    from projects.pipeline import schedule

    ada = make_user("ada")
    team = ada.teams.get()
    gateway = connect(team, gateway_a, "sk-team-a-0001")  # ark: it lists
    # The server's own gateway was found to list nothing.
    ProviderGate.objects.create(provider=providers.deployment().name, lists=False)
    project = cuts(ada, "Harbour", 4)
    pipeline.queue_takes(project)
    now = timezone.now()
    soon = now + timedelta(seconds=0.05)
    takes = list(Take.objects.filter(shot__project=project).order_by("shot__position"))
    plan = [
        (gateway.provider_name, now),
        (gateway.provider_name, soon),
        (providers.deployment().name, now),
        (providers.deployment().name, soon),
    ]
    for take, (name, look) in zip(takes, plan, strict=True):
        Take.objects.filter(pk=take.pk).update(
            status=Status.QUEUED, remote_id=f"task-{take.pk}", provider=name, next_look_at=look
        )
    due = set(schedule.due_reads(now).values_list("pk", flat=True))
    # The team's gateway lists: its take due soon comes along; the server's does not.
    assert due == {takes[0].pk, takes[1].pk, takes[2].pk}
