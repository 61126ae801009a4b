"""Who encodes a prepared bridge (pipeline.bridging): one row per bridge key, across
processes and machines, so that a bridge is encoded once however many exports and
preparations ask for it at the same time."""

from django.db import models


class Bridge(models.Model):
    """A claim on encoding the bridge named `key` (media.bridges.bridge_key), and whether
    it is in media storage. A claim whose worker died, or went silent for a lease, may be
    taken over (pipeline.leases)."""

    key = models.CharField(max_length=40, primary_key=True)
    worker = models.CharField(max_length=100)
    heartbeat_at = models.DateTimeField()
    stored = models.BooleanField(default=False)

    def __str__(self):
        return f"bridge {self.key[:8]} ({'stored' if self.stored else self.worker})"
