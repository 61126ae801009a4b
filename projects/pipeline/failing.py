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
