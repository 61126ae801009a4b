"""Prepared bridges: what a seamless export encodes of a take, encoded once, when it arrives.

A continue's clip is copied into the cut but for its start: the frames after the one it
shares with the shot before, up to its next keyframe, are encoded again (media.smart).
Those frames are the same in every export of that take at that trim, so they are encoded
as soon as the take is done (the worker's collect, `storyboard render --wait`, a pick in
the take picker) or its trim moves, and kept in media storage, where the worker rendering
an export (on any machine) finds them. Takes done before bridges existed are prepared by
the sweep (prepare_missing), a few at a time, or by the first export that needs them.

Each bridge is encoded once: whoever encodes it first claims its row (models.Bridge);
anyone else asking for it meanwhile (an export racing the preparation) waits for it to be
stored, for up to a lease, saying so, and takes the claim over only if its worker died.

Bridges are named by a digest of what they were made from (media.bridges), so one that
no longer fits is never used, only left to age: prune() removes those not written for
KEEP, and at worst an export encodes one again.
"""

import logging
import time
from datetime import timedelta

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import cut, media
from ..files import local_copy, storage_errors
from ..models import Bridge, Opening, Take
from .collecting import learn_frames
from .leases import beat, expired_before, me, orphaned

log = logging.getLogger(__name__)

FOLDER = "bridges"
KEEP = timedelta(days=30)
PRUNE_EVERY = 3600  # seconds, across the workers sharing the cache
LOOK_EVERY = 0.25  # seconds between two looks for a bridge another worker encodes
MISSING_PER_SWEEP = 5  # takes done before bridges existed, prepared per sweep
WAITING = "Waiting for a bridge another worker is encoding"


class StoredBridges:
    """media.Bridges in media storage, each encoded once. A storage that fails is a miss,
    never an error: the export then encodes what it needs.

    get() misses only for the one caller that then holds the bridge's claim, and must
    encode it and put() it (or release() what it held when it fails). A bridge claimed by
    a live worker is waited for; `waiting(True)` is called when a wait starts, and
    `waiting(False)` when it ends, so that an export's card can say so."""

    def __init__(self, storage=None, waiting=None):
        self.storage = storage or default_storage
        self.waiting = waiting or (lambda _: None)
        self.held = set()

    def get(self, key):
        data = self._read(key)
        waited = False
        try:
            while data is None and not self._claim(key):
                if not waited:
                    log.info("bridge %s: another worker encodes it; waiting", key)
                    waited = True
                    self.waiting(True)
                time.sleep(LOOK_EVERY)
                self.waiting(True)
                data = self._read(key)
        finally:
            if waited:
                self.waiting(False)
        return data

    def put(self, key, data):
        name = self._name(key)
        try:
            if self.storage.exists(name):
                self.storage.delete(name)  # a damaged one, read and replaced
            self.storage.save(name, ContentFile(data))
        except storage_errors() as error:
            log.warning("bridge %s: could not keep it (%s)", key, error)
            self.release()
            return
        Bridge.objects.filter(key=key).update(stored=True, **beat())
        self.held.discard(key)

    def release(self):
        """Give up the claims held and not stored (encoding failed): others may take them."""
        if self.held:
            Bridge.objects.filter(key__in=self.held, worker=me(), stored=False).delete()
            self.held.clear()

    def _read(self, key):
        try:
            with self.storage.open(self._name(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except storage_errors() as error:
            log.warning("bridge %s: could not read it (%s); encoding it instead", key, error)
            return None

    def _claim(self, key):
        """Whether this worker now holds `key`'s claim: made it, or took it over from a
        dead or silent worker, or from a bridge stored once and since gone (pruned)."""
        try:
            with transaction.atomic():
                Bridge.objects.create(key=key, **beat())
        except IntegrityError:
            row = Bridge.objects.filter(key=key).first()
            if row is None:
                return self._claim(key)  # released meanwhile
            if not (row.stored or orphaned(row)):
                return False
            taken = Bridge.objects.filter(
                key=key, worker=row.worker, heartbeat_at=row.heartbeat_at, stored=row.stored
            ).update(stored=False, **beat())
            if not taken:
                return False
        self.held.add(key)
        return True

    @staticmethod
    def _name(key):
        return f"{FOLDER}/{key}.bridge"


def made_for(entry):
    """What a take's bridges depend on besides its clip: how it joins, and its trim."""
    return f"{entry['joins']}:{entry['first']}:{entry['last']}"


def prepare(take):
    """Encode and keep what a seamless export will encode of `take` at its shot's trim;
    returns the frames encoded (0 when they were kept already, or none need it)."""
    entry = cut.take_entry(take.shot, take)
    whole = entry["first"] == 0 and entry["last"] is None
    if not take.video:
        return 0
    if whole and entry["joins"] != Opening.CONTINUE:
        _made(take, entry)  # a whole clip that cuts in is copied as it is: nothing to fetch
        return 0
    store = StoredBridges()
    try:
        with local_copy(take.video, ".mp4") as path:
            info = media.probe(path)
            learn_frames(take, info)
            clip = cut.Clip(entry, path, None, info.frames, info.fps)
            encoded = media.prepare(cut.pieces([clip]), store)
    except (media.MediaError, *storage_errors()) as error:
        # The export will meet the same problem and say so where the user sees it.
        log.warning("take %s: could not prepare its bridges (%s)", take.pk, error)
        return 0
    finally:
        store.release()
    _made(take, entry)
    return encoded


def prepared(entries):
    """Note that a seamless export kept the bridges of its entries' takes: the sweep need
    not prepare them again."""
    for entry in entries:
        Take.objects.filter(pk=entry["take"], bridged="").update(bridged=made_for(entry))


def prepare_missing(limit=MISSING_PER_SWEEP):
    """Prepare some of the cut's takes done before bridges existed; returns how many."""
    selected = Q(shot__selected_take=F("pk")) | Q(shot__selected_final=F("pk"))
    missing = Take.objects.filter(selected, status=Take.Status.DONE, bridged="").exclude(video="")
    done = 0
    for take in missing.select_related("shot__project").order_by("pk")[:limit]:
        prepare(take)
        done += 1
    return done


def _made(take, entry):
    take.bridged = made_for(entry)
    Take.objects.filter(pk=take.pk).update(bridged=take.bridged)


def prune(now=None):
    """Remove the bridges not written for KEEP, at most once per PRUNE_EVERY; returns how
    many went."""
    if not cache.add("storyboard:bridges-pruned", True, PRUNE_EVERY):
        return 0
    storage, now = default_storage, now or timezone.now()
    removed = 0
    try:
        _, names = storage.listdir(FOLDER)
    except (FileNotFoundError, NotImplementedError):
        return 0
    except storage_errors() as error:
        log.warning("could not list the bridges to prune (%s)", error)
        return 0
    for name in names:
        try:
            if storage.get_modified_time(f"{FOLDER}/{name}") < now - KEEP:
                storage.delete(f"{FOLDER}/{name}")
                removed += 1
        except storage_errors() as error:
            log.warning("bridge %s: could not prune it (%s)", name, error)
    Bridge.objects.filter(heartbeat_at__lt=expired_before() - KEEP).delete()
    return removed
