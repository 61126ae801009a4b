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


def cuts(tmp_path, title, count, first_delay=None):
    """A storyboard file of `count` cuts; with `first_delay`, its first takes the simulator
    that many seconds."""
    path = tmp_path / f"{title}.json"
    shots = [{"prompt": f"{title} {n}", "duration": 4, "opening": "cut"} for n in range(count)]
    if first_delay is not None:
        shots[0]["prompt"] += f" [sim:delay={first_delay}]"
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
REFUSED = 10  # calls refused to each racer before it stops, once every racer is calling

# One process starts Django (a second or two of CPU each time) and forks the racers: each its
# own process, with its own connection to the database, as workers are. Each connects, says
# it is ready and waits for every other: then they all call at once. A racer stops once
# every other racer has made a call and it has been refused REFUSED times: every racer
# calls while the others do, and sees the limit reached (dozens of calls between them, for
# 25 to be let through).
ADMIT = f"""
import json, os, pathlib, sys, time, traceback
from django.db import connection, connections
from projects import limits
connections.close_all()  # nothing open is shared: each racer opens its own
race = pathlib.Path(os.environ["RACE"])

def arrived(what):
    return len(list(race.glob(what + "-*")))

def race_once():
    connection.ensure_connection()
    (race / f"ready-{{os.getpid()}}").touch()
    deadline = time.monotonic() + 60
    while arrived("ready") < {RACERS} and time.monotonic() < deadline:
        time.sleep(0.005)
    if arrived("ready") < {RACERS}:
        raise SystemExit("the other racers never came")
    admitted = refused = 0
    while refused < {REFUSED} or arrived("calling") < {RACERS}:
        if limits.admit_call():
            refused += 1
        else:
            admitted += 1
        if admitted + refused == 1:
            (race / f"calling-{{os.getpid()}}").touch()
    (race / f"admitted-{{os.getpid()}}").write_text(str(admitted))

racers = []
for _ in range({RACERS}):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            race_once()
            code = 0
        except SystemExit as end:
            print(end.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    racers.append(pid)
ended = {{}}
for pid in racers:
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    said = race / f"admitted-{{pid}}"
    ended[pid] = [code, int(said.read_text()) if said.exists() else None]
print(json.dumps(ended))
"""


@pytest.mark.parametrize("limit", ["SEEDANCE_RPM", "SEEDANCE_DAILY"])
def test_the_request_rate_and_the_daily_quota_hold_across_processes(tmp_path, live_template, limit):
    race = tmp_path / "race"
    race.mkdir()
    with Simulator(port=0) as simulator:
        app = Deployment(tmp_path, simulator, live_template, **{limit: "25"})
        try:
            done = subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", ADMIT],
                cwd=ROOT,
                env={**app.env, "RACE": str(race)},
                capture_output=True,
                text=True,
                timeout=90,
            )
        finally:
            app.database.drop()
    assert done.returncode == 0, done.stdout + done.stderr
    racers = json.loads(done.stdout.splitlines()[-1])
    assert len(racers) == RACERS, racers
    assert [code for code, _ in racers.values()] == [0] * RACERS, done.stderr
    admitted = [count for _, count in racers.values()]
    assert sum(admitted) == 25, admitted
