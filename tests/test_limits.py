"""A provider's limits hold across every worker and process at once."""

import json
import signal
import subprocess
import sys
import time

import pytest

from projects.simulator import Simulator
from tests.live import ROOT, Deployment

pytestmark = pytest.mark.timeout(240)


def cuts(tmp_path, title, count):
    """A storyboard file of `count` cuts."""
    path = tmp_path / f"{title}.json"
    shots = [{"prompt": f"{title} {n}", "duration": 4, "opening": "cut"} for n in range(count)]
    path.write_text(
        json.dumps({"title": title, "settings": {"resolution": "480p"}, "shots": shots})
    )
    return path


def most_at_once(intervals):
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_four_workers_on_two_projects_keep_to_two_tasks_at_once(
    tmp_path, small_clips, live_template
):
    with Simulator(port=0, delay=1.0, small=small_clips) as simulator:
        # The simulator refuses a third task with 429, as the gateway would.
        simulator.set_limits("ark", concurrency=2)
        app = Deployment(
            tmp_path, simulator, live_template, Q_WORKERS="4", SEEDANCE_CONCURRENCY="2"
        )
        try:
            app.import_and_render(*(cuts(tmp_path, title, 3) for title in ("Harbour", "Market")))
            with open(tmp_path / "workers.log", "w") as log:
                worker = app.worker(log)
                deadline = time.monotonic() + 120
                while any(status != "done" for status, _ in app.takes()):
                    assert time.monotonic() < deadline, app.takes()
                    time.sleep(0.2)
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
            attempts = app.database.query("SELECT DISTINCT attempts FROM projects_take")
        finally:
            app.database.drop()
        tasks = simulator.engine.tasks()
    assert simulator.create_count == 6
    assert most_at_once([(t.created_at, t.updated_at) for t in tasks]) == 2
    assert attempts == [(1,)]  # never a 429: every create went through first time


RACERS = 4

# Each racer starts Django, connects, says it is ready and waits for every other: then they
# all call at once, for a second (thousands of calls between them, for 25 to be let through).
ADMIT = f"""
import os, pathlib, time
from django.db import connection
from projects import limits
connection.ensure_connection()
race = pathlib.Path(os.environ["RACE"])
(race / str(os.getpid())).touch()
deadline = time.monotonic() + 60
while len(list(race.iterdir())) < {RACERS} and time.monotonic() < deadline:
    time.sleep(0.005)
if len(list(race.iterdir())) < {RACERS}:
    raise SystemExit("the other racers never came")
t = time.monotonic(); n = 0
while time.monotonic() - t < 1:
    n += not limits.admit_call()
print(n)
"""


@pytest.mark.parametrize("limit", ["SEEDANCE_RPM", "SEEDANCE_DAILY"])
def test_the_request_rate_and_the_daily_quota_hold_across_processes(tmp_path, live_template, limit):
    race = tmp_path / "race"
    race.mkdir()
    with Simulator(port=0) as simulator:
        app = Deployment(tmp_path, simulator, live_template, **{limit: "25"})
        try:
            racers = [
                subprocess.Popen(
                    [sys.executable, "manage.py", "shell", "-c", ADMIT],
                    cwd=ROOT,
                    env={**app.env, "RACE": str(race)},
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(RACERS)
            ]
            said = [racer.communicate(timeout=90)[0] for racer in racers]
        finally:
            app.database.drop()
    assert [racer.returncode for racer in racers] == [0] * RACERS, said
    admitted = [int(out.split()[-1]) for out in said]
    assert sum(admitted) == 25, admitted
