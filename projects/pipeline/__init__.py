"""The pipeline: what may be generated now, and each step of a take, from queue to collect.

One module per idea:
- queueing: making waiting takes, and cancelling them (the database only: views call it)
- requests: the neutral request a take sends, and what the provider would refuse
- submitting: starting what may start, and the create
- uncertain: a create whose answer never came: who decides, and how its task is found
- polling: reading remote tasks, and when each is read next
- cancelling: cancelling queued tasks after reading them, deleting with work in flight
- collecting: a finished take's files into media storage (and first frames kept late)
- exporting: the cut joined into one file
- failing: a take or export failed, and the team's webhooks told, in one step
- bridging: what exports encode of each take, encoded once when it arrives
- leases: who works on a row, and whether that worker lives
- recovery: taking over what dead workers left
- schedule: what is due now, for whichever driver asks
- guarding: the seam guard, which holds a continue whose start frame is unfit
- driver: `storyboard render --wait`, the command line's driver

The worker (projects.tasks and projects.worker) and the command line call the same
steps. Every state change two processes could race on is a conditional update.
"""

from .bridging import prepare as prepare_bridges
from .bridging import prepare_missing as prepare_missing_bridges
from .bridging import prune as prune_bridges
from .cancelling import cancel_remote, delete_project, forget, purge
from .collecting import keep_first_frames
from .driver import run_here
from .exporting import export, plan_for, write_clips
from .exporting import queue as queue_export
from .exporting import refused as export_refused
from .exporting import sweep as sweep_exports
from .failing import fail_export, fail_take, give_up_connection
from .guarding import release_on
from .polling import poll_many
from .queueing import cancel, queue_finals, queue_from, queue_takes
from .recovery import recover
from .requests import build_request, cast_notes, problems, settings_problems
from .schedule import claim_reads, claim_retries, due_reads, look, next_due, worth_a_look
from .submitting import start_ready, submit
from .uncertain import send_again

__all__ = [
    "build_request",
    "cancel",
    "cancel_remote",
    "cast_notes",
    "claim_reads",
    "claim_retries",
    "delete_project",
    "due_reads",
    "export",
    "export_refused",
    "fail_export",
    "fail_take",
    "give_up_connection",
    "plan_for",
    "queue_export",
    "forget",
    "keep_first_frames",
    "look",
    "next_due",
    "poll_many",
    "prepare_bridges",
    "prepare_missing_bridges",
    "problems",
    "prune_bridges",
    "purge",
    "write_clips",
    "queue_finals",
    "queue_from",
    "queue_takes",
    "release_on",
    "recover",
    "run_here",
    "send_again",
    "settings_problems",
    "start_ready",
    "submit",
    "sweep_exports",
    "worth_a_look",
]
