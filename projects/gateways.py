"""Which gateway each piece of work goes through: a team's own connection, or the
deployment's (SEEDANCE_*).

A take not sent yet goes through its team's default connection as it is now; a take
sent goes through the one it recorded when it was claimed (Take.provider), to its end,
whatever the team changes meanwhile. Within `for_project` or `for_take`, everything that
asks providers.configured() (the client, the limits, the gate, the style's checks) gets
that gateway.
"""

import logging

import httpx
from django.utils import timezone

from . import providers, tls, vault
from .models import Connection, Take
from .models.connections import PAUSED

log = logging.getLogger(__name__)
# How long a check of a connection may take, connecting and reading.
CHECK_SECONDS = 10.0
# A gateway answering these to a request it would serve with a working key refuses the key.
REFUSED = frozenset({401, 403})


def _of_project(project):
    def resolve():
        connection = Connection.chosen_for(project)  # read afresh (its pause too)
        # Resolved and refused here when inside this network: before any key goes there.
        return connection.provider().reachable() if connection else providers.deployment()

    return resolve


def _named(name, keyed=True):
    def resolve():
        connection_id = Connection.id_of(name or "")
        if connection_id is None:
            return providers.deployment()
        connection = Connection.objects.filter(pk=connection_id).first()
        if connection is None:
            raise providers.ProviderError(
                "The gateway connection this take went through was deleted.", permanent=True
            )
        # Unkeyed: what the clock reads of it (whether it lists), no key unsealed and no
        # host looked up; whatever sends or reads through it asks keyed.
        return connection.provider().reachable() if keyed else connection.provider(keyed=False)

    return resolve


def through_connection(project):
    """Whether `project`'s new takes go through a team's connection (not the server's)."""
    return Connection.chosen_for(project) is not None


def for_project(project):
    """A block in which the provider is the one `project`'s new takes go through: its own
    pick, else its team's default connection, else the deployment's."""
    return providers.using(_of_project(project))


def for_take(take):
    """A block in which the provider is the one `take` went through (its project's, while
    it has none recorded)."""
    if take.provider and take.status != Take.Status.WAITING:
        return providers.using(_named(take.provider))
    return for_project(take.shot.project)


def named(name, keyed=True):
    """A block in which the provider is the one recorded under `name` (keyed=False:
    without its key, for what is read of it alone)."""
    return providers.using(_named(name, keyed))


def refused(error):
    """When `error` is the gateway refusing the key of the connection at hand, pause the
    connection (its takes wait, none fails for it, until its owner acts) and return what
    its takes' cards say; else ''. The deployment's own gateway is never paused: its
    errors end takes as before."""
    if getattr(error, "status", None) not in REFUSED:
        return ""
    try:
        name = providers.configured().name
    except providers.ProviderError:
        return ""
    connection = Connection.objects.filter(pk=Connection.id_of(name) or 0).first()
    if connection is None:
        return ""
    reason = f"the gateway refused its key ({error})."
    if connection.pause(reason):
        log.warning("connection %s paused: %s", connection.pk, reason)
    return connection.paused_note()


def paused_among(takes):
    """What the first of `takes` waiting on a paused connection says, or ''."""
    return next((take.note for take in takes if take.note.startswith(PAUSED)), "")


def check(connection_id):
    """Test a connection: one cheap authenticated read (Style.check). Records what it
    found on the connection; a check that passes resumes a paused connection. True when
    it resumed one."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return False
    state, message = Connection.Check.OK, "The key and the address work."
    error = None
    try:
        connection.key()  # an unreadable key is said as such, not tried on the gateway
        provider = connection.provider().reachable()
    except vault.Unreadable as unreadable:
        connection.pause(f"its key cannot be read: {unreadable}")
        state, message, provider = Connection.Check.FAILED, str(unreadable), None
    except providers.ProviderError as unusable:
        state, message, provider = Connection.Check.FAILED, str(unusable), None
    if provider is not None:
        timeout = httpx.Timeout(CHECK_SECONDS, connect=min(5.0, CHECK_SECONDS))
        with httpx.Client(timeout=timeout, verify=tls.context()) as http:
            client = provider.style(
                provider.base_url,
                provider.api_key,
                http,
                headers=provider.headers,
                trust_internal=provider.may_be_internal,
            )
            error = client.check()
        if error is not None:
            if error.status in REFUSED:
                state, message = Connection.Check.REFUSED, f"The gateway refused the key: {error}"
            elif error.status is None:
                state = Connection.Check.UNREACHABLE
                message = f"The address does not answer: {error}"
            else:
                state, message = Connection.Check.FAILED, str(error)
    fields = {"check_state": state, "check_message": message, "checked_at": timezone.now()}
    resumed = False
    if state == Connection.Check.OK:
        resumed = bool(
            Connection.objects.filter(pk=connection_id, paused_at__isnull=False).update(
                paused_at=None, paused_reason="", **fields
            )
        )
    elif state == Connection.Check.REFUSED:
        Connection(pk=connection_id).pause(f"the gateway refused its key ({error}).")
    if not resumed:  # a resume wrote them with it
        Connection.objects.filter(pk=connection_id).update(**fields)
    return resumed


def waiting_projects(team_id):
    """Ids of the team's projects with takes waiting to be sent."""
    return sorted(
        set(
            Take.objects.filter(
                status=Take.Status.WAITING, shot__project__team_id=team_id
            ).values_list("shot__project", flat=True)
        )
    )
