"""A chain survives its worker being SIGKILLed at random moments, paying for each take once.

Everything is real: `manage.py qcluster` processes killed with SIGKILL (their workers
too), the suite's database and broker, and the simulator counting creates.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from projects.simulator import Simulator
from tests.live import ROOT, _Database

pytestmark = pytest.mark.timeout(300)

STORYBOARD = {
    "title": "Killed and resumed",
    "settings": {"resolution": "480p", "ratio": "16:9"},
    "shots": [
        {"prompt": "A lighthouse at dusk", "duration": 4},
        {"prompt": "The beam sweeps the sea", "duration": 4},
        {"prompt": "A ship turns toward it", "duration": 4},
    ],
}
STATUSES = (
    "from projects.models import Take; import json; "
    "print(json.dumps(list(Take.objects.order_by('shot__position')"
    ".values_list('status', 'remote_id'))))"
)


class Deployment:
    """The app's processes against one database, one broker and a simulator."""

    def __init__(self, tmp_path, simulator):
        self.database = _Database(tmp_path)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "SEEDANCE_BASE_URL": f"{simulator.url}/api/v3",
            "SEEDANCE_API_KEY": "test-key",
            "SEEDANCE_POLL_INTERVAL": "0.2",
            "PIPELINE_LEASE_SECONDS": "6",
            "Q_WORKERS": "2",
        }
        self.env.pop("SEEDANCE_PRESET", None)

    def manage(self, *args):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def worker(self, log):
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def takes(self):
        return json.loads(self.manage("shell", "-c", STATUSES).strip().splitlines()[-1])


def kill(process):
    """SIGKILL the worker and every process it forked: no chance to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_chain_survives_sigkills_with_exactly_one_create_per_take(tmp_path):
    seed = int(os.environ.get("KILL_SEED", time.time()))
    rng = random.Random(seed)
    with Simulator(port=0, delay=1.5) as simulator:
        app = Deployment(tmp_path, simulator)
        try:
            app.manage("migrate", "--verbosity", "0")
            app.manage("shell", "-c", "from tests.factories import make_user; make_user('ada')")
            storyboard = tmp_path / "storyboard.json"
            storyboard.write_text(json.dumps(STORYBOARD))
            project = app.manage("storyboard", "import", str(storyboard), "--owner", "ada")
            app.manage("storyboard", "render", project.strip().splitlines()[-1])

            with open(tmp_path / "workers.log", "w") as log:
                kills = []
                for _ in range(4):
                    worker = app.worker(log)
                    moment = rng.uniform(0.3, 3.0)
                    time.sleep(moment)
                    kill(worker)
                    kills.append(round(moment, 2))
                worker = app.worker(log)
                deadline = time.monotonic() + 120
                takes = app.takes()
                while any(status != "done" for status, _ in takes):
                    assert time.monotonic() < deadline, f"stuck at {takes} (seed {seed})"
                    assert not any(status == "failed" for status, _ in takes), takes
                    time.sleep(1)
                    takes = app.takes()
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        finally:
            app.database.drop()

        context = f"killed after {kills} s (KILL_SEED={seed})"
        assert len(takes) == 3, context
        assert simulator.create_count == 3, context
        assert len({remote_id for _, remote_id in takes}) == 3, context
