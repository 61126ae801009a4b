"""Bridges prepared on every path that finishes a take, and each encoded once: the command
line's render, the sweep for takes done before bridges existed, the take picker, and
exports racing a preparation (issue 18, 14)."""

import logging
import os
import threading

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection

from projects import cut, pipeline, tasks
from projects.models import Bridge, Export, Opening, Take
from projects.pipeline import bridging
from tests.factories import make_project, make_takes
from tests.test_cli import write_storyboard

TWO_SHOTS = {
    "title": "Dawn",
    "settings": {"resolution": "480p", "ratio": "16:9", "generate_audio": False},
    "shots": [
        {"prompt": "Dawn over the valley", "duration": 4},
        {"prompt": "The sun climbs", "duration": 4, "opening": "continue"},
    ],
}


def stored():
    try:
        return default_storage.listdir(bridging.FOLDER)[1]
    except FileNotFoundError:
        return []


def export_of(project):
    plan = cut.plan(project)
    return Export.objects.create(
        project=project, takes=[e["take"] for e in plan], plan=plan, seamless=True
    )


def encoded_by(caplog, export):
    """(frames encoded, of them copied from prepared bridges), as the export logged them."""
    (line,) = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(f"export {export.pk}:") and "frames encoded" in r.getMessage()
    ]
    encoded = int(line.split(", ")[1].split()[0])
    prepared = int(line.rsplit("(", 1)[1].split()[0])
    return encoded, prepared


@pytest.mark.django_db
def test_a_command_line_render_prepares_the_bridges_before_any_export(
    simulator, user, tmp_path, media_root, caplog
):
    call_command(
        "storyboard", "import", str(write_storyboard(tmp_path, TWO_SHOTS)), "--owner", "ada"
    )
    project = user.teams.get().projects.get()

    call_command("storyboard", "render", str(project.pk), "--wait")

    assert len(stored()) == 1  # the continue's start, and nothing for the cut
    takes = Take.objects.filter(shot__project=project, status=Take.Status.DONE)
    assert {take.bridged for take in takes} == {"cut:0:None", "continue:0:None"}
    export = export_of(project)
    with caplog.at_level(logging.INFO, logger="projects.pipeline.exporting"):
        pipeline.export(export)
    encoded, prepared = encoded_by(caplog, export)
    assert encoded > 0 and prepared == encoded  # the first export copies every bridge


@pytest.mark.django_db
def test_takes_done_before_bridges_existed_are_prepared_by_the_sweep_once(user, media_root, broker):
    project = make_project(user, shots=[("Dawn", Opening.CUT), ("Noon", Opening.CONTINUE)])
    make_takes(project)
    assert set(Take.objects.values_list("bridged", flat=True)) == {""}

    assert bridging.prepare_missing() == 2
    assert len(stored()) == 1
    assert set(Take.objects.values_list("bridged", flat=True)) == {"cut:0:None", "continue:0:None"}
    assert bridging.prepare_missing() == 0  # each at most once
    tasks.recover()  # the worker's sweep calls it
    assert len(stored()) == 1


@pytest.mark.django_db
def test_an_export_of_takes_done_before_bridges_keeps_them_for_the_sweep(user, media_root, caplog):
    project = make_project(user, shots=[("Dawn", Opening.CUT), ("Noon", Opening.CONTINUE)])
    make_takes(project)
    export = export_of(project)
    with caplog.at_level(logging.INFO, logger="projects.pipeline.exporting"):
        pipeline.export(export)
    encoded, prepared = encoded_by(caplog, export)
    assert encoded > 0 and prepared == 0  # nothing was prepared: the export encodes it

    assert len(stored()) == 1 and Bridge.objects.get().stored
    # The sweep leaves what the export kept.
    assert set(Take.objects.values_list("bridged", flat=True)) == {"cut:0:None", "continue:0:None"}
    assert bridging.prepare_missing() == 0
    assert set(Take.objects.values_list("bridged", flat=True)) == {"cut:0:None", "continue:0:None"}


@pytest.mark.django_db
def test_picking_a_take_queues_its_preparation(
    client_of, user, broker, media_root, django_capture_on_commit_callbacks
):
    from django.urls import reverse
    from django_q.signing import SignedPackage

    project = make_project(user, shots=[("Dawn", Opening.CUT)])
    (first,) = make_takes(project)
    from tests.factories import make_take

    second = make_take(first.shot, select=False)
    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(reverse("take-select", args=[project.pk, second.pk]))

    ((_, package),) = broker.dequeue()
    task = SignedPackage.loads(package)
    assert (task["func"], task["args"]) == ("projects.tasks.prepare", ([second.pk],))


def claimed_elsewhere(project):
    """The key of the continue's bridge, claimed by a live worker on another machine that
    has not stored it yet."""
    continuing = Take.objects.get(shot__project=project, shot__opening=Opening.CONTINUE)
    bridging.prepare(continuing)
    ((key, data),) = [
        (name.removesuffix(".bridge"), default_storage.open(f"{bridging.FOLDER}/{name}").read())
        for name in stored()
    ]
    default_storage.delete(f"{bridging.FOLDER}/{key}.bridge")
    Bridge.objects.filter(key=key).update(worker="elsewhere:1", stored=False)
    return key, data


@pytest.mark.django_db(transaction=True)
def test_an_export_waits_for_a_bridge_being_prepared_and_says_so(user, media_root, caplog):
    project = make_project(user, shots=[("Dawn", Opening.CUT), ("Noon", Opening.CONTINUE)])
    make_takes(project)
    key, data = claimed_elsewhere(project)
    export = export_of(project)
    notes = []

    def the_other_worker():
        # Stores the bridge once the export is seen waiting for it.
        try:
            while not Export.objects.filter(pk=export.pk, note=bridging.WAITING).exists():
                if Export.objects.filter(pk=export.pk, status__in=["done", "failed"]).exists():
                    return
            notes.append(bridging.WAITING)
            bridging.StoredBridges().put(key, data)
        finally:
            connection.close()

    other = threading.Thread(target=the_other_worker)
    other.start()
    with caplog.at_level(logging.INFO, logger="projects.pipeline.exporting"):
        pipeline.export(export)
    other.join()

    export.refresh_from_db()
    assert export.status == Export.Status.DONE and export.note == ""
    assert notes == [bridging.WAITING]
    encoded, prepared = encoded_by(caplog, export)
    assert encoded > 0 and prepared == encoded  # waited for, never encoded here


@pytest.mark.django_db
def test_a_claim_whose_worker_died_is_taken_over(user, media_root, caplog):
    project = make_project(user, shots=[("Dawn", Opening.CUT), ("Noon", Opening.CONTINUE)])
    make_takes(project)
    key, _ = claimed_elsewhere(project)
    Bridge.objects.filter(key=key).update(heartbeat_at=bridging.timezone.now() - bridging.KEEP)
    export = export_of(project)
    with caplog.at_level(logging.INFO, logger="projects.pipeline.exporting"):
        pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE
    encoded, prepared = encoded_by(caplog, export)
    assert encoded > 0 and prepared == 0
    assert Bridge.objects.get(key=key).stored and len(stored()) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgres" not in os.environ.get("DATABASE_URL", ""),
    # The suite's SQLite is in memory with a shared cache, where a second writer is told
    # "table is locked" at once instead of waiting, as it would on a file or PostgreSQL.
    reason="a race between transactions needs PostgreSQL (CI's second leg)",
)
def test_two_exports_racing_encode_each_bridge_once(user, media_root, caplog):
    project = make_project(user, shots=[("Dawn", Opening.CUT), ("Noon", Opening.CONTINUE)])
    make_takes(project)
    exports = [export_of(project), export_of(project)]
    start = threading.Barrier(2)

    def render(export):
        try:
            start.wait()
            pipeline.export(export)
        finally:
            connection.close()

    with caplog.at_level(logging.INFO, logger="projects.pipeline.exporting"):
        racing = [threading.Thread(target=render, args=(export,)) for export in exports]
        for thread in racing:
            thread.start()
        for thread in racing:
            thread.join()

    assert [e.status for e in Export.objects.order_by("pk")] == [Export.Status.DONE] * 2
    (first_encoded, first_copied), (second_encoded, second_copied) = [
        encoded_by(caplog, export) for export in exports
    ]
    assert first_encoded == second_encoded > 0
    # One of them encoded the bridge, the other copied it: never both.
    assert sorted([first_copied, second_copied]) == [0, first_encoded]
    assert len(stored()) == 1


@pytest.mark.django_db
def test_the_export_card_says_it_waits_for_a_bridge(client_of, user):
    project = make_project(user, shots=[("Dawn", Opening.CUT)])
    export = Export.objects.create(
        project=project, status=Export.Status.RUNNING, progress=0.4, note=bridging.WAITING
    )

    from django.urls import reverse

    card = reverse("export-card", args=[project.pk, export.pk])
    page = client_of.get(card).content.decode()

    assert bridging.WAITING in page and 'value="40"' in page
    Export.objects.filter(pk=export.pk).update(note="")
    assert bridging.WAITING not in client_of.get(card).content.decode()
