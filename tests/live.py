"""Run the real app (`manage.py up`) in a subprocess for end-to-end tests, and stop it."""

import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The apps started here hash passwords in one step (tests/live_settings.py says why).
LIVE_SETTINGS = "tests.live_settings"


# Under pytest-xdist, worker gwN picks ports in a range of its own, below the kernel's
# ephemeral ports: another worker could otherwise be handed the same free port between the
# pick and its server's bind, and one test's browser would talk to another test's app.
XDIST_PORTS, XDIST_PORTS_EACH = 20000, 400
_handed_out = set()


def free_port():
    """A port nothing listens on now, for a server a test is about to start; never the
    same one twice in a process while its range has others."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not re.fullmatch(r"gw\d+", worker):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    first = XDIST_PORTS + XDIST_PORTS_EACH * int(worker[2:])
    # Where in the range a run starts is its own: two runs side by side go different ways.
    run = int(os.environ.get("PYTEST_XDIST_TESTRUNUID") or "0", 16) % XDIST_PORTS_EACH
    ports = [first + (run + n) % XDIST_PORTS_EACH for n in range(XDIST_PORTS_EACH)]
    for _ in range(2):  # the second time round, every port of the range may be had again
        for port in ports:
            if port in _handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
        _handed_out.clear()
    raise RuntimeError(f"No free port in {first}-{first + XDIST_PORTS_EACH - 1}")


def manage(env, *args, timeout=120):
    """Run a manage.py command in `env`; its output, or RuntimeError with what it said."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(done.stdout + done.stderr)
    return done.stdout


class LiveApp:
    """`manage.py up` on free ports, its own database and media, and the simulator.

    It runs in the suite's configuration: SQLite and the database broker by default;
    under DATABASE_URL=postgres://... (and REDIS_URL) a fresh PostgreSQL database of
    its own (and the Redis broker); a copy of `template` (see migrated_template) when
    given. Its simulator renders small clips unless `small` is false, for tests that
    look at the clips.
    """

    def __init__(
        self, workdir, simulator_delay=2.0, env=None, small=True, template=None, host=None
    ):
        self.workdir = Path(workdir)
        self.host = host  # what `up --host` is given; this machine reaches it at 127.0.0.1
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "up.log"
        # Its own database, unless `env` names the one it is to use.
        given = (env or {}).get("DATABASE_URL")
        self.database = _Given(given) if given else _Database(self.workdir, template)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "MEDIA_ROOT": str(self.workdir / "media"),
            "SIMULATOR_PORT": str(free_port()),
            "SIMULATOR_DELAY": str(simulator_delay),
            "SIMULATOR_SMALL": str(small),
            "SEEDANCE_POLL_INTERVAL": "0.3",
            "Q_WORKERS": "2",
            "GATEWAYS_ALLOW_INTERNAL": "true",  # teams' gateways are simulators here
            "DJANGO_SETTINGS_MODULE": LIVE_SETTINGS,
        }
        for name in ("SEEDANCE_BASE_URL", "SEEDANCE_PRESET", "PUBLIC_BASE_URL"):
            self.env.pop(name, None)
        self.env.update(env or {})

    def start(self, timeout=90):
        command = ["manage.py", "up", "--port", str(self.port)]
        self._run(command + (["--host", self.host] if self.host else []), timeout)
        match = re.search(r"user: (\S+)\s+password: (\S+)", self.output())
        self.username, self.password = match.groups()
        return self

    ready = "Storyboard is running"

    def _run(self, command, timeout):
        """Start `command` (Python's arguments) in a session of its own, logging to
        log_path, and wait until it says it is `ready`."""
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while self.ready not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{' '.join(command)} did not start:\n{self.output()}")
            time.sleep(0.2)

    @contextlib.contextmanager
    def worker_paused(self):
        """The app's worker stopped (SIGSTOP) while the block runs, as on a machine too busy
        to run it: the child of `up` that has children of its own (django-q's cluster), and
        those; the web server and the simulator have none."""
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                    children.setdefault(int(stat[1]), []).append(int(entry))

        def tree(pid):
            return [pid, *(p for child in children.get(pid, []) for p in tree(child))]

        (worker,) = [child for child in children.get(self.process.pid, []) if children.get(child)]
        pids = tree(worker)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def manage(self, *args):
        """Run another manage.py command against this app's database and settings."""
        return manage(self.env, *args)

    def output(self):
        return self.log_path.read_text()

    def stop(self, timeout=30):
        """Ctrl-C, as a person would; returns the processes that outlived it (then killed)."""
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while _members(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.process.wait(timeout=5)
        left = _members(group)
        if left:
            os.killpg(group, signal.SIGKILL)
        self.log.close()
        self.database.drop()
        return left


class WebServer(LiveApp):
    """The web server alone, run the documented way (`uvicorn storyboard.asgi:application`,
    its access log on) with what LiveApp gives `up`; a context manager."""

    ready = "Uvicorn running on"

    def __enter__(self, timeout=60):
        command = ["-m", "uvicorn", "storyboard.asgi:application", "--port", str(self.port)]
        self._run(command + ["--timeout-graceful-shutdown", "1"], timeout)
        return self

    def __exit__(self, *exc):
        self.stop()


def migrated_template(workdir):
    """A database migrated once, for live apps to start from copies of instead of each
    migrating its own: a SQLite file is copied, a PostgreSQL database is the template
    of theirs (CREATE DATABASE ... TEMPLATE copies it in a fraction of a migrate)."""
    template = _Database(Path(workdir))
    try:
        manage({**os.environ, "DATABASE_URL": template.url}, "migrate", "--verbosity", "0")
    except BaseException:
        template.drop()
        raise
    return template


def template_from_the_test_database(workdir):
    """The suite's test database, copied as it is just after pytest-django migrated it (call
    it then, before any test writes to it), as the template live apps start from: the
    same tables and migration records a `migrate` of their own would make, without
    running the migrations a second time in each process of the suite (seconds each).
    A SQLite test database (a file of the process's) is backed up into a file. A PostgreSQL
    one is the template of a new database, which needs no one connected to it: Django's
    connections are closed first (they open again when next used)."""
    from django.db import connection, connections

    template = _Database.__new__(_Database)
    if connection.vendor == "sqlite":
        template.name, template.path = None, Path(workdir) / "db.sqlite3"
        template.url = f"sqlite:///{template.path}"
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(template.path)) as copy:
            connection.connection.backup(copy)
        return template
    import psycopg

    suite = os.environ["DATABASE_URL"]
    template.server = suite.rsplit("/", 1)[0]
    template.name = f"storyboard_template_{os.getpid()}_{free_port()}"
    template.url = f"{template.server}/{template.name}"
    connections.close_all()
    with psycopg.connect(f"{template.server}/postgres", autocommit=True) as admin:
        admin.execute(
            f'CREATE DATABASE "{template.name}" TEMPLATE "{connection.settings_dict["NAME"]}"'
        )
    return template


class _Database:
    """A database for one live app: a SQLite file, or a PostgreSQL database made for it;
    empty, or a copy of `template`, a migrated _Database no process is connected to."""

    def __init__(self, workdir, template=None):
        suite = os.environ.get("DATABASE_URL", "")
        self.name = None
        if not suite.startswith(("postgres://", "postgresql://")):
            self.path = workdir / "db.sqlite3"
            if template:
                shutil.copyfile(template.path, self.path)
            self.url = f"sqlite:///{self.path}"
            return
        import psycopg

        self.server = suite.rsplit("/", 1)[0]
        self.name = f"storyboard_live_{os.getpid()}_{free_port()}"
        copy = f' TEMPLATE "{template.name}"' if template else ""
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"{copy}')
        self.url = f"{self.server}/{self.name}"

    _reader = None  # PostgreSQL: the connection query() reads through

    def query(self, sql):
        """The rows `sql` selects, read straight from the database: no Django process to
        start, and SQLite's WAL lets the app's processes write meanwhile. On PostgreSQL,
        through one connection kept open (each statement its own transaction, so each
        sees what was committed before it): tests poll this several times a second, and
        each new connection costs the server a process and ~10 ms of CPU."""
        if self.name is None:
            with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as db:
                return db.execute(sql).fetchall()
        import psycopg

        if self._reader is None or self._reader.closed:
            self._reader = psycopg.connect(self.url, autocommit=True)
        return self._reader.execute(sql).fetchall()

    def drop(self):
        if self._reader is not None:
            self._reader.close()
        if self.name:
            import psycopg

            with psycopg.connect(f"{self.server}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class _Given:
    """A database a live app was given (its env's DATABASE_URL): not made, nor dropped, here."""

    def __init__(self, url):
        self.url = url

    def drop(self):
        pass


def _members(group):
    out = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True)
    rows = [line.split(None, 3) for line in out.stdout.splitlines()]
    return [row for row in rows if len(row) == 4 and row[1] == str(group) and "Z" not in row[2]]


class Deployment:
    """The app's processes against one database, one broker and a simulator; the database
    is a copy of `template` (see migrated_template) when given, else empty, or another
    deployment's `database` (another machine of the same installation)."""

    def __init__(self, tmp_path, simulator, template=None, database=None, **env):
        self.database = database or _Database(tmp_path, template)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "SEEDANCE_BASE_URL": f"{simulator.url}/api/v3",
            "SEEDANCE_API_KEY": "test-key",
            "SEEDANCE_POLL_INTERVAL": "0.2",
            "Q_WORKERS": "2",
            "GATEWAYS_ALLOW_INTERNAL": "true",  # teams' gateways are simulators here
            "DJANGO_SETTINGS_MODULE": LIVE_SETTINGS,
            **env,
        }
        for name in ("SEEDANCE_PRESET", "PUBLIC_BASE_URL"):
            if name not in env:  # the suite's own, not this deployment's
                self.env.pop(name, None)

    def manage(self, *args):
        return manage(self.env, *args)

    def make_user(self, username):
        """A user to own what is imported; without a password, which it never needs."""
        make = f"from tests.factories import make_user; make_user({username!r}, password=None)"
        self.manage("shell", "-c", make)

    def import_and_render(self, *storyboards, owner="ada"):
        """Make `owner` (without a password), import each storyboard file and hand its drafts
        to the worker, as `make_user`, `storyboard import` and `storyboard render` would one
        after the other, but in one process: each manage.py command starts Django anew, the
        better part of a second of CPU. The projects' ids, as strings, in order."""
        code = "\n".join(
            [
                "from django.core.management import call_command",
                "from projects.models import Project",
                "from tests.factories import make_user",
                f"make_user({owner!r}, password=None)",
                "made = []",
                f"for path in {[str(path) for path in storyboards]!r}:",
                f"    call_command('storyboard', 'import', path, '--owner', {owner!r})",
                "    project = Project.objects.latest('pk')",
                "    call_command('storyboard', 'render', str(project.pk))",
                "    made.append(project.pk)",
                "print(*made)",
            ]
        )
        return self.manage("shell", "-c", code).strip().splitlines()[-1].split()

    def worker(self, log):
        """`manage.py worker`, without its system checks: the same checks every `up` of the
        suite runs (and tests/test_hardening.py's `check`), about a second of CPU for each
        worker a test starts (tests/test_durability.py starts five)."""
        return subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--skip-checks"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def takes(self):
        """(status, remote id) of every take, by project and shot."""
        return self.database.query(
            "SELECT take.status, take.remote_id FROM projects_take take"
            " JOIN projects_shot shot ON shot.id = take.shot_id"
            " ORDER BY shot.project_id, shot.position, take.number"
        )


class SharedApp:
    """One `manage.py up` for the browser modules of a test process that can share it
    (tests.conftest `shared_app`), each of them signed in as an account of its own
    (`account()`): the app starts once instead of once a module (5 s of wall and 8 s of
    its processes' CPU each time), and what one module makes (projects, tokens, webhook
    endpoints, mentions) is in a team no other module's account belongs to.

    Its settings are those every module sharing it can live with: small clips, a
    simulator that takes 0.3 s (about what a small clip's render takes anyway: no test
    here watches a take run, and a hold at a seam lasts until released, however quick
    the take before it), Break down with AI offered (SCRIPT_MODEL), and webhooks that
    may reach this machine and retry after half a second."""

    SIMULATOR_DELAY = 0.3
    ENV = {
        "SCRIPT_MODEL": "doubao-seed-1-6-250615",
        "WEBHOOKS_ALLOW_INTERNAL": "true",
        "WEBHOOKS_RETRY_DELAYS": "0.5",
    }
    # Accounts made at once: each manage.py command starts Django anew (a second or two
    # of CPU), and one batch covers every module that shares the app (ten, and room).
    BATCH = 16

    def __init__(self, folder, template):
        self.live = LiveApp(
            folder, simulator_delay=self.SIMULATOR_DELAY, env=self.ENV, template=template
        )
        self._accounts = []
        self._made = 0

    def start(self):
        self.live.start()
        return self

    def stop(self):
        left = self.live.stop()
        assert not left, f"processes outlived Ctrl-C of manage.py up: {left}"

    def account(self, name):
        """The app as `name` (a module's) sees it: its url and manage(), and the username
        and password of an account no other module signs in with, in a team of its own."""
        if not self._accounts:
            self._accounts = self._make_accounts()
        username = self._accounts.pop(0)
        return Account(self.live, username, self.live.password, name)

    def _make_accounts(self):
        """BATCH accounts with the demo account's password, hashed once, each with its
        default team."""
        first, self._made = self._made + 1, self._made + self.BATCH
        names = [f"member{n}" for n in range(first, self._made + 1)]
        code = "\n".join(
            [
                "from django.contrib.auth import get_user_model",
                "from django.contrib.auth.hashers import make_password",
                "from projects.models import Team",
                f"hashed = make_password({self.live.password!r})",
                f"for name in {names!r}:",
                "    user = get_user_model().objects.create(username=name, password=hashed)",
                "    Team.default_for(user)",
            ]
        )
        self.live.manage("shell", "-c", code)
        return names


class Account:
    """A module's account on a SharedApp: what tests use of a LiveApp (url, username,
    password, manage), with the account's own username."""

    def __init__(self, live, username, password, module):
        self.live, self.url, self.module = live, live.url, module
        self.username, self.password = username, password

    def manage(self, *args):
        return self.live.manage(*args)

    def update_shots(self, prompt, **fields):
        """Change this account's shots of `prompt` in the database, as another writer would
        (the app is shared: no other module's shots): an update stamps `updated_at`, so
        the live stream sends their cards anew."""
        mine = f"project__team__memberships__user__username={self.username!r}"
        self.manage(
            "shell",
            "-c",
            "from projects.models import Shot; "
            f"Shot.objects.filter({mine}, prompt={prompt!r}).update(**{fields!r})",
        )


def serving(folder, template, **options):
    """A LiveApp for a module's tests (a fixture yields from it): started, then stopped
    with nothing of it left running."""
    live = LiveApp(folder, template=template, **options).start()
    yield live
    left = live.stop()
    assert not left, f"processes outlived Ctrl-C of manage.py up: {left}"
