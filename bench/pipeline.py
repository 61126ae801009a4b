"""Pipeline overhead: the seams of chains, and 3 chains against their critical path.

    uv run python bench/pipeline.py [--delay 1.0] [--chain 10] [--steady 20] [--only ...]

Runs the real app (`manage.py up`: uvicorn, the worker `up` starts, SQLite, the database
as broker) against a simulator in this process, whose clock says when each task
finished and when each create arrived. A seam's overhead is the time from the
simulator finishing shot k to it receiving shot k+1's create. Prints:
- callbacks: a chain on the native API with callbacks (target: median under 0.5 s);
- no callbacks: a chain on a gateway without callbacks (futurmix) whose clips take a
  steady 20 s, read at the real gateways' 10 s poll interval (target: median under 2 s;
  on main before this work, 10.1 s);
- render --wait: the command line's driver from a fresh shell, on each API style that
  takes frames as data URIs, clips of 2 s (target: the next shot sent within 1 s of
  the one before ending; before, 18.4 s);
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

from projects.providers import SIMULATOR_PREFIXES  # noqa: E402
from projects.simulator import Simulator  # noqa: E402
from tests.live import Deployment, LiveApp, free_port, migrated_template  # noqa: E402

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


def prompt_of(create):
    """The prompt a create sent, whatever its API style."""
    body = create["json"]
    return body.get("prompt") or body["content"][0]["text"]


def seams_of(creates, tasks):
    """Seconds from each shot's task finishing to the next shot's create arriving."""
    order = [prompt_of(c) for c in creates]
    return [creates[k + 1]["at"] - tasks[order[k]].updated_at for k in range(len(order) - 1)]


def said(seams, target):
    return (
        f"median {statistics.median(seams):.3f} s, min {min(seams):.3f} s, "
        f"max {max(seams):.3f} s (target: {target})"
    )


def live_app(workdir, simulator, style, env=None):
    port = free_port()
    (workdir / style).mkdir()
    app = LiveApp(
        workdir / style,
        small=False,
        env={
            "SEEDANCE_BASE_URL": simulator.url + SIMULATOR_PREFIXES[style],
            "SEEDANCE_API_STYLE": style,
            "SEEDANCE_API_KEY": "bench",
            "Q_WORKERS": "4",
            **(env or {}),
        },
    )
    app.port, app.url = port, f"http://127.0.0.1:{port}"
    return app.start()


def render_wait(simulator, style, workdir, template, length=3):
    """A chain made by `storyboard render --wait` from a fresh shell, against `style`."""
    folder = workdir / f"wait-{style}"
    folder.mkdir()
    deployment = Deployment(
        folder,
        simulator,
        template,
        SEEDANCE_BASE_URL=simulator.url + SIMULATOR_PREFIXES[style],
        SEEDANCE_API_STYLE=style,
        SEEDANCE_POLL_INTERVAL="10",  # a real gateway's: a driver that slept it through shows
    )
    try:
        deployment.make_user("demo")
        shots = [
            {
                "prompt": f"{style}: shot {n + 1}",
                "duration": 4,
                "opening": "continue" if n else "cut",
            }
            for n in range(length)
        ]
        path = folder / "board.json"
        path.write_text(
            json.dumps({"title": style, "settings": {"resolution": "480p"}, "shots": shots})
        )
        project = deployment.manage("storyboard", "import", str(path), "--owner", "demo").split()[
            -1
        ]
        simulator.reset()
        deployment.manage("storyboard", "render", project, "--wait")
        creates = sorted(
            (r for r in simulator.requests if r["method"] == "POST"), key=lambda r: r["at"]
        )
        done = {t.prompt: t for t in simulator.engine.tasks() if t.status == "succeeded"}
        return seams_of(creates, done)
    finally:
        deployment.database.drop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="simulator seconds per shot")
    parser.add_argument("--chain", type=int, default=10, help="shots in the seam chain")
    parser.add_argument(
        "--steady", type=float, default=20.0, help="seconds a clip of the no-callback gateway"
    )
    parser.add_argument(
        "--parallel-delay",
        type=float,
        default=5.0,
        help="simulator seconds a shot for the three chains (real shots take minutes)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["callbacks", "steady", "wait", "parallel"],
        default=["callbacks", "steady", "wait", "parallel"],
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    (workdir / "template").mkdir()
    (workdir / "ark").mkdir()
    template = migrated_template(workdir / "template")
    with Simulator(port=0, delay=args.delay) as simulator:
        if "callbacks" in args.only or "parallel" in args.only:
            port = free_port()
            app = LiveApp(
                workdir / "ark",
                small=False,
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
                if "callbacks" in args.only:
                    simulator.delay = args.delay
                    creates, tasks, _ = run_project(app, simulator, "seams", 1, args.chain, workdir)
                    print(f"Callbacks (ark): {args.chain}-shot chain, {args.delay:g} s a clip:")
                    print(f"  seam overhead: {said(seams_of(creates, tasks), 'median < 0.5 s')}")
                if "parallel" in args.only:
                    simulator.delay = args.parallel_delay
                    parallel(app, simulator, args, workdir)
            finally:
                app.stop()

        if "steady" in args.only:
            simulator.delay = args.steady
            # No PUBLIC_BASE_URL and a style that calls nobody back: every seam is a read.
            app = live_app(workdir, simulator, "futurmix", {"SEEDANCE_POLL_INTERVAL": "10"})
            try:
                creates, tasks, _ = run_project(app, simulator, "steady", 1, 6, workdir)
                print(
                    f"No callbacks (futurmix): 6-shot chain, a steady {args.steady:g} s a clip, "
                    "10 s poll interval, through the worker `up` starts:"
                )
                print(f"  seam overhead: {said(seams_of(creates, tasks), 'median < 2 s')}")
            finally:
                app.stop()

        if "wait" in args.only:
            simulator.delay = 2.0
            print(
                "render --wait, from a fresh shell, 3-shot chains, 2 s a clip, 10 s poll interval:"
            )
            for style in ("ark", "openai-videos", "futurmix"):
                seams = render_wait(simulator, style, workdir, template)
                print(f"  {style}: seam overhead {said(seams, 'next shot within 1 s')}")


def parallel(app, simulator, args, workdir):
    creates, tasks, finished = run_project(app, simulator, "parallel", 3, 3, workdir)
    arrived = {prompt_of(c): c["at"] for c in creates}
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


if __name__ == "__main__":
    main()
