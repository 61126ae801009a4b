"""/healthz bounded: one check in flight per dependency, connects that give up, and no
write per probe."""

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.urls import reverse

from projects import health
from tests.live import WebServer


def test_probes_share_the_check_in_flight_of_a_dependency_that_hangs(client, monkeypatch):
    release = threading.Event()
    calls = []

    def hanging():
        calls.append(1)
        release.wait(30)

    monkeypatch.setattr(health, "TIMEOUT", 0.2)
    monkeypatch.setitem(health.CHECKS, "broker", hanging)
    answers = [client.get(reverse("healthz")) for _ in range(4)]
    assert [a.status_code for a in answers] == [503] * 4
    assert all(a.json()["broker"] == "no answer within 0.2 s" for a in answers)
    assert len(calls) == 1  # one check hung; the other probes waited on it

    release.set()
    deadline = time.monotonic() + 10
    while "broker" in health._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get(reverse("healthz")).json()["broker"] == "ok"
    assert len(calls) == 2  # once it returned, the next probe checked anew


def test_healthz_on_s3_heads_the_bucket_and_writes_nothing(client, s3):
    """A versioned bucket keeps every write and every delete: there are none."""
    s3.client.put_bucket_versioning(Bucket=s3.name, VersioningConfiguration={"Status": "Enabled"})
    for _ in range(3):
        response = client.get(reverse("healthz"))
        assert response.status_code == 200, response.json()
    kept = s3.client.list_object_versions(Bucket=s3.name)
    assert not kept.get("Versions") and not kept.get("DeleteMarkers")


def test_healthz_on_s3_names_a_bucket_that_is_not_there(client, s3, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket"
    from tests.s3 import use_s3

    use_s3(settings, s3.endpoint_url, "no-such-bucket")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["storage"] != "ok"


class SilentServer:
    """A port that accepts connections and never says a word, as a hung database does;
    it tells how many of them their clients still hold open."""

    def __enter__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                self.accepted.append(self.listener.accept()[0])

    def held(self):
        """Connections their client has not closed."""
        held = 0
        for connection in list(self.accepted):
            connection.setblocking(False)
            try:
                while connection.recv(4096):  # what the client said: never answered
                    pass
            except BlockingIOError:
                held += 1
            except OSError:
                pass
        return held

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for connection in self.accepted:
            connection.close()
        self.listener.close()


def probe(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.timeout(180)
def test_probes_of_a_database_that_never_answers_leave_no_check_behind(tmp_path):
    """The real server, its PostgreSQL a port that accepts and never answers: probes
    answer 503; the checks they share give up connecting, and hold nothing after."""
    with SilentServer() as silent:
        # Its checks give up connecting after 2 s (libpq's least), not the app's 3 s.
        database = f"postgres://postgres@127.0.0.1:{silent.port}/silent?connect_timeout=2"
        with WebServer(tmp_path, env={"DATABASE_URL": database}) as server:
            url = f"{server.url}/healthz"
            with ThreadPoolExecutor(6) as pool:
                answers = list(pool.map(probe, [url] * 6))
            assert answers == [503] * 6
            assert probe(url) == 503
            deadline = time.monotonic() + 30
            while silent.held() and time.monotonic() < deadline:
                time.sleep(0.2)
            held = silent.held()
        # Two checks reach the database (the database's, and the broker's in it): at
        # most one of each at a time, however many probes came.
        tried = len(silent.accepted)
    assert held == 0, f"{held} checks still hang on the database"
    assert tried <= 4, f"{tried} connections for two probes' worth of checks"
