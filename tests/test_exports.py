"""Exports: the cut joined from storage into storage, and never left "rendering" for ever."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.signing import SignedPackage

from projects import media, pipeline, tasks
from projects.files import local_copy
from projects.models import Export, Opening
from tests.factories import make_project, make_takes
from tests.test_storage import no_path_storage  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


def queued_export(user, shots=2):
    project = make_project(user, shots=[(f"Shot {n}", Opening.CONTINUE) for n in range(shots)])
    takes = make_takes(project)
    return project, Export.objects.create(project=project, takes=[take.pk for take in takes])


def test_an_export_is_rendered_from_storage_into_storage_without_local_paths(
    user,
    no_path_storage,  # noqa: F811
):
    project, export = queued_export(user)
    pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE and export.mode == "copy"
    assert export.duration == pytest.approx(8.0, abs=0.1)
    with local_copy(export.file) as path:
        assert media.probe(path).duration == pytest.approx(8.0, abs=0.1)


def test_an_export_whose_shot_was_deleted_meanwhile_fails_saying_why(user):
    project, export = queued_export(user)
    project.shots.in_order().last().delete()

    pipeline.export(export)

    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "deleted after the export was asked for" in export.error


def test_an_export_failing_for_any_other_reason_fails_instead_of_rendering_on(user, monkeypatch):
    project, export = queued_export(user)

    def broken(*args, **kwargs):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(media, "join", broken)
    pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "the disk caught fire" in export.error


def test_an_export_whose_worker_died_is_swept_and_fails(user, settings):
    project, export = queued_export(user)
    long_ago = timezone.now() - timezone.timedelta(seconds=settings.PIPELINE_LEASE_SECONDS + 1)
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.RUNNING, heartbeat_at=long_ago, worker="elsewhere:1"
    )
    alive = Export.objects.create(
        project=project,
        status=Export.Status.RUNNING,
        heartbeat_at=timezone.now(),
        worker="elsewhere:2",
    )

    assert pipeline.sweep_exports(requeue=None) == 1  # nothing queued to send again

    export.refresh_from_db()
    alive.refresh_from_db()
    assert export.status == Export.Status.FAILED and "stopped" in export.error
    assert alive.status == Export.Status.RUNNING


def test_a_queued_export_whose_message_was_lost_is_sent_again_once_then_fails(
    client_of, user, broker, settings, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("Dawn", Opening.CUT)])
    make_takes(project)
    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(reverse("export-create", args=[project.pk]), {"format": "srt"})
    export = Export.objects.get()
    assert broker.queue_size() == 1
    broker.purge_queue()  # the broker lost it (a Redis restarted without its data)
    tasks.recover()
    assert broker.queue_size() == 0  # a moment queued is no sign of a lost message

    lease = timezone.timedelta(seconds=settings.PIPELINE_LEASE_SECONDS + 1)
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - lease)
    tasks.recover()
    tasks.recover()  # once only

    ((_, package),) = broker.dequeue()  # the same task again, and only once
    task = SignedPackage.loads(package)
    assert (task["func"], task["args"]) == ("projects.tasks.export", (export.pk,))
    export.refresh_from_db()
    assert export.status == Export.Status.QUEUED
    # That one was lost too: once it has waited the deadline, the export fails saying so.
    waited = pipeline.exporting.queue_deadline() + timezone.timedelta(seconds=1)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - waited)
    tasks.recover()
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "No worker took it from the task queue" in export.error


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_refuses_the_export_is_said_on_the_page(client_of, user, monkeypatch):
    from django_q.conf import Conf

    from tests.s3 import closed_port

    project = make_project(user, shots=[("Dawn", Opening.CUT)])
    make_takes(project)
    # A Redis broker with nothing listening: every message is refused.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{closed_port()}/0")

    page = client_of.post(reverse("export-create", args=[project.pk]), follow=True)

    assert page.status_code == 200
    assert "could not be handed to the workers" in page.content.decode()
    export = Export.objects.get()
    assert export.status == Export.Status.FAILED
    assert export.error.startswith("The task queue refused it (ConnectionError")
