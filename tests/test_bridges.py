"""Prepared bridges: what a smart join encodes of a clip alone, kept and copied the next time."""

import logging
import os
import time
from pathlib import Path

import av
import pytest
from django.core.files.storage import default_storage

from projects import cut, media, pipeline, tasks
from projects.media import Piece, Transition
from projects.media.bridges import bridge_key, pack, unpack
from projects.models import Export, Opening
from tests.clips import make_clip
from tests.factories import make_project, make_takes

RED, GREEN, BLUE = (170, 40, 40), (40, 150, 60), (40, 70, 170)
# As a provider's clips: B-frames, a keyframe every second, sound.
CLIP = {"width": 480, "height": 272, "seconds": 3, "bframes": True, "keyframe_interval": 24}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return [
        make_clip(folder / f"{n}.mp4", color=color, audio=True, **CLIP)
        for n, color in enumerate((RED, GREEN, BLUE))
    ]


def chain(clips):
    return [Piece(clips[0])] + [Piece(path, joins="continue") for path in clips[1:]]


def pictures(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(frame.to_ndarray()) for frame in container.decode(video=0)]


def test_a_second_join_copies_what_the_first_encoded_and_shows_the_same_frames(tmp_path, clips):
    store = media.Folder(tmp_path / "bridges")
    fresh = media.join(chain(clips), tmp_path / "fresh.mp4")
    first = media.join(chain(clips), tmp_path / "first.mp4", bridges=store)
    second = media.join(chain(clips), tmp_path / "second.mp4", bridges=store)

    # Each continue's first GOP after its dropped frame: 23 frames, encoded once.
    assert fresh.mode == first.mode == second.mode == "smart"
    assert fresh.reencoded == first.reencoded == second.reencoded == 2 * 23
    assert (first.prepared, second.prepared) == (0, 46)
    assert len(list((tmp_path / "bridges").glob("*/*.bridge"))) == 2
    assert pictures(tmp_path / "second.mp4") == pictures(tmp_path / "fresh.mp4")
    # Copied bridges are the very packets a fresh join encodes: the files are the same.
    assert (tmp_path / "second.mp4").read_bytes() == (tmp_path / "fresh.mp4").read_bytes()
    assert second.frames == 3 * 72 - 2


def test_the_same_join_writes_the_same_bytes_every_time(tmp_path, clips):
    """A bridge is named by what it was made from, so encoding it must give one answer:
    x264 used to give another now and then (issue 18, 13)."""
    files = []
    for n in range(3):
        media.join(chain(clips), tmp_path / f"{n}.mp4")
        files.append((tmp_path / f"{n}.mp4").read_bytes())
    assert files[0] == files[1] == files[2]
    store = media.Folder(tmp_path / "bridges")
    media.prepare(chain(clips[:2]), store)
    (stored,) = (tmp_path / "bridges").glob("*/*.bridge")
    first = unpack(stored.read_bytes())[0].data
    # x264 states its settings in the first picture: one thread, on any machine.
    assert b" threads=1 " in first and b" mbtree=0 " in first


def test_prepare_encodes_each_continue_ahead_once(tmp_path, clips):
    store = media.Folder(tmp_path / "bridges")
    assert media.prepare(chain(clips), store) == 2 * 23
    assert media.prepare(chain(clips), store) == 0

    joined = media.join(chain(clips), tmp_path / "cut.mp4", bridges=store)

    assert joined.prepared == joined.reencoded == 46


def test_a_bridge_made_for_another_trim_or_a_transition_is_not_used(tmp_path, clips):
    store = media.Folder(tmp_path / "bridges")
    media.prepare([Piece(clips[1], first=5, joins="continue")], store)
    pieces = [
        Piece(clips[0]),
        Piece(clips[1], first=2, joins="continue"),
        Piece(clips[2], transition=Transition("crossfade", 6)),
    ]

    joined = media.join(pieces, tmp_path / "cut.mp4", bridges=store)

    # Green from frame 2 to 23 is encoded anew; the crossfade is never taken from a store.
    assert joined.prepared == 0 and joined.reencoded > 22
    again = media.join(pieces, tmp_path / "again.mp4", bridges=store)
    assert again.prepared == 22  # kept by the first: only the crossfade is encoded again
    assert pictures(tmp_path / "again.mp4") == pictures(tmp_path / "cut.mp4")


def test_a_damaged_bridge_is_encoded_again_and_replaced(tmp_path, clips):
    store = media.Folder(tmp_path / "bridges")
    media.prepare(chain(clips[:2]), store)
    (stored,) = (tmp_path / "bridges").glob("*/*.bridge")
    stored.write_bytes(b"SBBRIDGE1\n" + b"\x00" * 7)

    joined = media.join(chain(clips[:2]), tmp_path / "cut.mp4", bridges=store)

    assert joined.prepared == 0 and joined.frames == 2 * 72 - 1
    assert len(unpack(stored.read_bytes())) == 23
    media.join(chain(clips[:2]), tmp_path / "fresh.mp4")
    assert pictures(tmp_path / "cut.mp4") == pictures(tmp_path / "fresh.mp4")


def test_keys_depend_on_every_input():
    packets = [b"\x00\x00\x00\x02ab", b"\x00\x00\x00\x01c"]
    key = bridge_key(packets, 1, 20, b"format")
    assert key == bridge_key(list(packets), 1, 20, b"format")
    assert key != bridge_key(packets, 2, 20, b"format")
    assert key != bridge_key(packets, 1, 19, b"format")
    assert key != bridge_key(packets, 1, 20, b"other format")
    assert key != bridge_key([b"\x00\x00\x00\x02ab", b"\x00\x00\x00\x01d"], 1, 20, b"format")
    # Packet boundaries count, not only the bytes run together.
    assert key != bridge_key([b"\x00\x00\x00\x02ab\x00\x00\x00", b"\x01c"], 1, 20, b"format")


def test_a_folder_drops_the_least_recently_used_beyond_its_limit(tmp_path):
    store = media.Folder(tmp_path, limit=2500)
    store.put("00" * 10, b"x" * 1000)
    store.put("01" * 10, b"x" * 1000)
    an_hour_ago = time.time() - 3600
    for file in tmp_path.glob("*/*.bridge"):
        os.utime(file, (an_hour_ago, an_hour_ago))
    assert store.get("00" * 10) is not None  # used now: it outlives "01…"
    store.put("02" * 10, b"x" * 1000)
    assert store.get("00" * 10) is not None
    assert store.get("01" * 10) is None
    assert store.get("02" * 10) is not None


@pytest.mark.django_db
def test_the_worker_prepares_a_collected_continue_and_the_export_copies_it(
    user, broker, caplog, media_root
):
    project = make_project(user, shots=[("Dawn", Opening.CUT), ("Noon", Opening.CONTINUE)])
    first, second = make_takes(project)
    assert tasks.pipeline.prepare_bridges(first) == 0  # a cut's whole clip is copied

    tasks.prepare([second.pk])

    _, stored = default_storage.listdir("bridges")
    assert len(stored) == 1
    export = Export.objects.create(project=project, plan=cut.plan(project), seamless=True)
    with caplog.at_level(logging.INFO, logger="projects.pipeline.exporting"):
        pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE and export.mode == "smart"
    (line,) = [r.getMessage() for r in caplog.records if "frames encoded" in r.getMessage()]
    encoded = int(line.split(", ")[1].split()[0])
    assert encoded > 0 and line.endswith(f"({encoded} of them prepared before)")


@pytest.mark.django_db
def test_a_trim_queues_the_preparation_of_its_take_and_the_task_keeps_the_bridge(
    client_of, user, broker, media_root, django_capture_on_commit_callbacks
):
    from django.urls import reverse
    from django_q.signing import SignedPackage

    project = make_project(user, shots=[("Dawn", Opening.CUT)])
    (take,) = make_takes(project)
    trim = reverse("shot-trim", args=[project.pk, take.shot.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(trim, {"trim_in": 10, "trim_out": 60})

    ((_, package),) = broker.dequeue()
    task = SignedPackage.loads(package)
    assert (task["func"], task["args"]) == ("projects.tasks.prepare", ([take.pk],))
    tasks.prepare(*task["args"])
    # The clip is one GOP: frames 10 to 60 are encoded, once, and kept.
    _, stored = default_storage.listdir("bridges")
    assert len(stored) == 1
    take.refresh_from_db()
    assert tasks.pipeline.prepare_bridges(take) == 0


@pytest.mark.django_db
def test_bridges_not_written_for_a_month_are_pruned(media_root, settings):
    from django.core.cache import cache
    from django.utils import timezone

    from projects.pipeline import bridging

    store = bridging.StoredBridges()
    store.put("a" * 40, pack([]))
    cache.delete("storyboard:bridges-pruned")
    assert bridging.prune(now=timezone.now()) == 0
    assert store.get("a" * 40) is not None
    cache.delete("storyboard:bridges-pruned")
    assert bridging.prune(now=timezone.now() + bridging.KEEP * 1.1) == 1
    assert store.get("a" * 40) is None
