"""Whole renders on real `manage.py worker` processes, through the gateway faults that cost
money: every shot is paid for once, and no paid video is destroyed.

Real parts throughout: worker processes on the suite's database and broker, the app's
commands, and the simulator over loopback counting creates.
"""

import contextlib
import itertools
import json
import os
import signal
import sqlite3
from urllib.parse import urlsplit, urlunsplit

import pytest

from projects.simulator import Simulator
from tests.live import Deployment
from tests.test_reading import lists
from tests.worker import wait_until

pytestmark = pytest.mark.timeout(300)

LEASE = "6"  # provider calls time out after 2 s
FIND = "40"  # an uncertain create is looked for this long


class Render:
    """One deployment (its database, a worker process) and a simulator, for a module."""

    def __init__(self, tmp_path, simulator, template, **env):
        self.tmp_path = tmp_path
        self.simulator = simulator
        timing = {"PIPELINE_LEASE_SECONDS": LEASE, "PIPELINE_FIND_SECONDS": FIND}
        self.app = Deployment(tmp_path, simulator, template, **timing, **env)
        self.log_path = tmp_path / "worker.log"
        self.log = open(self.log_path, "w")
        self.worker = self.app.worker(self.log)

    def close(self):
        self.worker.send_signal(signal.SIGTERM)
        self.worker.wait(timeout=30)
        self.log.close()
        self.app.database.drop()

    def start(self, title, shots):
        """Import a storyboard and hand its drafts to the worker, as `storyboard import` and
        `storyboard render` do (in one process: each start of one is slow), for `ada`, made
        (without a password) the first time; its id."""
        path = self.tmp_path / f"{title}.json"
        storyboard = {"title": title, "settings": {"resolution": "480p"}, "shots": shots}
        path.write_text(json.dumps(storyboard))
        return int(
            self.shell(
                "from django.contrib.auth import get_user_model\n"
                "from django.core.management import call_command\n"
                "from projects.models import Project\n"
                "from tests.factories import make_user\n"
                "if not get_user_model().objects.filter(username='ada').exists():\n"
                "    make_user('ada', password=None)\n"
                f"call_command('storyboard', 'import', {str(path)!r}, '--owner', 'ada')\n"
                "project = Project.objects.latest('pk')\n"
                "call_command('storyboard', 'render', str(project.pk))\n"
                "print(project.pk)"
            )
        )

    def shell(self, code):
        """Run `code` in the app's shell; the last line it printed."""
        return self.app.manage("shell", "-c", code).strip().splitlines()[-1]

    def execute(self, *statements):
        """Run SQL statements on the app's database, in one transaction; their row counts."""
        database = self.app.database
        if database.name is None:
            with contextlib.closing(sqlite3.connect(database.path, timeout=30)) as db, db:
                return [db.execute(sql).rowcount for sql in statements]
        import psycopg

        with psycopg.connect(database.url) as db:
            return [db.execute(sql).rowcount for sql in statements]

    def takes(self, project):
        """(status, remote id, note) of the project's takes, in order."""
        return self.app.database.query(
            "SELECT take.status, take.remote_id, take.note || take.error FROM projects_take take"
            " JOIN projects_shot shot ON shot.id = take.shot_id"
            f" WHERE shot.project_id = {project} ORDER BY shot.position, take.number"
        )

    def until_done(self, project, count):
        def done():
            takes = self.takes(project)
            assert not any(status in ("failed", "cancelled") for status, *_ in takes), takes
            return len(takes) == count and all(status == "done" for status, *_ in takes)

        wait_until(done, 150, f"project {project} to be done:\n{self.log_path.read_text()[-3000:]}")
        return self.takes(project)


@pytest.fixture(scope="module")
def ark(tmp_path_factory, live_template):
    """The native API of the simulator and one worker process, for the tests below."""
    with Simulator(port=0, delay=0.5, small=True) as simulator:
        render = Render(tmp_path_factory.mktemp("ark"), simulator, live_template)
        try:
            yield render
        finally:
            render.close()


@pytest.fixture
def sim(ark):
    ark.simulator.reset()
    return ark.simulator


@pytest.fixture
def broker_of_its_own():
    """Settings for a deployment beside the module's `ark`: under REDIS_URL, a Redis
    database of its own, so that neither worker takes the other's tasks, which its
    database does not have (each such task then waits for its lease to run out before
    the right worker picks the take up again). Emptied afterwards."""
    from django.conf import settings

    if not settings.REDIS_URL:
        yield {}  # the database is the broker: the deployment's own
        return
    import redis

    # The suite's database moved past those of its processes. The deployment's settings add
    # the xdist worker's number to it, as this process's did to the suite's (REDIS_URL).
    suite, ours = urlsplit(os.environ["REDIS_URL"]), urlsplit(settings.REDIS_URL)
    yield {"REDIS_URL": urlunsplit(suite._replace(path=f"/{int(suite.path[1:] or 0) + 8}"))}
    used = urlunsplit(ours._replace(path=f"/{int(ours.path[1:] or 0) + 8}"))
    with redis.Redis.from_url(used) as queue:
        queue.flushdb()


def chain(*prompts):
    return [{"prompt": prompt, "duration": 4} for prompt in prompts]


def test_a_504_on_the_first_create_of_three_shots_costs_three_creates(ark, sim):
    sim.add_fault("create", {"status": 504, "after": True}, count=1)

    project = ark.start("Lighthouse", chain("A lighthouse", "Its beam", "A ship turns"))
    takes = ark.until_done(project, 3)

    assert sim.create_count == 3
    assert len({remote_id for _, remote_id, _ in takes}) == 3
    assert "found among the provider's" in takes[0][2]


def test_a_cancel_as_the_task_finishes_collects_the_clip_and_deletes_nothing(ark, sim):
    # The worker's first read fails and is put off ten minutes: the task finishes unread.
    sim.add_fault("get", {"status": 503, "retry_after": 600}, count=1)
    project = ark.start("Harbour", chain("A harbour at dawn"))
    wait_until(lambda: sim.engine.tasks() and sim.engine.tasks()[0].status == "succeeded")
    assert ark.takes(project)[0][0] == "queued"

    # What the Cancel button does, as its view does it.
    cancelled = ark.shell(
        "from django_q.tasks import async_task; from projects import pipeline; "
        f"from projects.models import Project; p = Project.objects.get(pk={project}); "
        "async_task('projects.tasks.cancel', [t.pk for t in pipeline.cancel(p)]); print('sent')",
    )
    assert cancelled == "sent"
    ((status, remote_id, _),) = ark.until_done(project, 1)

    assert [r for r in sim.requests if r["method"] == "DELETE"] == []
    assert sim.engine.get(remote_id).status == "succeeded"  # not deleted


def test_a_prompt_edited_while_a_create_is_uncertain_is_still_found_by_what_was_sent(ark, sim):
    sim.add_fault("create", {"lose_answer": True}, count=1)
    # Lists leave the task out until the edit has landed: on a busy machine a lag of some
    # seconds ran out before the edit came, and the take was found unedited.
    sim.add_fault("list", {"lag": 3600})
    project = ark.start("Market", chain("A market at noon"))
    wait_until(lambda: sim.create_count == 1)  # made; its answer lost
    wait_until(lambda: lists(sim))

    # The shot and the project's settings change, on the condition that its take follows
    # no task yet: the edit lands while the task is looked for.
    edited = ark.execute(
        "UPDATE projects_shot SET prompt = 'A market in the rain', duration = 6"
        f" WHERE project_id = {project} AND id IN"
        " (SELECT shot_id FROM projects_take WHERE remote_id = '')",
        f"UPDATE projects_project SET resolution = '720p' WHERE id = {project}",
    )
    sim.clear_faults()  # the next look finds it
    ((_, remote_id, note),) = ark.until_done(project, 1)

    assert edited == [1, 1]
    assert sim.create_count == 1 and "found among the provider's" in note
    task = sim.engine.get(remote_id)
    assert (task.prompt, task.duration, task.resolution) == ("A market at noon", 4, "480p")


def test_two_parallel_chains_on_apiyi_without_a_list_route_cost_four_creates(
    tmp_path, live_template, broker_of_its_own
):
    # Slow enough that the chains' takes are at the provider at once, and read together
    # where the app believes it can list: they overlap for longer than a read's interval
    # (asserted below, since nothing would be proven without it). The chains' first
    # shots take 4 s: on a busy machine the worker's second create came 1.9 s after its
    # first, after a 1.5 s task had ended, and no two tasks overlapped at all.
    poll = 0.5
    with Simulator(port=0, delay=1.5, small=True) as simulator:
        simulator.add_fault("list", {"no_route": True})
        render = Render(
            tmp_path,
            simulator,
            live_template,
            **broker_of_its_own,
            SEEDANCE_PRESET="apiyi",
            SEEDANCE_BASE_URL=f"{simulator.url}/seedance/api/v3",
            SEEDANCE_POLL_INTERVAL=str(poll),
        )
        try:
            shots = chain("Harbour [sim:delay=4]", "Its boats")
            shots += [
                {"prompt": "Market [sim:delay=4]", "duration": 4, "opening": "cut"},
                *chain("Its stalls"),
            ]
            project = render.start("Two chains", shots)
            takes = render.until_done(project, 4)
        finally:
            render.close()

    assert simulator.create_count == 4
    assert len({remote_id for _, remote_id, _ in takes}) == 4
    assert lists(simulator) == []
    assert not any(note for *_, note in takes)  # no read ever failed
    tasks = simulator.engine.tasks()
    together = max(
        min(a.updated_at, b.updated_at) - max(a.created_at, b.created_at)
        for a, b in itertools.combinations(tasks, 2)
    )
    assert together >= poll, [(t.created_at, t.updated_at) for t in tasks]
