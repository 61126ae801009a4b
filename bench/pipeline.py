"""Pipeline overhead: the seams of a 10-shot chain, and 3 chains against their critical path.

    uv run python bench/pipeline.py [--delay 1.0] [--chain 10]

Runs the real app (`manage.py up`: uvicorn, the django-q2 worker, SQLite, the database
as broker) against a simulator in this process, whose clock says when each task
finished and when each create arrived. Prints:
- seam overhead: from the simulator finishing shot k to receiving shot k+1's create
  (target: median under 0.5 s);
- for a project of three independent chains, the wall time from the first create to
  the last take collected, against the critical path, the longest chain's provider
  time (target: within 10 %).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

import django  # noqa: E402

django.setup()

from projects.simulator import Simulator  # noqa: E402
from tests.live import LiveApp, free_port  # noqa: E402

TAKES = (
    "from projects.models import Take\n"
    "for t in Take.objects.filter(shot__project_id={}).order_by('shot__position'):\n"
    "    print(t.shot.number, t.status, t.remote_id, t.error, t.note)"
)


def last_finished(app, project):
    """When the project's last take was collected (a Unix time), or None before any was.

    Read straight from the database: a manage.py shell would take most of a second of
    the CPU the app is being measured on."""
    ((value,),) = app.database.query(
        "SELECT MAX(take.finished_at) FROM projects_take take"
        " JOIN projects_shot shot ON shot.id = take.shot_id"
        f" WHERE shot.project_id = {int(project)}"
    )
    if isinstance(value, str):  # SQLite keeps UTC times as text
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value and value.timestamp()


def run_project(app, simulator, title, chains, length, workdir):
    """Import and generate a project of `chains` chains of `length` shots; wait for it."""
    shots = [
        {
            "prompt": f"{title}: chain {c + 1}, shot {s + 1}",
            "duration": 4,
            "opening": "cut" if s == 0 else "continue",
        }
        for c in range(chains)
        for s in range(length)
    ]
    path = workdir / f"{title}.json"
    path.write_text(
        json.dumps({"title": title, "settings": {"resolution": "480p"}, "shots": shots})
    )
    project = app.manage("storyboard", "import", str(path), "--owner", "demo").split()[-1]
    simulator.reset()
    app.manage("storyboard", "render", project)
    total = chains * length
    deadline = time.monotonic() + 20 + total * 3 * simulator.delay
    while True:
        done = [t for t in simulator.engine.tasks() if t.status == "succeeded"]
        if len(done) == total:
            break
        if time.monotonic() > deadline:
            states = app.manage("shell", "-c", TAKES.format(project))
            raise SystemExit(f"{title}: only {len(done)} of {total} shots finished:\n{states}")
        time.sleep(0.2)
    # The last take is collected shortly after its task finished.
    while True:
        finished = last_finished(app, project)
        if finished and finished >= max(t.updated_at for t in done):
            break
        time.sleep(0.05)
    creates = sorted(
        (r for r in simulator.requests if r["method"] == "POST"), key=lambda r: r["at"]
    )
    tasks = {t.prompt: t for t in done}
    return creates, tasks, finished


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="simulator seconds per shot")
    parser.add_argument("--chain", type=int, default=10, help="shots in the seam chain")
    parser.add_argument(
        "--parallel-delay",
        type=float,
        default=5.0,
        help="simulator seconds a shot for the three chains (real shots take minutes)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    with Simulator(port=0, delay=args.delay) as simulator:
        port = free_port()
        app = LiveApp(
            workdir,
            env={
                "SEEDANCE_BASE_URL": f"{simulator.url}/api/v3",
                "SEEDANCE_API_KEY": "bench",
                "SEEDANCE_POLL_INTERVAL": "1.0",  # as in the embedded configuration
                "Q_WORKERS": "4",
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            },
        )
        app.port, app.url = port, f"http://127.0.0.1:{port}"
        app.start()
        try:
            creates, tasks, _ = run_project(app, simulator, "seams", 1, args.chain, workdir)
            order = [c["json"]["content"][0]["text"] for c in creates]
            seams = [
                creates[k + 1]["at"] - tasks[order[k]].updated_at for k in range(len(order) - 1)
            ]
            print(f"{args.chain}-shot chain, simulator {args.delay:g} s a shot:")
            print(
                f"  seam overhead: median {statistics.median(seams):.3f} s, "
                f"min {min(seams):.3f} s, max {max(seams):.3f} s "
                f"(target: median < 0.5 s)"
            )

            simulator.delay = args.parallel_delay
            creates, tasks, finished = run_project(app, simulator, "parallel", 3, 3, workdir)
            arrived = {c["json"]["content"][0]["text"]: c["at"] for c in creates}
            chains = {}
            for prompt, task in tasks.items():
                chain = prompt.split(", shot")[0]
                chains[chain] = chains.get(chain, 0.0) + task.updated_at - arrived[prompt]
            critical = max(chains.values())
            wall = finished - min(arrived.values())
            first = min(arrived.values())
            print(
                f"3 independent chains of 3 shots, simulator {args.parallel_delay:g} s a shot "
                "(seconds from the first create: [create arrived -> task finished]):"
            )
            for chain in sorted(chains):
                prompts = sorted(p for p in tasks if p.startswith(chain + ","))
                starts = [arrived[p] - first for p in prompts]
                ends = [tasks[p].updated_at - first for p in prompts]
                print(
                    f"  {chain.split(': ')[1]}: "
                    + "  ".join(f"[{a:.2f} -> {b:.2f}]" for a, b in zip(starts, ends, strict=True))
                )
            print(f"  last take collected at {finished - first:.2f} s")
            print(
                f"  wall time {wall:.2f} s, critical path {critical:.2f} s: "
                f"{100 * (wall / critical - 1):+.1f} % (target: within 10 %)"
            )
        finally:
            app.stop()


if __name__ == "__main__":
    main()
