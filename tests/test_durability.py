"""A chain survives its worker being SIGKILLed at random moments, paying for each take once.

Everything is real: `manage.py qcluster` processes killed with SIGKILL (their workers
too), the suite's database and broker, and the simulator counting creates.
"""

import json
import os
import random
import signal
import time

import pytest

from projects.simulator import Simulator
from tests.live import Deployment

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


def kill(process):
    """SIGKILL the worker and every process it forked: no chance to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_chain_survives_sigkills_with_exactly_one_create_per_take(
    tmp_path, small_clips, live_template
):
    seed = int(os.environ.get("KILL_SEED", time.time()))
    rng = random.Random(seed)
    with Simulator(port=0, delay=1.5, small=small_clips) as simulator:
        app = Deployment(tmp_path, simulator, live_template, PIPELINE_LEASE_SECONDS="6")
        try:
            storyboard = tmp_path / "storyboard.json"
            storyboard.write_text(json.dumps(STORYBOARD))
            app.import_and_render(storyboard)

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
                    time.sleep(0.2)
                    takes = app.takes()
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        finally:
            app.database.drop()

        context = f"killed after {kills} s (KILL_SEED={seed})"
        assert len(takes) == 3, context
        assert simulator.create_count == 3, context
        assert len({remote_id for _, remote_id in takes}) == 3, context
