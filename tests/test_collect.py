"""Collecting a finished take: once, under a lease kept alive, into storage that may fail."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from projects import media, pipeline
from projects.models import Opening, Take
from projects.pipeline import collecting
from projects.providers.style import Style
from tests.factories import make_project
from tests.s3 import closed_port, use_s3

pytestmark = pytest.mark.django_db


def slow_downloads(monkeypatch, each_chunk):
    """Downloads that call `each_chunk()` after every chunk, as a slow network would pace."""
    download = Style.download

    def paced(self, url, suffix="", on_chunk=None):
        def chunk():
            each_chunk()
            if on_chunk is not None:
                on_chunk()

        return download(self, url, suffix, on_chunk=chunk)

    monkeypatch.setattr(Style, "download", paced)


def left_to_collect_later(project, take, says):
    """Start `project` and read `take` until its note `says` why it is to be collected later."""
    pipeline.start_ready(project)
    take.refresh_from_db()
    while says not in take.note:
        assert take.status in (Take.Status.QUEUED, Take.Status.RUNNING), take.error
        pipeline.poll_many([take])
        take.refresh_from_db()


@pytest.mark.full_clips  # a clip of many chunks, for a download slower than the lease
def test_a_download_slower_than_the_lease_keeps_it_and_is_collected_once(
    simulator, user, settings, monkeypatch
):
    settings.PIPELINE_LEASE_SECONDS = 0.6
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    after_sweeps = []

    def slow():
        time.sleep(0.1)
        if Take.objects.get(pk=take.pk).status == Take.Status.COLLECTING:
            pipeline.recover()  # another worker's sweeper, mid-download
            after_sweeps.append(Take.objects.get(pk=take.pk).status)

    slow_downloads(monkeypatch, slow)
    pipeline.run_here(project)

    take.refresh_from_db()
    assert take.status == Take.Status.DONE
    assert len(after_sweeps) >= 6  # the download outlasted the lease...
    # ...yet no sweep took the take over: each found a fresh heartbeat.
    assert set(after_sweeps) == {Take.Status.COLLECTING}


def test_a_take_taken_over_mid_download_is_not_finished_by_the_first_worker(
    simulator, user, settings, monkeypatch
):
    settings.PIPELINE_LEASE_SECONDS = 0.6
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)

    def taken_over():
        time.sleep(0.15)
        Take.objects.filter(pk=take.pk, status=Take.Status.COLLECTING).update(worker="other:1")

    slow_downloads(monkeypatch, taken_over)
    pipeline.start_ready(project)
    take.refresh_from_db()
    while take.status in (Take.Status.QUEUED, Take.Status.RUNNING):
        pipeline.poll_many([take])
        take.refresh_from_db()

    assert take.status == Take.Status.COLLECTING and take.worker == "other:1"
    assert not take.video  # nothing written over the other worker's collection
    stored = settings.MEDIA_ROOT / "takes"
    assert not stored.exists() or not any(stored.rglob("*.mp4"))


def test_with_storage_unreachable_a_take_stays_collectable_and_is_done_once_it_is_back(
    simulator, user, settings, s3, moto_server
):
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    use_s3(settings, f"http://127.0.0.1:{closed_port()}", s3.name)

    left_to_collect_later(project, take, "Could not store")

    assert take.status == Take.Status.RUNNING and not take.video  # not done without its file
    assert "Trying again" in take.note and take.next_look_at is not None

    use_s3(settings, moto_server.url, s3.name)
    Take.objects.filter(pk=take.pk).update(next_look_at=None)
    pipeline.run_here(project)
    take.refresh_from_db()
    assert take.status == Take.Status.DONE
    assert s3.read(take.video.name)[4:8] == b"ftyp"
    assert simulator.create_count == 1


def test_an_unexpected_error_is_tried_again_until_the_deadline_then_fails_with_it(
    simulator, user, settings, monkeypatch
):
    # Pillow refusing a picture as a decompression bomb where nothing expects it (in the
    # poster, whose frame no limit checks first): neither a media, a provider nor a
    # storage error. Pictures the app checks are refused as media errors before this.
    def bomb(*args, **kwargs):
        raise Image.DecompressionBombError("Image size (178956971 pixels) exceeds limit")

    monkeypatch.setattr(media, "make_poster", bomb)
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)

    left_to_collect_later(project, take, "Could not collect")

    assert take.status == Take.Status.RUNNING and not take.video
    assert "DecompressionBombError" in take.note and "Trying again" in take.note
    stored = settings.MEDIA_ROOT / "takes"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))

    # Once it has waited past the deadline, the next attempt fails it with the reason.
    long_ago = timezone.now() - collecting.collect_deadline() - timedelta(minutes=1)
    Take.objects.filter(pk=take.pk).update(generated_at=long_ago, next_look_at=None)
    take.refresh_from_db()
    pipeline.poll_many([take])
    take.refresh_from_db()
    assert take.status == Take.Status.FAILED
    assert take.error.startswith("Gave up collecting after")
    assert "DecompressionBombError" in take.error


def test_a_take_whose_worker_died_collecting_it_past_the_deadline_fails(user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CUT)])
    now = timezone.now()
    late, recent = (
        Take.objects.create(
            shot=shot,
            status=Take.Status.COLLECTING,
            remote_id=f"cgt-{shot.pk}",
            worker="a-host-long-gone:1",
            heartbeat_at=now - timedelta(hours=2),
            generated_at=generated,
        )
        for shot, generated in zip(
            project.shots.in_order(),
            (
                now - collecting.collect_deadline() - timedelta(minutes=1),
                now - timedelta(minutes=5),
            ),
            strict=True,
        )
    )

    pipeline.recover()

    late.refresh_from_db()
    recent.refresh_from_db()
    assert late.status == Take.Status.FAILED
    assert late.error.startswith("Gave up collecting after")
    assert "its worker stopped while collecting it" in late.error
    assert recent.status == Take.Status.RUNNING  # within the deadline: read and collected again
