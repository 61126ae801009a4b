"""`worker`: the django-q2 cluster that runs the pipeline's tasks, and its clock."""

from django.core.management.base import BaseCommand
from django_q.cluster import Cluster

from projects.logs import secret_paths
from projects.worker import Clock


class Command(BaseCommand):
    help = (
        "Run the pipeline's worker: a django-q2 cluster (Q_WORKERS processes) and the clock "
        "that hands it task reads and retries when they fall due. Run one or more per "
        "deployment; they share the work through the database and the broker."
    )

    def handle(self, *args, **options):
        # Every log line is redacted by the URLs' secret routes (projects.logs), which
        # imports the URLconf and so every view: once here, before the cluster forks its
        # processes, rather than once in each of them at its first log line (about a
        # second of CPU each).
        secret_paths()
        cluster = Cluster()  # its SIGINT and SIGTERM handlers stop it
        cluster.start()
        Clock().run(lambda: cluster.sentinel.is_alive() and cluster.stop_event is not None)
