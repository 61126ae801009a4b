"""Failing a take or an export: the row moved, and the team's webhooks told, in one
transaction (the models move rows only; telling is the pipeline's)."""

from django.db import transaction

from .. import webhooks
from ..models import Take


def fail_take(take, reason):
    """Fail `take` with `reason` unless another process moved it on first, and tell
    take.failed with it, once: a take already failed is not told again."""
    was = take.status
    with transaction.atomic():
        failed = take.fail(reason)
        if failed and was != Take.Status.FAILED:
            webhooks.take_failed(take)
    return failed


def fail_export(export, reason):
    """Fail an unfinished `export` with `reason` unless it ended meanwhile, and tell
    export.failed with it."""
    with transaction.atomic():
        failed = export.fail(reason)
        if failed:
            webhooks.export_failed(export)
    return failed


def give_up_connection(connection, why):
    """Fail the takes still at `connection`'s gateway (its reads stopped while it is
    paused): their cards say so, and that the gateway may still bill for them; each is
    told as take.failed. How many were failed."""
    reason = (
        f"Given up: {why} It was never finished here; the gateway may still finish "
        "it, and bill for it, on its side."
    )
    return sum(
        bool(fail_take(take, reason))
        for take in connection.in_flight().select_related("shot__project__team")
    )
