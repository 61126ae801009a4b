"""Live timeline under a team: a 200-shot project, 10 takes running, 50 people watching.

    uv run python bench/live.py [--viewers 50] [--shots 200] [--running 10] [--seconds 30]
                                [--redis redis://localhost:6379/14 --web 2] [--join]

Starts the real ASGI server (uvicorn with the app, on a SQLite file of its own; with
--redis, N web processes sharing Redis pub/sub) and real streaming clients, each
signed in, on the project's event stream. A stand-in worker moves the progress of
the running takes every second, writing to the database as the real one does. Prints:
- the server's CPU, in cores (target: under 0.25), against the anchor: a bare ASGI
  server pushing the same events to the same clients (bench/bare_sse.py);
- progress events per viewer, and the share of progress changes every viewer saw
  (target: all);
- the delay from a change being written to a viewer receiving it: median and p95
  (target: p95 under 1 s).

With --join the viewers open the page while progress already moves, all at once (as
after a restart, or when every stream renews after five minutes): each one's stream
starts with its catch-up. It also prints the time from a viewer joining to its first
sight of progress (target: every viewer within 2 s), against the same on the anchor.
"""

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKDIR = Path(tempfile.mkdtemp(prefix="storyboard-live-bench-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR / 'db.sqlite3'}"
os.environ["MEDIA_ROOT"] = str(WORKDIR / "media")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")

# Progress seen: a progress bar alone, or a card that carries one.
SHOWS_PROGRESS = re.compile(r"event: (?:progress|shot)-\d+\n(?:.|\n)*<progress")
PROGRESS = re.compile(r"event: progress-(\d+)\n(?:id: [^\n]*\n)?data: .*?value=\"(\d+)\"")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_project(shots, running):
    """A user, and a project of `shots` shots in chains of ten, `running` of them running."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from projects.models import Opening, Project, Shot, Take, Team

    user = get_user_model().objects.create_user("bench", password="bench-password")
    team = Team.default_for(user)
    project = Project.objects.create(team=team, title="Long project", resolution="480p")
    made = Shot.objects.bulk_create(
        Shot(
            project=project,
            position=n,
            prompt=f"Shot {n + 1}: the valley at hour {n}",
            duration=4,
            opening=Opening.CUT if n % 10 == 0 else Opening.CONTINUE,
        )
        for n in range(shots)
    )
    now = timezone.now()
    takes = []
    for shot in made:
        inputs = shot.inputs()
        status = Take.Status.RUNNING if shot.position % 10 == 5 else Take.Status.DONE
        takes.append(
            Take(
                shot=shot,
                number=1,
                status=status,
                inputs=inputs,
                provider="simulator",
                remote_id=f"cgt-bench-{shot.position}",
                progress=0.0 if status == Take.Status.RUNNING else 1.0,
                submitted_at=now,
                started_at=now,
                generated_at=None if status == Take.Status.RUNNING else now,
                finished_at=None if status == Take.Status.RUNNING else now,
                tokens=None if status == Take.Status.RUNNING else 40594,
                video="" if status == Take.Status.RUNNING else "takes/clip.mp4",
                poster="" if status == Take.Status.RUNNING else "takes/poster.jpg",
            )
        )
    Take.objects.bulk_create(takes)
    for take in Take.objects.filter(shot__project=project, status=Take.Status.DONE):
        Shot.objects.filter(pk=take.shot_id).update(selected_take=take)
    moving = list(Take.objects.filter(status=Take.Status.RUNNING).order_by("shot__position"))[
        :running
    ]
    Take.objects.filter(status=Take.Status.RUNNING).exclude(pk__in=[t.pk for t in moving]).update(
        status=Take.Status.DONE, progress=1.0
    )
    client = Client()
    client.force_login(user)
    return project, moving, client.cookies["sessionid"].value


class Viewer:
    """One streaming client: records when each progress value of each shot arrived."""

    def __init__(self):
        self.seen = {}  # (shot id, percent): arrival time
        self.events = 0
        self.connected = asyncio.Event()
        self.joined = None  # when it asked for its stream
        self.first_progress = None  # when it first saw progress
        self.opened = None  # when its stream's first bytes came

    async def watch(self, http, url, stop):
        buffer = ""
        self.joined = time.time()
        if "{now}" in url:  # its page was rendered just now
            url = url.replace("{now}", f"{self.joined:.3f}")
        async with http.stream("GET", url) as response:
            async for text in response.aiter_text():
                if not self.connected.is_set():
                    self.opened = time.time()
                self.connected.set()
                buffer += text
                while "\n\n" in buffer:
                    event, buffer = buffer.split("\n\n", 1)
                    self.events += 1
                    if self.first_progress is None and SHOWS_PROGRESS.match(event):
                        self.first_progress = time.time()
                    match = PROGRESS.match(event)
                    if match:
                        key = (int(match[1]), int(match[2]))
                        self.seen.setdefault(key, time.time())
                if stop.is_set():
                    return


def cpu_seconds(pids):
    """User and system CPU seconds of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def server_pids(process):
    """The server process and its children (uvicorn's web workers)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    pairs = [tuple(map(int, line.split())) for line in out.splitlines()]
    found, todo = [process.pid], [process.pid]
    while todo:
        parent = todo.pop()
        for pid, ppid in pairs:
            if ppid == parent:
                found.append(pid)
                todo.append(pid)
    return found


def start_server(app, port, env, web):
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
    # Streams never end by themselves: do not wait for them on the way out.
    command += ["--timeout-graceful-shutdown", "1"]
    if web > 1:
        command += ["--workers", str(web)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"{app} did not start")
        time.sleep(0.2)


async def measure(url, cookies, viewers_count, seconds, mover=None, join=False):
    """Connect the viewers, move progress for `seconds`, return the viewers and the span.

    With `join`, progress moves first and the viewers all join a few seconds into it."""
    viewers = [Viewer() for _ in range(viewers_count)]
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=viewers_count + 5)
    async with httpx.AsyncClient(cookies=cookies, timeout=None, limits=limits) as http:
        if join:
            start = time.monotonic()
            moving = asyncio.create_task(mover(seconds) if mover else asyncio.sleep(seconds))
            await asyncio.sleep(3.0)  # progress moves; the producer (if any) is idle
        tasks = [asyncio.create_task(v.watch(http, url, stop)) for v in viewers]
        await asyncio.wait_for(asyncio.gather(*(v.connected.wait() for v in viewers)), 60)
        if join:
            written = await moving
        else:
            await asyncio.sleep(2.0)  # the producer's first look; streams caught up
            start = time.monotonic()
            written = await mover(seconds) if mover else await asyncio.sleep(seconds)
        span = time.monotonic() - start
        await asyncio.sleep(1.5)  # the last change's delivery
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return viewers, span, written


def first_progress(viewers):
    """Seconds from joining to first seeing progress, per viewer (inf: never)."""
    return sorted(
        v.first_progress - v.joined if v.first_progress else float("inf") for v in viewers
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--running", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--redis", default="", help="a Redis URL: streams fan out through it")
    parser.add_argument("--web", type=int, default=1, help="web processes (with --redis)")
    parser.add_argument(
        "--join", action="store_true", help="viewers join at once while progress moves"
    )
    args = parser.parse_args()
    if args.redis:
        os.environ["REDIS_URL"] = args.redis

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    project, moving, session = build_project(args.shots, args.running)
    from django.db import connections

    from projects.models import Take

    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost"}

    async def move(seconds):
        """The stand-in worker: one percent more for every running take, each second."""
        written = {}
        for step in range(1, int(seconds) + 1):
            await asyncio.sleep(1.0)
            for take in moving:
                await asyncio.to_thread(Take.objects.filter(pk=take.pk).update, progress=step / 100)
                written[take.shot_id, step] = time.time()
        return written

    # The anchor first: a bare server pushing the same events.
    port = free_port()
    bare_env = {**env, "BARE_RUNNING": str(args.running)}
    bare = start_server("bare_sse:app", port, {**bare_env, "PYTHONPATH": str(ROOT / "bench")}, 1)
    try:
        before = cpu_seconds(server_pids(bare))
        started = time.monotonic()
        bare_viewers, *_ = asyncio.run(
            measure(f"http://127.0.0.1:{port}/", {}, args.viewers, args.seconds, join=args.join)
        )
        bare_cores = (cpu_seconds(server_pids(bare)) - before) / (time.monotonic() - started)
    finally:
        bare.terminate()
        bare.wait()

    port = free_port()
    server = start_server("storyboard.asgi:application", port, env, args.web if args.redis else 1)
    connections.close_all()
    try:
        since = "{now}" if args.join else f"{time.time()}"
        url = f"http://127.0.0.1:{port}/projects/{project.pk}/events?since={since}"
        before = cpu_seconds(server_pids(server))
        started = time.monotonic()
        viewers, span, written = asyncio.run(
            measure(url, {"sessionid": session}, args.viewers, args.seconds, move, args.join)
        )
        cores = (cpu_seconds(server_pids(server)) - before) / (time.monotonic() - started)
    finally:
        server.terminate()
        server.wait()

    def after_join(viewer):  # with --join, what was written before it joined is not news
        return {key: at for key, at in written.items() if at >= (viewer.joined or 0)}

    delays = sorted(
        viewer.seen[key] - at
        for viewer in viewers
        for key, at in after_join(viewer).items()
        if key in viewer.seen
    )
    per_viewer = [sum(key in viewer.seen for key in after_join(viewer)) for viewer in viewers]
    expected = sum(len(after_join(viewer)) for viewer in viewers)
    seen = sum(per_viewer)
    fan = f"Redis, {args.web} web processes" if args.redis else "in-process, 1 web process"
    print(
        f"{args.shots} shots, {len(moving)} running, {args.viewers} viewers, "
        f"{args.seconds:g} s ({fan}):"
    )
    print(
        f"  server CPU: {cores:.3f} cores (target < 0.25); bare SSE anchor {bare_cores:.3f} "
        f"cores: {cores / max(bare_cores, 1e-3):.1f}x the anchor"
    )
    print(
        f"  progress events per viewer: median {statistics.median(per_viewer):.0f} of "
        f"{len(written)} changes; {seen} of {expected} written while watching seen "
        f"({100 * seen / max(1, expected):.1f} %, target: all)"
    )
    if delays:
        p95 = delays[int(0.95 * (len(delays) - 1))]
        print(
            f"  delay write -> viewer: median {statistics.median(delays):.3f} s, "
            f"p95 {p95:.3f} s, max {delays[-1]:.3f} s (target: p95 < 1 s)"
        )
    if args.join:
        joins, bare_joins = first_progress(viewers), first_progress(bare_viewers)
        seen_in_time = sum(delay <= 2.0 for delay in joins)
        median, bare_median = statistics.median(joins), statistics.median(bare_joins)
        opened = statistics.median(v.opened - v.joined for v in viewers)
        print(f"  join -> stream open: median {opened:.3f} s")
        p95 = joins[int(0.95 * (len(joins) - 1))]
        print(
            f"  join -> first progress: median {median:.3f} s, p95 {p95:.3f} s, "
            f"max {joins[-1]:.3f} s; "
            f"{seen_in_time} of {len(joins)} viewers within 2 s (target: all); anchor median "
            f"{bare_median:.3f} s, max {bare_joins[-1]:.3f} s: median "
            f"{median / max(bare_median, 1e-3):.1f}x, max "
            f"{joins[-1] / max(bare_joins[-1], 1e-3):.1f}x the anchor"
        )
    print(f"  (span {span:.1f} s; work files in {WORKDIR})")


if __name__ == "__main__":
    main()
