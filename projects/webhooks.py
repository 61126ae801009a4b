"""Webhooks: events told to a team's endpoints, signed the Standard Webhooks way.

Emitting writes the event and a delivery for each endpoint that wants it, in the
transaction of the state change it tells (the pipeline and the views call here from that
transaction), and hands the deliveries to the worker once it commits. The worker sends
them (never a request): a POST of the event's body, signed, with short timeouts, no
redirect followed, and at most a little of the answer read. A delivery is retried with
backoff until a 2xx answer, for WEBHOOKS_GIVE_UP_SECONDS (a day), with the same event id
each time; the worker's clock sends whatever is due, so a message the broker lost or a
worker that died while sending delays a delivery, never loses it.

Endpoints inside this network (loopback, private, link-local...) are refused when saved
when their host is an IP address (or localhost: no DNS lookup in a request), and at each
send, where the host is resolved once and the connection goes to the very address that
was checked (DNS can change, even between two lookups).
"""

import base64
import functools
import hashlib
import hmac
import json
import logging
import ssl
import time
from datetime import timedelta

import certifi
import httpcore
import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from .addresses import is_internal_ip, resolve
from .models import Delivery, DeliveryAttempt, Endpoint, Project, Take, WebhookEvent
from .models.webhooks import SECRET_PREFIX

log = logging.getLogger(__name__)

# The events an endpoint may want, as its form offers them (the README says each exactly).
EVENTS = {
    "take.done": "a take is done",
    "take.failed": "a take failed",
    "take.held": "the seam guard held a take",
    "project.rendered": "every shot of a cut is done",
    "export.done": "an export is ready",
    "export.failed": "an export failed",
    "comment.created": "a shot was commented on",
}
PING = "ping"  # the test event an owner sends to one endpoint
# What is read of an answer: its status says it all.
ANSWER_CAP = 1024
USER_AGENT = "Storyboard-Webhooks/1"


# Saving an endpoint.


def url_problem(url):
    """Why `url` may not be an endpoint (in words for the form), or None. Never a DNS
    lookup (this runs in a request): an IP address is judged at once, and localhost; a
    name is resolved and checked at each send, which refuses it then."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL:
        return "That is not a URL."
    if parts.scheme not in ("http", "https") or not parts.host:
        return "Webhooks go to http:// or https:// URLs only."
    if settings.WEBHOOKS_ALLOW_INTERNAL:
        return None
    host = parts.host.lower().rstrip(".")
    try:
        internal = is_internal_ip(host)
    except ValueError:  # a name
        internal = host == "localhost" or host.endswith(".localhost")
    return _inside(parts.host) if internal else None


def _inside(host):
    return (
        f"{host} is an address inside this network (loopback, private or link-local): "
        "webhooks go to the internet only."
    )


class Refused(Exception):
    """An endpoint's address may not be reached; why, in words."""


# Addresses of a host tried in turn when one refuses the connection (IPv6, then IPv4...).
ADDRESSES_TRIED = 2


def _addresses(url):
    """The addresses to connect to for `url`: its host resolved once, every address it
    resolves to checked. Refused when one is inside this network (unless
    WEBHOOKS_ALLOW_INTERNAL) or it resolves to nothing."""
    try:
        addresses = resolve(url.host, url.port)
    except (OSError, UnicodeError):
        raise Refused(f"{url.host} has no address.") from None
    if not settings.WEBHOOKS_ALLOW_INTERNAL and any(map(is_internal_ip, addresses)):
        raise Refused(_inside(url.host))
    return addresses[:ADDRESSES_TRIED]


# Emitting.


def _absolute(path):
    """A link in an event: on PUBLIC_BASE_URL when it is set, else the path alone."""
    return settings.PUBLIC_BASE_URL + path


def _enabled(team_id):
    return list(Endpoint.objects.filter(team_id=team_id, enabled=True))


def _wanting(team_id, event_type, endpoints=None):
    """The endpoints of the team that want `event_type`: of `endpoints` (the team's
    enabled ones, read once by the caller) when given, else read now."""
    if endpoints is None:
        endpoints = _enabled(team_id)
    return [endpoint for endpoint in endpoints if event_type in endpoint.events]


def emit(team_id, event_type, data, endpoints=None):
    """Write an event of `team_id` and a delivery per endpoint that wants it (or to
    `endpoints`), to be sent once the current transaction commits. Call it inside the
    transaction of the change it tells. The event, or None when no endpoint wants it."""
    if endpoints is None:
        endpoints = _wanting(team_id, event_type)
    if not endpoints:
        return None
    now = timezone.now()
    event = WebhookEvent(team_id=team_id, type=event_type, created_at=now)
    created = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"id": event.event_id, "type": event_type, "created_at": created, "data": data}
    event.body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    event.save()
    # Claimed for the task handed over on commit; if that is lost, the clock sends them
    # a lease later.
    claimed = now + _lease()
    ids = [
        Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=claimed).pk
        for endpoint in endpoints
    ]
    transaction.on_commit(lambda: _hand_over([(pk, claimed) for pk in ids]))
    return event


def _hand_over(claims):
    """Queue a send of each (delivery id, claim): the task sends only while the delivery
    still holds that very claim."""
    from django_q.tasks import async_task

    for pk, claim in claims:
        try:
            async_task("projects.tasks.deliver", pk, claim)
        except Exception as error:  # the broker's refusal: the clock sends it later
            log.warning("delivery %s: the task queue refused it (%r); sent later", pk, error)


def _team(project):
    return {"id": project.team_id, "name": project.team.name}


def _project(project):
    url = _absolute(project.get_absolute_url())
    return {"id": project.pk, "title": project.title, "url": url}


def _take(take):
    shot = take.shot
    data = {
        "id": take.pk,
        "number": take.number,
        "kind": take.kind,
        "status": take.status,
        "shot": {"id": shot.pk, "number": shot.number},
        "error": take.error,
        "held": take.held,
        "duration": take.duration,
        "tokens": take.tokens,
        "video_url": None,
    }
    if take.video:
        path = reverse("take-file", args=[shot.project_id, take.pk, "video"])
        data["video_url"] = _absolute(path)
    return data


def _about_take(take, event_type, enabled=None, **more):
    project = take.shot.project
    if not (endpoints := _wanting(project.team_id, event_type, enabled)):
        return None
    data = {"team": _team(project), "project": _project(project), "take": _take(take), **more}
    return emit(project.team_id, event_type, data, endpoints)


def take_done(take, enabled=None):
    """take.done for a take made done in this transaction, and project.rendered when it
    was the last of its cut (see lock_for_rendered). `enabled`: the team's enabled
    endpoints, as lock_for_rendered returned them (read here when not given)."""
    project = take.shot.project
    if enabled is None:
        enabled = _enabled(project.team_id)
    _about_take(take, "take.done", enabled)
    if not (wanting := _wanting(project.team_id, "project.rendered", enabled)):
        return
    cut = rendered(project, take.kind)
    if cut and take.pk in [t.pk for t in cut]:
        data = {
            "team": _team(project),
            "project": _project(project),
            "kind": take.kind,
            "takes": [{"id": t.pk, "shot": t.shot.number, "number": t.number} for t in cut],
        }
        emit(project.team_id, "project.rendered", data, wanting)


def take_failed(take):
    _about_take(take, "take.failed")


def take_held(take):
    _about_take(take, "take.held", check=take.held_check)


def lock_for_rendered(project):
    """Lock `project`'s row, when an endpoint of its team wants project.rendered, before a
    take of it is made done: two takes finishing at once then see each other's end, and
    the one that ends the cut tells it. The team's enabled endpoints, for take_done."""
    enabled = _enabled(project.team_id)
    if _wanting(project.team_id, "project.rendered", enabled):
        Project.everywhere.select_for_update().filter(pk=project.pk).first()
    return enabled


def rendered(project, kind):
    """The takes of `project`'s cut of `kind` in order when every shot has a selected take
    of that kind that is done and current, and no take of that kind is still waiting or
    at work in the project; else None."""
    if Take.objects.filter(shot__in=project.shots.values("pk"), kind=kind).unfinished().exists():
        return None
    shots = project.timeline()
    if not shots:
        return None
    takes = [shot.current_of(kind) for shot in shots]
    return None if None in takes else takes


def _export(export):
    data = {
        "id": export.pk,
        "status": export.status,
        "format": export.format,
        "kind": export.kind,
        "error": export.error,
        "duration": export.duration,
        "download_url": None,
    }
    if export.status == export.Status.DONE:
        path = reverse("export-download", args=[export.project_id, export.pk])
        data["download_url"] = _absolute(path)
    return data


def _about_export(export, event_type):
    team_id = Project.everywhere.values_list("team_id", flat=True).get(pk=export.project_id)
    endpoints = _wanting(team_id, event_type)
    if not endpoints:  # a team without webhooks pays one query, not three
        return None
    project = Project.everywhere.select_related("team").get(pk=export.project_id)
    data = {"team": _team(project), "project": _project(project), "export": _export(export)}
    return emit(team_id, event_type, data, endpoints)


def export_done(export):
    return _about_export(export, "export.done")


def export_failed(export):
    return _about_export(export, "export.failed")


def comment_created(comment):
    shot = comment.shot
    project = shot.project
    if not (endpoints := _wanting(project.team_id, "comment.created")):
        return None
    data = {
        "team": _team(project),
        "project": _project(project),
        "shot": {"id": shot.pk, "number": shot.number},
        "comment": {
            "id": comment.pk,
            "author": comment.who,
            "body": comment.body,
            "take": comment.take_id,
        },
    }
    return emit(project.team_id, "comment.created", data, endpoints)


def ping(endpoint, by):
    """A test event to one endpoint, whatever events it wants."""
    team = endpoint.team
    data = {
        "team": {"id": team.pk, "name": team.name},
        "endpoint": {"id": endpoint.pk, "url": endpoint.url},
        "sent_by": by.get_username(),
    }
    return emit(team.pk, PING, data, [endpoint])


# Sending.


def _lease():
    return timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)


def claim_due(now=None):
    """Claim the pending deliveries whose time has come (a retry, or one whose hand-over
    was lost), oldest due first; each as (id, claim) for its task. A claim left unsent
    falls due again a lease later, and the task handed the older claim then sends nothing."""
    now = now or timezone.now()
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
    # Past its time and due (so not being sent): failed, whatever kept it pending.
    give_up = now - timedelta(seconds=settings.WEBHOOKS_GIVE_UP_SECONDS)
    expired = due.filter(event__created_at__lt=give_up)
    if expired.update(status=Delivery.Status.FAILED, next_attempt_at=None):
        log.info("deliveries past their time failed")
    claimed, until = [], now + _lease()
    rows = due.order_by("next_attempt_at").values_list("pk", "next_attempt_at")[:500]
    for pk, when in rows:
        if Delivery.objects.filter(pk=pk, next_attempt_at=when).update(next_attempt_at=until):
            claimed.append((pk, until))
    return claimed


def next_due():
    """When the next pending delivery falls due; None when none is pending."""
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING)
    return pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()


def deliver(delivery_id, claim=None):
    """Send a pending delivery once (the worker's task), and record what came of it.

    `claim` is the next_attempt_at written by whoever queued this task (emit's hand-over,
    or claim_due): the task sends only while the delivery still holds it, taken over by a
    conditional update. A second message for the same delivery (the clock claimed it
    again while the first waited in the queue) finds the claim moved on and sends
    nothing. A message without a claim (queued before claims were passed) sends nothing:
    the clock claims the delivery afresh a lease later."""
    if claim is None:
        return None
    delivery = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .select_related("event", "endpoint")
        .first()
    )
    if delivery is None:
        return None
    now = timezone.now()
    mine = now + _lease()
    held = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, next_attempt_at=claim
    )
    if not held.update(next_attempt_at=mine):
        return None
    delivery.next_attempt_at = mine
    if not delivery.endpoint.enabled:
        code, error, seconds = None, "The endpoint is disabled.", 0.0
    else:
        started = time.monotonic()
        try:
            code, error, seconds = send(delivery.endpoint, delivery.event)
        except Exception as exc:  # whatever it was, an attempt: recorded, tried again
            log.exception("delivery %s: the send failed", delivery.pk)
            code, error = None, f"Could not send: {type(exc).__name__}: {exc}"
            seconds = time.monotonic() - started
    return _record(delivery, now, code, error, seconds)


def _record(delivery, at, code, error, seconds):
    """Record an attempt and its outcome, the outcome only while this send still holds
    its claim (delivery.next_attempt_at as deliver wrote it)."""
    mine = delivery.next_attempt_at
    attempts = delivery.attempts + 1
    try:
        with transaction.atomic():
            DeliveryAttempt.objects.create(
                delivery=delivery, at=at, status_code=code, error=error[:300], seconds=seconds
            )
    except IntegrityError:  # its endpoint was deleted meanwhile, and the delivery with it
        log.info("delivery %s: deleted while it was sent", delivery.pk)
        return None
    fields = {
        "attempts": attempts,
        "last_status_code": code,
        "last_error": error[:300],
        "last_attempt_at": at,
    }
    if code is not None and 200 <= code < 300:
        fields.update(status=Delivery.Status.DELIVERED, delivered_at=timezone.now())
        fields["next_attempt_at"] = None
    elif not delivery.endpoint.enabled:
        fields.update(status=Delivery.Status.FAILED, next_attempt_at=None)
    else:
        delays = settings.WEBHOOKS_RETRY_DELAYS
        later = timezone.now() + timedelta(seconds=delays[min(attempts, len(delays)) - 1])
        give_up = delivery.event.created_at + timedelta(seconds=settings.WEBHOOKS_GIVE_UP_SECONDS)
        if later > give_up:
            fields.update(status=Delivery.Status.FAILED, next_attempt_at=None)
        else:
            fields["next_attempt_at"] = later
    held = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, next_attempt_at=mine
    )
    if not held.update(**fields):
        log.warning("delivery %s: its claim was taken over while it was sent", delivery.pk)
        return None
    for name, value in fields.items():
        setattr(delivery, name, value)
    log.info("delivery %s: attempt %s: %s", delivery.pk, attempts, code or error)
    return delivery


def sign(secret, event_id, timestamp, body):
    """The webhook-signature header of `body` (bytes): v1 and the base64 HMAC-SHA256, with
    the secret's bytes, of "{id}.{timestamp}.{body}" (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@functools.cache
def _tls():
    """The TLS context of every send, made once: loading the CA bundle takes longer than
    a send to a nearby endpoint."""
    return ssl.create_default_context(cafile=certifi.where())


class _Deadline(httpcore.NetworkBackend):
    """httpcore's own sockets, each connect, read and write given no longer than what is
    left until `deadline` (time.monotonic()): httpx's timeouts are per read, and an
    endpoint that sends a byte every few seconds would hold a worker for as long as it
    likes. Past the deadline the operation times out and the connection is closed."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.sockets = httpcore.SyncBackend()

    def left(self, timeout, timed_out):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise timed_out("The send's deadline passed.")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        timeout = self.left(timeout, httpcore.ConnectTimeout)
        stream = self.sockets.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Webhooks go over TCP only.")

    def sleep(self, seconds):
        self.sockets.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream, backend):
        self.stream = stream
        self.backend = backend

    def read(self, max_bytes, timeout=None):
        return self.stream.read(max_bytes, self.backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        self.stream.write(buffer, self.backend.left(timeout, httpcore.WriteTimeout))

    def close(self):
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        timeout = self.backend.left(timeout, httpcore.ConnectTimeout)
        stream = self.stream.start_tls(ssl_context, server_hostname, timeout)
        return _DeadlineStream(stream, self.backend)

    def get_extra_info(self, info):
        return self.stream.get_extra_info(info)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport on the _Deadline sockets (httpx takes no network backend of its
    own, so its connection pool is made again with one)."""

    def __init__(self, deadline, verify):
        super().__init__(verify=verify, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=verify, http1=True, http2=False, network_backend=_Deadline(deadline)
        )


class _TooLong(Exception):
    pass


def send(endpoint, event):
    """POST `event` to `endpoint` once: (answer's status code or None, error, seconds).
    The whole send, from the first connect to the last byte read, takes at most
    WEBHOOKS_SEND_SECONDS; httpx's timeouts bound each connect and read within it."""
    started = time.monotonic()
    try:
        url = httpx.URL(endpoint.url)
        if url.scheme not in ("http", "https") or not url.host:
            raise Refused("Not an http(s) URL.")
        addresses = _addresses(url)
    except (Refused, httpx.InvalidURL) as refused:
        return None, f"Refused: {refused}", 0.0
    body = event.body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "host": url.netloc.decode("ascii"),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event.event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(endpoint.secret, event.event_id, timestamp, body),
    }
    # To an address checked, not to whatever the name resolves to next; TLS still checks
    # the certificate against the name.
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    limit = settings.WEBHOOKS_SEND_SECONDS
    deadline = started + limit
    timeout = httpx.Timeout(
        settings.WEBHOOKS_READ_TIMEOUT, connect=settings.WEBHOOKS_CONNECT_TIMEOUT
    )
    late = f"No whole answer within {limit:g} s (timed out)."
    transport = _DeadlineTransport(deadline, _tls())
    with httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for address in addresses:
            pinned = url.copy_with(host=address)
            try:
                with client.stream(
                    "POST", pinned, content=body, headers=headers, extensions=extensions
                ) as response:
                    read = 0
                    for chunk in response.iter_raw():
                        read += len(chunk)
                        if read >= ANSWER_CAP:
                            break
                        if time.monotonic() >= deadline:
                            raise _TooLong
                    return response.status_code, "", time.monotonic() - started
            except httpx.ConnectTimeout:
                error = late if time.monotonic() >= deadline else "Timed out connecting."
                continue  # the host's next address, if it has one
            except httpx.ConnectError as exc:
                error = f"Could not connect: {exc}"
                continue
            except _TooLong:  # leaving the stream closed the connection
                error = late
            except httpx.TimeoutException:
                if time.monotonic() >= deadline:
                    error = late
                else:
                    error = f"No answer within {settings.WEBHOOKS_READ_TIMEOUT:g} s (timed out)."
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            break  # the request went out: never sent again to another address
    return None, error[:300], time.monotonic() - started


# Events (and their deliveries and attempts) are kept this long once none is pending.
KEPT = timedelta(days=30)


def prune(now=None):
    """Delete events older than KEPT that nothing is pending for (the worker's sweep)."""
    before = (now or timezone.now()) - KEPT
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).values("event")
    old = WebhookEvent.objects.filter(created_at__lt=before).exclude(pk__in=pending)
    return old.delete()[0]


# The team page.


def recent(team, count=20):
    """The team's latest deliveries, each with its attempts."""
    return list(
        Delivery.objects.filter(endpoint__team=team)
        .select_related("event", "endpoint")
        .prefetch_related("tries")[:count]
    )
