"""The worker, run in the test's own process: its clock hands out what falls due and each
task runs at once, and so does what views put on the broker, as a cluster would run them.

The test's database is the worker's, so a test can watch every row as it changes.
"""

import time

from django.utils.module_loading import import_string
from django_q.signing import SignedPackage

from projects import pipeline
from projects.models import Take
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

    def generate(self, project):
        """Generate a project's drafts, as Generate does, until no take is at work; its
        takes, in order."""
        pipeline.queue_takes(project)
        self.run("projects.tasks.start", project.pk)
        takes = Take.objects.filter(shot__project=project)
        self.until(lambda: not takes.working().exists(), what="every take to settle")
        return list(takes.order_by("shot__position", "number"))

    def until(self, done, timeout=60, what="the worker to get there"):
        """Work until `done()` is true."""

        def worked():
            self.drain()
            self.clock.tick()
            return done()

        wait_until(worked, timeout, what)


def wait_until(done, timeout=60, what="it"):
    """Wait until `done()` is true; fails after `timeout` seconds (a guard, not a measure:
    on time, a test waits as long as what it waits for takes)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)
