"""Creates whose answer never came: the one place that decides what became of them.

A create is uncertain when it was sent and nothing says what it did: no answer, a timeout,
a connection dropped after sending, or a 5xx (behind a proxy, a 504 usually means its
upstream made the task). An uncertain create is never sent again by the app.

- Only the worker that sends a create decides what its answer means: it holds the take,
  submitting, under its lease. Callbacks and reads leave a submitting take alone; the
  sweep takes one over only once its worker is dead or silent for a lease (take_over),
  and then it is uncertain too, unless the take shows its create was never sent.
- Where the provider lists tasks, an uncertain take's task is looked for over
  PIPELINE_FIND_SECONDS, in several reads (lists lag behind creates), among the tasks
  made since that no other take follows, by what the create sent: kept on the take before
  it was sent (requests.kept), never rebuilt from the shot as it is now. A task that
  echoes all of it is the take's, which follows it from then on.
- Where the provider cannot list, when nothing matched by the end of the window, or when
  the provider could not be asked for five leases, the take stops, uncertain: its card
  says the gateway may have made the shot and offers to send it again, which only a
  person does (send_again), knowing it may be billed twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .. import gateways, limits
from ..models import Take
from ..providers import LostCreate, ProviderError, get_client
from .leases import beat, me
from .polling import follow
from .requests import sent

log = logging.getLogger(__name__)
Status = Take.Status
STOPPED = "The gateway may have made this shot; check its console before sending again."
FOUND = "The create's answer was lost; its task was found among the provider's."


def is_uncertain(error):
    """Whether a create that failed with `error` may have made its task all the same."""
    return error.maybe_done or (error.status or 0) >= 500


def lost(take, client, error):
    """The create its worker sent for `take` ended with `error`, which leaves it
    uncertain; only that worker calls this, while it holds the take. True once the take
    follows the task it made."""
    mine = Take.objects.filter(worker=me())
    note = f"The create got no sure answer ({error}); it is not sent again."
    if not mine.claim(take, Status.SUBMITTING, Status.UNCERTAIN, note=note, **_looking()):
        return False
    log.info("take %s: uncertain after %s", take.pk, error)
    return look_for(take, client)


def take_over(take):
    """A submitting take whose worker died, claimed by a sweep (recovery): back in line
    when its create was never sent (the worker died building it), else uncertain."""
    mine = Take.objects.filter(worker=me())
    if take.submitted_at is None:
        mine.claim(
            take, Status.SUBMITTING, Status.WAITING, note="Its worker died before sending it."
        )
        return False
    note = "Its worker died while sending the create, which may have made its task."
    if not mine.claim(take, Status.SUBMITTING, Status.UNCERTAIN, note=note, **_looking()):
        return False
    return look_for(take)


def look_for(take, client=None):
    """Look for an uncertain take's task once; True when the take now follows it.

    Called when the take falls due (the clock claims it first), and on a callback, which
    says its task may exist: an unresolved take is looked for then too, and stays
    unresolved when nothing is found.
    """
    if not take.is_uncertain:
        return False
    if not limits.lists():
        return _stop(take, "The provider cannot list its tasks, so its task cannot be found.")
    if not take.request:  # sent by a version of the app that did not keep it
        return _stop(take, "What its create sent was not kept: its task cannot be told apart.")
    wait = limits.admit_call()
    if wait:
        return _again(take, wait.seconds)
    client = client or get_client()
    since = take.submitted_at
    lost = LostCreate(sent(take), since=since.timestamp(), known=_known_tasks(take, since))
    try:
        found = client.find_lost(lost)
    except ProviderError as error:
        if gateways.refused(error):  # its connection's key was refused: paused, looked again
            return _again(take, _next_look(take))
        if error.status in limits.NOT_SERVED:
            limits.stop_listing()
            return _stop(take, "The provider turned out not to list its tasks.")
        waited = timezone.now() - since
        if waited > ask_deadline():
            minutes = waited.total_seconds() / 60
            return _stop(
                take, f"For {minutes:.0f} min the provider could not be asked for it ({error})."
            )
        log.info("take %s: looking for its task failed: %s", take.pk, error)
        return _again(take, _next_look(take))
    if found.matches:
        # Two that echo all of it: the gateway sent it upstream twice. Both are billed;
        # the first is followed.
        first = min(found.matches, key=lambda task: task.created_at)
        note = FOUND
        if len(found.matches) > 1:
            note += f" It made {len(found.matches)} of them; the first is followed."
        return follow(take, first.id, Status.UNCERTAIN, note=note)
    if timezone.now() < since + window():
        return _again(take, _next_look(take))
    if found.unsure:
        return _stop(
            take,
            f"{len(found.unsure)} of the provider's tasks made since could be it, but they do "
            "not echo what was sent.",
        )
    return _stop(take, f"Its task was not among the provider's after {_spoken(window())}.")


def send_again(take, by=None):
    """A person sends an unresolved take again, knowing it may be billed twice: it waits
    its turn as a new take would, and its next create is told apart from the first by
    its fingerprint. False when it is not unresolved (any more)."""
    who = by.get_username() if by is not None else "the command line"
    return Take.objects.filter(next_look_at=None).claim(
        take,
        Status.UNCERTAIN,
        Status.WAITING,
        error="",
        not_before=None,
        note=f"Sent again by {who}, knowing it may be billed twice.",
    )


def window():
    """How long an uncertain create is looked for among the provider's tasks."""
    return timedelta(seconds=settings.PIPELINE_FIND_SECONDS)


def ask_deadline():
    """How long a provider that cannot be asked is asked again about an uncertain create."""
    return max(window(), timedelta(seconds=5 * settings.PIPELINE_LEASE_SECONDS))


def _looking():
    return {"next_look_at": timezone.now(), **beat()}


def _next_look(take):
    """Seconds to the next look: soon after the send, then less often (lists catch up
    with creates within seconds, or minutes), and once more as the window closes."""
    now = timezone.now()
    elapsed = (now - take.submitted_at).total_seconds()
    until_end = (take.submitted_at + window() - now).total_seconds()
    delay = max(1.0, min(window().total_seconds() / 4, elapsed / 2))
    return max(0.0, until_end) if 0 < until_end < delay else delay


def _again(take, seconds):
    later = timezone.now() + timedelta(seconds=seconds)
    Take.objects.filter(pk=take.pk, status=Status.UNCERTAIN).exclude(next_look_at=None).update(
        next_look_at=later, **beat()
    )
    return False


def _stop(take, why):
    """No longer looked for: a person decides (the card says what is known)."""
    if Take.objects.filter(pk=take.pk, status=Status.UNCERTAIN).update(
        next_look_at=None, error=f"{why} {STOPPED}"
    ):
        take.next_look_at, take.error = None, f"{why} {STOPPED}"
        log.info("take %s: uncertain, no longer looked for: %s", take.pk, why)
    return False


def _known_tasks(take, since):
    """Task ids other takes of this provider already follow, created around the same time."""
    return frozenset(
        Take.objects.exclude(pk=take.pk)
        .exclude(remote_id="")
        .filter(provider=take.provider, submitted_at__gte=since - timedelta(hours=1))
        .values_list("remote_id", flat=True)
    )


def _spoken(duration):
    seconds = duration.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
