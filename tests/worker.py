"""The worker, run in the test's own process: its clock hands out what falls due and each
task runs at once, and so does what views put on the broker, as a cluster would run them.

The test's database is the worker's, so a test can watch every row as it changes.
"""

import time

from django.utils.module_loading import import_string
from django_q.signing import SignedPackage

from projects.worker import Clock


class InlineWorker:
    def __init__(self, broker):
        self.broker = broker
        self.clock = Clock(enqueue=self.run)

    def run(self, func, *args, **kwargs):
        import_string(func)(*args, **kwargs)

    def drain(self):
        """Run what views queued on the broker, in order."""
        while self.broker.queue_size():
            for ack, package in self.broker.dequeue() or []:
                task = SignedPackage.loads(package)
                self.broker.acknowledge(ack)
                self.run(task["func"], *task["args"], **task["kwargs"])

    def until(self, done, timeout=60, what="the worker to get there"):
        """Work until `done()` is true; fails after `timeout` seconds (a guard, not a
        measure: on time, a test waits as long as the work takes)."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            nap = self.clock.tick()
            if done():
                return
            assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
            time.sleep(min(nap, 0.05))
