"""Prepared bridges: what a seamless export encodes of a take, encoded once, when it arrives.

A continue's clip is copied into the cut but for its start: the frames after the one it
shares with the shot before, up to its next keyframe, are encoded again (media.smart).
Those frames are the same in every export of that take at that trim, so the worker
encodes them as soon as the take is collected or its trim moves, and keeps them in media
storage, where the worker rendering an export (on any machine) finds them. An export
that finds none encodes them itself and keeps them for the next.

Bridges are named by a digest of what they were made from (media.bridges), so one that
no longer fits is never used, only left to age: prune() removes those not written for
KEEP, and at worst an export encodes one again.
"""

import logging
from datetime import timedelta

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from .. import cut, media
from ..files import local_copy, storage_errors
from ..models import Opening
from .collecting import learn_frames

log = logging.getLogger(__name__)

FOLDER = "bridges"
KEEP = timedelta(days=30)
PRUNE_EVERY = 3600  # seconds, across the workers sharing the cache


class StoredBridges:
    """media.Bridges in media storage. A storage that fails is a miss, never an error:
    the export then encodes what it needs."""

    def __init__(self, storage=None):
        self.storage = storage or default_storage

    def get(self, key):
        try:
            with self.storage.open(self._name(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except storage_errors() as error:
            log.warning("bridge %s: could not read it (%s); encoding it instead", key, error)
            return None

    def put(self, key, data):
        name = self._name(key)
        try:
            if not self.storage.exists(name):
                self.storage.save(name, ContentFile(data))
        except storage_errors() as error:
            log.warning("bridge %s: could not keep it (%s)", key, error)

    @staticmethod
    def _name(key):
        return f"{FOLDER}/{key}.bridge"


def prepare(take):
    """Encode and keep what a seamless export will encode of `take` at its shot's trim;
    returns the frames encoded (0 when they were kept already, or none need it)."""
    entry = cut.take_entry(take.shot, take)
    whole = entry["first"] == 0 and entry["last"] is None
    if not take.video or (whole and entry["joins"] != Opening.CONTINUE):
        return 0  # a whole clip that cuts in is copied as it is: nothing to fetch
    try:
        with local_copy(take.video, ".mp4") as path:
            info = media.probe(path)
            learn_frames(take, info)
            clip = cut.Clip(entry, path, None, info.frames, info.fps)
            return media.prepare(cut.pieces([clip]), StoredBridges())
    except (media.MediaError, *storage_errors()) as error:
        # The export will meet the same problem and say so where the user sees it.
        log.warning("take %s: could not prepare its bridges (%s)", take.pk, error)
        return 0


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
    return removed
