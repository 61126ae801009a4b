"""Exports: the cut joined from storage into storage, and never left "rendering" for ever."""

import pytest
from django.utils import timezone

from projects import media, pipeline
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

    assert pipeline.sweep_exports() == 1

    export.refresh_from_db()
    alive.refresh_from_db()
    assert export.status == Export.Status.FAILED and "stopped" in export.error
    assert alive.status == Export.Status.RUNNING
