"""The worker's tasks (django-q2): each calls pipeline steps and returns; none sleeps.

What is due later (a task's next read, a create's retry) is a time in the database,
and the worker's clock (projects.worker) hands it to these tasks when it comes.
"""

from django_q.tasks import async_task

from . import gateways, pipeline, scripts, webhooks
from .models import Connection, Export, Project, Take


def start(project_id):
    """Submit what may start now in a project."""
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        pipeline.start_ready(project)


def look(take_ids):
    """Do what these takes are due for (read their tasks, or look for an uncertain
    create), and send at once what the ones that ended unblock."""
    takes = list(Take.objects.filter(pk__in=take_ids).select_related("shot__project"))
    ended = pipeline.look(takes)
    for project in {take.shot.project_id: take.shot.project for take in ended}.values():
        pipeline.start_ready(project)
    done = [take.pk for take in ended if take.status == Take.Status.DONE]
    if done:  # after the chain went on: the next shot's create does not wait for this
        async_task("projects.tasks.prepare", done)


def prepare(take_ids):
    """Encode now what exports will encode of these takes (pipeline.bridging)."""
    for take in Take.objects.filter(pk__in=take_ids).select_related("shot__project"):
        pipeline.prepare_bridges(take)


def recover():
    """Resume what dead workers left (when a worker starts, and every minute), and delete
    what was deleted while its takes were at the provider, once they ended; prepare the
    bridges of some takes done before bridges existed; forget webhook events a month
    old."""
    pipeline.recover()
    pipeline.purge()
    pipeline.sweep_exports(requeue=lambda export_id: async_task("projects.tasks.export", export_id))
    pipeline.prune_bridges()
    pipeline.prepare_missing_bridges()
    pipeline.keep_first_frames()
    webhooks.prune()


def cancel(take_ids):
    for take in Take.objects.filter(pk__in=take_ids).select_related("shot__project"):
        pipeline.cancel_remote(take)


def export(export_id):
    export = Export.objects.filter(pk=export_id).first()
    if export is not None:
        pipeline.export(export)


def deliver(delivery_id, claim=None):
    """Send a webhook's delivery once, while it still holds `claim` (the claim whoever
    queued this wrote), and record what came of it (projects.webhooks)."""
    webhooks.deliver(delivery_id, claim)


def break_down(breakdown_id):
    scripts.breaking_down(breakdown_id)


def check_connection(connection_id):
    """Test a team's gateway connection (Test connection); one that resumes sends what
    its team's projects have waiting."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is not None and gateways.check(connection_id):
        resume(connection.team_id)


def resume(team_id):
    """Send what a team's projects have waiting, its gateway working again."""
    for project_id in gateways.waiting_projects(team_id):
        async_task("projects.tasks.start", project_id)
