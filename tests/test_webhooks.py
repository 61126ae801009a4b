"""Webhooks, received by a real HTTP server on loopback that checks every signature with
the `standardwebhooks` package (never the app's own code): events fire from the real
worker and pipeline, deliveries are retried after 500s and timeouts with the same event
id, internal addresses are refused, and only a team's owners manage its endpoints."""

import base64
import contextlib
import json
import os
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from projects import logs, pipeline, webhooks
from projects.models import (
    Delivery,
    Endpoint,
    Export,
    Membership,
    Opening,
    Role,
    Take,
    WebhookEvent,
)
from tests.factories import make_project, make_take, make_takes, make_user
from tests.live import free_port
from tests.worker import wait_until


class Receiver:
    """An HTTP server in a thread that records each POST and answers as `script` says,
    one step per request: a status code; ("sleep", seconds, status) to answer late;
    ("dribble", "headers" or "body") to send a byte every 0.2 s for ten seconds;
    ("redirect", path) to send the sender elsewhere; ("endless", status) to answer with a
    body that goes on for ten seconds. 200 once the script is spent."""

    def __init__(self):
        self.requests = []
        self.script = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                    step = receiver.script.pop(0) if receiver.script else 200
                with contextlib.suppress(OSError):  # the sender gave up waiting, or reading
                    self.answer(step)

            def answer(self, step):
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = step[2]
                if isinstance(step, tuple) and step[0] == "redirect":
                    self.send_response(307)
                    self.send_header("location", step[1])
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if isinstance(step, tuple) and step[0] == "endless":
                    self.send_response(step[1])
                    self.end_headers()  # no length: the body ends when the server closes
                    until = time.monotonic() + 10
                    while time.monotonic() < until:
                        self.wfile.write(b"x" * 512)
                        self.wfile.flush()
                        time.sleep(0.01)
                    return
                if isinstance(step, tuple) and step[0] == "dribble":
                    # A byte every 0.2 s for ten seconds, in the headers or the body:
                    # never a read timeout, never an end.
                    if step[1] == "headers":
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nx-slow: ")
                    else:
                        self.send_response(200)
                        self.send_header("content-length", "100000")
                        self.end_headers()
                    until = time.monotonic() + 10
                    while time.monotonic() < until:
                        self.wfile.write(b"a")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                self.send_response(step)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        # Polled every 10 ms, not socketserver's 0.5 s: shutdown() waits for the next poll.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def verified(self, secret):
        """Every request's body, parsed, once its signature checked out with the
        standardwebhooks package; raises WebhookVerificationError otherwise."""
        hook = Webhook(secret)
        return [hook.verify(r["body"], r["headers"]) for r in self.requests]


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def fast_hooks(settings):
    """Loopback allowed (the receiver is there), short timeouts and quick retries."""
    settings.WEBHOOKS_ALLOW_INTERNAL = True
    settings.WEBHOOKS_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOKS_READ_TIMEOUT = 0.5
    settings.WEBHOOKS_RETRY_DELAYS = [0.2, 0.4]
    settings.WEBHOOKS_GIVE_UP_SECONDS = 60.0
    settings.WEBHOOKS_LEASE_SECONDS = 30.0
    settings.PUBLIC_BASE_URL = "https://storyboard.example"
    return settings


def endpoint_for(team, receiver, *events):
    return Endpoint.objects.create(team=team, url=receiver.url, events=list(events))


def types(bodies):
    return [body["type"] for body in bodies]


# Events from the real worker and pipeline


@pytest.mark.django_db(transaction=True)  # events go out once their transaction commits
def test_take_done_and_the_rendered_cut_reach_the_receiver_from_the_worker(
    simulator, user, worker, receiver, fast_hooks
):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    endpoint = endpoint_for(project.team, receiver, "take.done", "project.rendered")

    takes = worker.generate(project)
    worker.until(lambda: len(receiver.requests) >= 3, what="three events")

    bodies = receiver.verified(endpoint.secret)
    assert types(bodies) == ["take.done", "take.done", "project.rendered"]
    assert [b["data"]["take"]["id"] for b in bodies[:2]] == [t.pk for t in takes]
    first = bodies[0]["data"]
    assert first["take"]["status"] == "done" and first["take"]["shot"]["number"] == 1
    assert first["project"] == {
        "id": project.pk,
        "title": project.title,
        "url": f"https://storyboard.example/projects/{project.pk}/",
    }
    assert first["take"]["video_url"].endswith(f"/takes/{takes[0].pk}/video")
    rendered = bodies[2]
    assert rendered["data"]["kind"] == "draft"
    assert [t["id"] for t in rendered["data"]["takes"]] == [t.pk for t in takes]
    # The body is the event's: its id is the webhook-id header, its type and time are said.
    for request, body in zip(receiver.requests, bodies, strict=True):
        assert request["headers"]["webhook-id"] == body["id"]
        assert request["headers"]["content-type"] == "application/json"
    assert len({b["id"] for b in bodies}) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db(transaction=True)
def test_an_export_asked_for_on_the_page_tells_export_done_once_the_worker_made_it(
    user, client_of, worker, receiver, fast_hooks
):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    make_takes(project)
    endpoint = endpoint_for(project.team, receiver, "export.done", "export.failed")

    response = client_of.post(reverse("export-create", args=[project.pk]), {"format": "mp4"})
    assert response.status_code == 302
    worker.until(lambda: len(receiver.requests) >= 1, what="export.done")

    (body,) = receiver.verified(endpoint.secret)
    export = Export.objects.get()
    assert export.status == Export.Status.DONE
    assert body["type"] == "export.done"
    data = body["data"]["export"]
    assert (data["id"], data["status"], data["format"]) == (export.pk, "done", "mp4")
    assert data["download_url"] == (
        f"https://storyboard.example/projects/{project.pk}/exports/{export.pk}/download"
    )
    assert data["duration"] == pytest.approx(export.duration)


def test_a_continue_the_seam_guard_holds_tells_take_held(
    simulator, user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    project = make_project(
        user,
        shots=[("A valley [sim:end=black]", Opening.CUT), ("The drone dives", Opening.CONTINUE)],
    )
    endpoint = endpoint_for(project.team, receiver, "take.held")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.queue_takes(project)
        assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    worker.until(lambda: receiver.requests, what="take.held")

    (body,) = receiver.verified(endpoint.secret)
    held = Take.objects.get(shot__position=1)
    assert body["type"] == "take.held"
    assert body["data"]["take"]["id"] == held.pk
    assert body["data"]["take"]["held"] == held.held and held.held.startswith("Held: shot 2")
    assert body["data"]["check"] == "blank"


def test_a_failed_take_and_a_failed_export_tell_their_reasons(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("A", Opening.CUT)])
    endpoint = endpoint_for(project.team, receiver, "take.failed", "export.failed")
    take = Take.objects.create(shot=project.shots.get(), status=Take.Status.RUNNING)
    export = Export.objects.create(project=project, takes=[987654])  # a take gone since
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.fail_take(take, "The provider reports the task failed.")
        pipeline.fail_take(take, "again")  # failed once: told once
        pipeline.export(export)
    worker.until(lambda: len(receiver.requests) >= 2, what="two events")

    bodies = sorted(receiver.verified(endpoint.secret), key=lambda b: b["type"])
    assert types(bodies) == ["export.failed", "take.failed"]
    assert bodies[0]["data"]["export"]["status"] == "failed"
    assert "deleted after the export was asked for" in bodies[0]["data"]["export"]["error"]
    assert bodies[1]["data"]["take"]["error"] == "The provider reports the task failed."
    time.sleep(0.3)
    worker.drain()
    assert len(receiver.requests) == 2


def test_the_models_fail_tells_nothing_and_a_take_the_budget_refuses_tells_take_failed(
    user, settings, receiver
):
    """Telling is the pipeline's: the model's fail() moves the row alone; a take the
    budget refuses under the limits' lock (pipeline.start_ready) is told, once."""
    from projects import costs

    settings.SEEDANCE_BASE_URL = ""
    team = user.teams.get()
    endpoint_for(team, receiver, "take.failed")
    project = make_project(user, shots=[("A", Opening.CUT)])
    alone = Take.objects.create(shot=project.shots.get(), status=Take.Status.RUNNING)
    assert alone.fail("the row alone")
    assert not WebhookEvent.objects.exists()

    team.monthly_budget_tokens = costs.tokens_for("480p", "16:9", 4) - 1
    team.save()
    other = make_project(user, shots=[("B", Opening.CUT)])
    take = Take.objects.create(shot=other.shots.get(), number=1, inputs=other.shots.get().inputs())
    pipeline.start_ready(other)
    take.refresh_from_db()
    assert take.status == Take.Status.FAILED and "budget" in take.error
    (event,) = WebhookEvent.objects.all()
    assert event.type == "take.failed"
    assert json.loads(event.body)["data"]["take"]["id"] == take.pk


def test_a_take_done_reads_its_teams_endpoints_once(user, receiver):
    """lock_for_rendered reads them and hands them to take_done: one query, not three."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    project = make_project(user, shots=[("A", Opening.CUT)])
    endpoint_for(project.team, receiver, "take.done", "project.rendered")
    take = make_take(project.shots.get())
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        webhooks.take_done(take, webhooks.lock_for_rendered(project))
    read = [q for q in queries.captured_queries if 'FROM "projects_endpoint"' in q["sql"]]
    assert len(read) == 1
    assert sorted(WebhookEvent.objects.values_list("type", flat=True)) == [
        "project.rendered",
        "take.done",
    ]


def test_a_comment_on_the_page_tells_comment_created(
    user, client_of, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("A", Opening.CUT)])
    shot = project.shots.get()
    take = make_take(shot)
    endpoint = endpoint_for(project.team, receiver, "comment.created")
    url = reverse("comment-create", args=[project.pk, shot.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(url, {"body": "Warmer light, please", "take": take.pk})
    worker.until(lambda: receiver.requests, what="comment.created")

    (body,) = receiver.verified(endpoint.secret)
    assert body["type"] == "comment.created"
    assert body["data"]["comment"]["body"] == "Warmer light, please"
    assert body["data"]["comment"]["author"] == user.username
    assert body["data"]["comment"]["take"] == take.pk
    assert body["data"]["shot"] == {"id": shot.pk, "number": 1}


def test_an_endpoint_gets_only_the_events_it_wants_and_none_when_off(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("A", Opening.CUT)])
    endpoint_for(project.team, receiver, "take.done")
    Endpoint.objects.create(
        team=project.team, url=receiver.url, events=["take.failed"], enabled=False
    )
    take = Take.objects.create(shot=project.shots.get(), status=Take.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.fail_take(take, "boom")
    worker.drain()
    assert receiver.requests == [] and not WebhookEvent.objects.exists()


# Retries


def fail_a_take(user, receiver, django_capture_on_commit_callbacks):
    project = make_project(user, shots=[("A", Opening.CUT)])
    endpoint = endpoint_for(project.team, receiver, "take.failed")
    take = Take.objects.create(shot=project.shots.get(), status=Take.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.fail_take(take, "boom")
    return endpoint


def test_after_500s_it_retries_with_backoff_then_succeeds_with_the_same_event_id(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    receiver.script = [500, 500, 200]
    endpoint = fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    worker.until(lambda: Delivery.objects.get().status != "pending", what="delivered")

    bodies = receiver.verified(endpoint.secret)
    assert len(bodies) == 3 and len({b["id"] for b in bodies}) == 1  # one event, three tries
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1  # the same bytes each time
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    tries = list(delivery.tries.all())
    assert [t.status_code for t in tries] == [500, 500, 200]
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(tries, tries[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # the backoff's delays, in order


def test_an_endpoint_that_answers_too_late_is_tried_again_with_the_same_event_id(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    receiver.script = [("sleep", 1.5, 200)]  # past the read timeout (0.5 s)
    endpoint = fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    started = time.monotonic()
    worker.until(lambda: Delivery.objects.get().status != "pending", what="delivered")

    delivery = Delivery.objects.get()
    first, second = delivery.tries.all()
    assert first.status_code is None and "timed out" in first.error
    assert first.seconds < 1.4  # it gave up at its timeout, not when the answer came
    assert second.status_code == 200 and delivery.status == "delivered"
    assert time.monotonic() - started < 10
    bodies = receiver.verified(endpoint.secret)
    assert bodies[0]["id"] == bodies[1]["id"] == delivery.event.event_id


def test_a_redirect_is_not_followed_and_an_endless_answer_is_not_read_to_its_end(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    receiver.script = [("redirect", "/elsewhere"), ("endless", 200)]
    fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    started = time.monotonic()
    worker.until(lambda: Delivery.objects.get().status != "pending", what="delivered")

    assert [r["path"] for r in receiver.requests] == ["/hooks", "/hooks"]  # never /elsewhere
    first, second = Delivery.objects.get().tries.all()
    assert first.status_code == 307  # a failure, tried again
    # The answer goes on for 10 s: read no further than its first kilobyte.
    assert second.status_code == 200 and second.seconds < 5
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("where", ["headers", "body"])
def test_an_answer_dribbled_a_byte_at_a_time_is_cut_off_at_the_sends_deadline(
    user, receiver, fast_hooks, where
):
    """Each read gets a byte well within the read timeout (0.5 s): only the send's own
    deadline, twice that, stops it, and the connection is closed then."""
    fast_hooks.WEBHOOKS_SEND_SECONDS = 1.0
    receiver.script = [("dribble", where)]
    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    webhooks.ping(endpoint, user)
    delivery = Delivery.objects.get()
    # The first log line of a process builds the redaction of secret URLs, which imports
    # every view (seconds on a loaded machine): the process's, not the send's, so paid
    # before the clock starts, whichever test this process runs first.
    logs.secret_paths()
    started = time.monotonic()
    webhooks.deliver(delivery.pk, delivery.next_attempt_at)
    took = time.monotonic() - started

    assert took < 2.0  # not the ten seconds the answer goes on for
    (attempt,) = Delivery.objects.get().tries.all()
    assert attempt.status_code is None
    assert attempt.error == "No whole answer within 1 s (timed out)."
    assert 0.9 < attempt.seconds < 1.5
    assert Delivery.objects.get().status == "pending"  # tried again later


def test_a_delivery_that_never_succeeds_fails_once_its_time_is_up(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    give_up = fast_hooks.WEBHOOKS_GIVE_UP_SECONDS = 1.5  # tries 0.2 and 0.4 s apart: several
    receiver.script = [503] * 50
    fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    worker.until(lambda: Delivery.objects.get().status == "failed", what="failed")

    delivery = Delivery.objects.get()
    sent = len(receiver.requests)
    assert sent == delivery.attempts >= 2 and delivery.next_attempt_at is None
    # Failed once its time was up, not before: a try was due within it no more.
    assert delivery.last_attempt_at >= delivery.event.created_at + timedelta(
        seconds=give_up - 0.4 - 0.5
    )
    assert delivery.last_status_code == 503
    worker.until(lambda: True)
    time.sleep(0.5)
    worker.until(lambda: True)
    assert len(receiver.requests) == sent  # nothing more once failed


def test_a_send_that_breaks_unexpectedly_is_recorded_and_tried_again(user, receiver, fast_hooks):
    """Not an HTTP error (a secret that is not base64 breaks the signing): an attempt
    all the same, recorded with its reason, and tried again later."""
    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    Endpoint.objects.filter(pk=endpoint.pk).update(secret="whsec_not*base64")
    webhooks.ping(endpoint, user)
    delivery = Delivery.objects.get()
    webhooks.deliver(delivery.pk, delivery.next_attempt_at)

    delivery = Delivery.objects.get()
    (attempt,) = delivery.tries.all()
    assert attempt.status_code is None and attempt.error.startswith("Could not send: Error:")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > delivery.last_attempt_at  # a retry is due
    assert receiver.requests == []


def test_the_clock_fails_a_pending_delivery_past_its_time_whatever_kept_it(user, receiver):
    from django.utils import timezone

    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    now = timezone.now()
    old = WebhookEvent.objects.create(
        team=endpoint.team, type="ping", body="{}", created_at=now - timedelta(days=2)
    )
    new = WebhookEvent.objects.create(team=endpoint.team, type="ping", body="{}", created_at=now)
    stuck = Delivery.objects.create(event=old, endpoint=endpoint, next_attempt_at=now)
    due = Delivery.objects.create(event=new, endpoint=endpoint, next_attempt_at=now)

    claimed = webhooks.claim_due(now + timedelta(seconds=1))

    assert [pk for pk, _ in claimed] == [due.pk]
    stuck.refresh_from_db()
    assert (stuck.status, stuck.next_attempt_at) == ("failed", None)


def test_a_delivery_whose_message_the_broker_lost_is_sent_by_the_clocks_sweep(
    user, worker, broker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    fast_hooks.WEBHOOKS_LEASE_SECONDS = 0.3
    endpoint = fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    assert broker.queue_size() == 1
    broker.purge_queue()  # lost
    worker.drain()
    assert receiver.requests == []

    worker.until(lambda: receiver.requests, what="the sweep to send it")
    assert types(receiver.verified(endpoint.secret)) == ["take.failed"]
    assert Delivery.objects.get().status == "delivered"


def test_a_second_message_for_one_delivery_sends_nothing(
    user, worker, broker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    """The hand-over's message waits in the queue past a lease; the clock claims the
    delivery again and sends it (a 500: a retry is due later). The first message, run at
    last, holds a claim that moved on: it sends nothing, neither now nor early."""
    fast_hooks.WEBHOOKS_LEASE_SECONDS = 0.3
    fast_hooks.WEBHOOKS_RETRY_DELAYS = [2.0]
    receiver.script = [500]
    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.ping(endpoint, user)
    assert broker.queue_size() == 1  # the hand-over's message, waiting
    time.sleep(0.35)
    worker.clock.tick()  # the clock claims it again, and sends it
    assert len(receiver.requests) == 1
    worker.drain()  # the first message at last
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > delivery.last_attempt_at + timedelta(seconds=1.5)


def test_two_sends_with_one_claim_make_one_request(user, receiver, fast_hooks):
    from projects import tasks

    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    webhooks.ping(endpoint, user)  # not committed: no hand-over
    claim = Delivery.objects.get().next_attempt_at
    tasks.deliver(Delivery.objects.get().pk, claim)
    tasks.deliver(Delivery.objects.get().pk, claim)
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "delivered"


def test_a_named_host_is_reached_at_the_address_checked_under_its_own_name(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    """The name is resolved once and the connection made to an address checked (IPv6's
    ::1 refuses: the receiver listens on IPv4, the next is tried); the Host is the name."""
    port = receiver.server.server_address[1]
    project = make_project(user, shots=[("A", Opening.CUT)])
    endpoint = Endpoint.objects.create(
        team=project.team, url=f"http://localhost:{port}/hooks", events=["take.failed"]
    )
    take = Take.objects.create(shot=project.shots.get(), status=Take.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.fail_take(take, "boom")
    worker.until(lambda: receiver.requests, what="the event")
    assert receiver.requests[0]["headers"]["host"] == f"localhost:{port}"
    assert types(receiver.verified(endpoint.secret)) == ["take.failed"]


def test_what_is_pending_for_an_endpoint_turned_off_fails_unsent(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    endpoint = fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    worker.drain()
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("failed", "The endpoint is disabled.")


def test_the_sweep_forgets_events_a_month_old_unless_a_delivery_is_pending(user, receiver):

    from django.utils import timezone

    from projects import tasks

    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    old = timezone.now() - timedelta(days=31)
    events = [
        WebhookEvent.objects.create(team=endpoint.team, type="take.done", body="{}", created_at=at)
        for at in (old, old, timezone.now())
    ]
    for event, status in zip(events, ("delivered", "pending", "delivered"), strict=True):
        Delivery.objects.create(event=event, endpoint=endpoint, status=status)
    tasks.recover()
    assert list(WebhookEvent.objects.order_by("pk")) == events[1:]


def test_over_tls_the_pinned_address_is_reached_under_its_name_and_the_name_is_checked(
    settings, monkeypatch
):
    """Connected to the address checked, TLS still says the name (SNI) and checks the
    certificate against it: a certificate for localhost passes as localhost, and fails
    as 127.0.0.1."""
    import ssl

    import trustme

    settings.WEBHOOKS_ALLOW_INTERNAL = True
    authority = trustme.CA()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(server_tls)
    names = []
    server_tls.sni_callback = lambda sock, name, context: names.append(name)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    monkeypatch.setattr(webhooks, "_tls", lambda: client_tls)  # the test's authority trusted
    with Receiver() as receiver:
        receiver.server.socket = server_tls.wrap_socket(receiver.server.socket, server_side=True)
        port = receiver.server.server_address[1]
        event = WebhookEvent(event_id="evt_tls", type="ping", body="{}")
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

        named = Endpoint(url=f"https://localhost:{port}/hooks", secret=secret)
        code, error, _ = webhooks.send(named, event)
        assert (code, error) == (200, "")
        assert names[-1] == "localhost"
        assert receiver.requests[-1]["headers"]["host"] == f"localhost:{port}"
        Webhook(secret).verify(receiver.requests[-1]["body"], receiver.requests[-1]["headers"])

        by_address = Endpoint(url=f"https://127.0.0.1:{port}/hooks", secret=secret)
        code, error, _ = webhooks.send(by_address, event)
        assert code is None and "CERTIFICATE_VERIFY_FAILED" in error
        assert len(receiver.requests) == 1


# Addresses refused


INSIDE = (
    " is an address inside this network (loopback, private or link-local): webhooks go to"
    " the internet only."
)
SCHEMES = "Webhooks go to http:// or https:// URLs only."


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1" + INSIDE),
        ("http://localhost/hook", "localhost" + INSIDE),
        ("http://10.1.2.3/hook", "10.1.2.3" + INSIDE),
        ("http://192.168.0.10/hook", "192.168.0.10" + INSIDE),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254" + INSIDE),
        ("http://[::1]/hook", "::1" + INSIDE),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1" + INSIDE),
        ("http://[fe80::1]/hook", "fe80::1" + INSIDE),
        # IPv6 addresses that lead to an internal IPv4 one: NAT64, 6to4, IPv4-compatible.
        ("http://[64:ff9b::a9fe:a9fe]/hook", "64:ff9b::a9fe:a9fe" + INSIDE),
        ("http://[64:ff9b::10.0.0.1]/hook", "64:ff9b::10.0.0.1" + INSIDE),
        ("http://[2002:7f00:1::1]/hook", "2002:7f00:1::1" + INSIDE),
        ("http://[2002:a9fe:a9fe::]/hook", "2002:a9fe:a9fe::" + INSIDE),
        ("http://[::127.0.0.1]/hook", "::127.0.0.1" + INSIDE),
        ("http://[::192.168.1.1]/hook", "::192.168.1.1" + INSIDE),
        ("ftp://93.184.216.34/hook", SCHEMES),
        ("file:///etc/passwd", SCHEMES),
        ("javascript:alert(1)", SCHEMES),
        ("not a url", SCHEMES),
    ],
)
def test_internal_addresses_and_other_schemes_are_refused(settings, url, problem):
    settings.WEBHOOKS_ALLOW_INTERNAL = False
    assert webhooks.url_problem(url) == problem


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_public_addresses_and_ipv6_ones_leading_to_public_ipv4_are_public(address):
    from projects.addresses import is_internal_ip

    assert not is_internal_ip(address)


def test_saving_a_named_endpoint_looks_nothing_up_and_its_send_checks_the_name(
    user, receiver, settings, monkeypatch
):
    """No DNS lookup in the request that saves an endpoint (a slow resolver would hold
    it): a name is resolved and checked at each send, and refused there."""
    import socket

    settings.WEBHOOKS_ALLOW_INTERNAL = False
    looked_up = []
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(host) or real(host, *a, **k)
    )
    assert webhooks.url_problem("https://hooks.example.invalid/x") is None
    assert webhooks.url_problem("http://db.localhost/x") == "db.localhost" + INSIDE
    assert looked_up == []

    port = receiver.server.server_address[1]
    endpoint = Endpoint.objects.create(
        team=user.teams.get(), url=f"http://localhost:{port}/hooks", events=["take.done"]
    )
    code, error, _ = webhooks.send(endpoint, WebhookEvent(event_id="evt_x", body="{}"))
    assert (code, error) == (None, "Refused: localhost" + INSIDE)
    assert looked_up == ["localhost"] and receiver.requests == []


def test_a_public_address_is_taken(settings):
    settings.WEBHOOKS_ALLOW_INTERNAL = False
    assert webhooks.url_problem("https://93.184.216.34/hooks") is None


def test_an_endpoint_that_turned_internal_is_refused_at_send_and_nothing_is_sent(
    user, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    """Saved while allowed (or while its name pointed elsewhere): each send checks again."""
    fast_hooks.WEBHOOKS_ALLOW_INTERNAL = False
    fail_a_take(user, receiver, django_capture_on_commit_callbacks)
    worker.drain()

    assert receiver.requests == []
    delivery = Delivery.objects.get()
    (attempt,) = delivery.tries.all()
    assert attempt.status_code is None
    assert attempt.error.startswith("Refused: 127.0.0.1 is an address inside this network")
    assert delivery.status == "pending" and delivery.attempts == 1  # tried again later


# The team page


def team_url(team):
    return reverse("team-detail", args=[team.pk])


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(user, client_of, receiver, fast_hooks):
    team = user.teams.get()
    response = client_of.post(
        reverse("endpoint-create", args=[team.pk]),
        {"url": receiver.url, "events": ["take.done", "export.done"]},
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["take.done", "export.done"] and endpoint.created_by == user
    secret = endpoint.secret
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24

    first = client_of.get(team_url(team)).content.decode()
    assert secret in first and "shown this once" in first
    again = client_of.get(team_url(team)).content.decode()
    assert secret not in again and receiver.url in again


def test_the_team_activity_tells_endpoints_added_turned_off_and_deleted_never_the_secret(
    user, client_of, receiver, fast_hooks
):
    from auditlog.models import LogEntry

    team = user.teams.get()
    client_of.post(
        reverse("endpoint-create", args=[team.pk]), {"url": receiver.url, "events": "take.done"}
    )
    endpoint = Endpoint.objects.get()
    client_of.post(reverse("endpoint-enable", args=[team.pk, endpoint.pk]), {"enabled": "0"})
    client_of.post(reverse("endpoint-delete", args=[team.pk, endpoint.pk]))

    page = client_of.get(team_url(team)).content.decode()
    assert "added a webhook endpoint" in page and "deleted a webhook endpoint" in page
    assert "turned a webhook endpoint off" in page
    logged = json.dumps(list(LogEntry.objects.values("changes", "additional_data")))
    assert endpoint.secret not in logged and endpoint.secret[6:] not in logged


def test_the_form_refuses_other_schemes_and_internal_addresses(user, client_of, settings):
    settings.WEBHOOKS_ALLOW_INTERNAL = False
    team = user.teams.get()
    url = reverse("endpoint-create", args=[team.pk])
    for target, says in (
        ("ftp://93.184.216.34/hook", "http:// or https:// URLs only"),
        ("file:///etc/passwd", "http:// or https:// URLs only"),
        ("http://127.0.0.1:9/hook", "inside this network"),
    ):
        response = client_of.post(url, {"url": target, "events": ["take.done"]})
        assert response.status_code == 400, target
        assert says in response.content.decode(), target
    response = client_of.post(url, {"url": "https://93.184.216.34/hook"})
    assert "Pick the events" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_only_owners_see_and_manage_endpoints(user, client, fast_hooks, receiver):
    team = user.teams.get()
    endpoint = endpoint_for(team, receiver, "take.done")
    editor, viewer = make_user("bob"), make_user("cy")
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    posts = {
        "endpoint-create": ([team.pk], {"url": receiver.url, "events": ["take.done"]}),
        "endpoint-enable": ([team.pk, endpoint.pk], {"enabled": "0"}),
        "endpoint-test": ([team.pk, endpoint.pk], {}),
        "endpoint-delete": ([team.pk, endpoint.pk], {}),
    }
    for member in (editor, viewer):
        client.force_login(member)
        page = client.get(team_url(team)).content.decode()
        # Not even in the activity they read: URLs may hold tokens.
        assert 'id="webhooks"' not in page and receiver.url not in page
        assert "added a webhook endpoint" in page
        for name, (args, data) in posts.items():
            assert client.post(reverse(name, args=args), data).status_code == 403, name
    assert Endpoint.objects.get().enabled and not WebhookEvent.objects.exists()

    client.force_login(user)
    assert client.post(reverse("endpoint-enable", args=[team.pk, endpoint.pk])).status_code == 302
    assert not Endpoint.objects.get().enabled
    assert client.post(reverse("endpoint-delete", args=[team.pk, endpoint.pk])).status_code == 302
    assert not Endpoint.objects.exists()


def test_send_test_event_reaches_the_endpoint_and_the_page_shows_the_answer(
    user, client_of, worker, receiver, fast_hooks, django_capture_on_commit_callbacks
):
    team = user.teams.get()
    endpoint = endpoint_for(team, receiver, "take.done")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(reverse("endpoint-test", args=[team.pk, endpoint.pk]))
    assert response.status_code == 302
    assert receiver.requests == []  # the worker sends it, not the request
    worker.until(lambda: receiver.requests, what="the ping")

    (body,) = receiver.verified(endpoint.secret)
    assert body["type"] == "ping" and body["data"]["endpoint"]["id"] == endpoint.pk
    page = client_of.get(team_url(team)).content.decode()
    assert "<code>ping</code>" in page and 'class="attempt">200 <time' in page


def test_a_team_has_at_most_ten_endpoints(user, client_of, receiver, fast_hooks):
    team = user.teams.get()
    for _ in range(10):
        endpoint_for(team, receiver, "take.done")
    response = client_of.post(
        reverse("endpoint-create", args=[team.pk]), {"url": receiver.url, "events": "take.done"}
    )
    assert response.status_code == 302
    assert "A team has at most 10 endpoints." in client_of.get(team_url(team)).content.decode()
    assert team.endpoints.count() == 10


def test_send_test_event_is_refused_past_the_teams_rate(user, client_of, receiver, settings):
    settings.WEBHOOK_TEST_RATE = "2/h"
    team = user.teams.get()
    endpoint = endpoint_for(team, receiver, "take.done")
    url = reverse("endpoint-test", args=[team.pk, endpoint.pk])

    answers = [client_of.post(url).status_code for _ in range(3)]

    assert answers == [302, 302, 429]
    assert WebhookEvent.objects.filter(type="ping").count() == 2
    refused = client_of.post(url).content.decode()
    assert "Too many test events: at most 2 an hour. Try again in" in refused
    assert f'href="{team_url(team)}#webhooks"' in refused


def test_the_signature_is_the_standard_one(fast_hooks):
    """The app's few lines of HMAC against the package's own signer, on a known secret."""
    from datetime import UTC, datetime

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = json.dumps({"id": "evt_1", "type": "ping"}).encode()
    ours = webhooks.sign(secret, "evt_1", "1700000000", body)
    theirs = Webhook(secret).sign("evt_1", datetime.fromtimestamp(1700000000, UTC), body)
    assert ours == theirs


# Two takes ending the cut at once


class Together:
    """A barrier for `parties` threads that each hold a transaction: each waits until all
    have come, or until another session of this database waits on a lock (one that came
    holds what the others need: they cannot come, as they should not), or `timeout`
    seconds, whichever comes first. Not a fixed wait for the others: a lock that works is
    seen at once, not after the whole timeout."""

    def __init__(self, parties, timeout):
        self.parties, self.timeout = parties, timeout
        self.came = 0
        self.all_came = threading.Condition()

    def wait(self):
        from django.db import connection

        with self.all_came:
            self.came += 1
            self.all_came.notify_all()
        deadline = time.monotonic() + self.timeout
        with self.all_came:
            while self.came < self.parties and time.monotonic() < deadline:
                if self.all_came.wait(0.02):
                    continue
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                    )
                    if cursor.fetchone()[0]:
                        return


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="a race between transactions needs PostgreSQL (CI's second leg)",
)
def test_two_takes_ending_the_cut_at_once_tell_project_rendered_once(
    simulator, user, broker, receiver, monkeypatch
):
    """Each collect checks whether its take ended the cut; both checking while the other
    is not committed yet would tell nobody. The project's row is locked first, so the
    second sees the first done."""
    from projects.pipeline import polling
    from projects.providers import TaskState, get_client
    from tests.test_concurrency import side_by_side

    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CUT)])
    endpoint_for(project.team, receiver, "project.rendered")
    pipeline.queue_takes(project)
    pipeline.start_ready(project)
    takes = list(Take.objects.filter(shot__project=project).order_by("shot__position"))
    client = get_client()
    remotes = {}

    def finished():
        remotes.update({take.pk: client.get(take.remote_id) for take in takes})
        return all(remote.state == TaskState.SUCCEEDED for remote in remotes.values())

    wait_until(finished, timeout=60, what="both tasks to finish at the simulator")
    # Both check the cut at the same moment unless one waits for the other's lock.
    check, gate = webhooks.rendered, Together(2, timeout=5)

    def rendered_together(project, kind):
        gate.wait()
        return check(project, kind)

    monkeypatch.setattr(webhooks, "rendered", rendered_together)

    ended = side_by_side(*(lambda t=t: polling.apply(t, remotes[t.pk], client) for t in takes))

    assert ended == [True, True]
    assert set(Take.objects.values_list("status", flat=True)) == {"done"}
    assert WebhookEvent.objects.filter(type="project.rendered").count() == 1


# Two messages for one delivery sent at once


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="a race between transactions needs PostgreSQL (CI's second leg)",
)
def test_two_workers_handed_one_claim_at_once_send_it_once(user, broker, receiver, fast_hooks):
    from tests.test_concurrency import side_by_side

    endpoint = endpoint_for(user.teams.get(), receiver, "take.done")
    webhooks.ping(endpoint, user)  # its hand-over's message is left on the broker
    delivery = Delivery.objects.get()
    claim = delivery.next_attempt_at

    side_by_side(*(lambda: webhooks.deliver(delivery.pk, claim) for _ in range(4)))

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
