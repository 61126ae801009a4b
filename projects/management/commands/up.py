"""`up`: everything on its embedded defaults, in one command, stopped by one Ctrl-C."""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from projects import providers
from projects.addresses import is_loopback
from projects.models import Team
from projects.vault import installation_file

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "storyboard-demo"
SELF_STOP_SECONDS = 5
GRACE_SECONDS = 10


class Command(BaseCommand):
    help = (
        "Apply migrations, make a demo account if there is no account, and run the worker, "
        "the local Seedance simulator (when SEEDANCE_BASE_URL is not set) and the web server."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def execute(self, *args, **options):
        # Before the system checks, which refuse the development key beyond this machine:
        # there, the servers sign with the installation's own key, and so does this process.
        if not is_loopback(options["host"]) and settings.SECRET_KEY == settings.DEVELOPMENT_KEY:
            settings.SECRET_KEY = installation_key(settings.SECRET_KEY_FILE)
            self.stdout.write(f"Signing with this installation's key, {settings.SECRET_KEY_FILE}")
        return super().execute(*args, **options)

    def handle(self, *args, host, port, **options):
        if _port_taken(host, port):
            raise CommandError(
                f"Something already listens on {host}:{port}; stop it or use --port."
            )
        call_command("migrate", interactive=False, verbosity=0)
        self._demo_account()
        try:
            simulated = providers.configured().simulated
        except providers.ProviderError as error:
            raise CommandError(str(error)) from error
        if simulated and not settings.PUBLIC_BASE_URL:
            # The local simulator reaches this app here, for styles that fetch frames by URL;
            # the children's settings are this process's (they are forked), so both change.
            public = f"http://{host}:{port}"
            os.environ["PUBLIC_BASE_URL"] = settings.PUBLIC_BASE_URL = public
            settings.CSRF_TRUSTED_ORIGINS = [public]  # as storyboard/settings.py derives it
        commands = {}
        if simulated:
            commands["simulator"] = ["seedance_simulator", "--port", str(settings.SIMULATOR_PORT)]
        commands["worker"] = ["worker"]
        commands["web"] = [
            UVICORN,
            "storyboard.asgi:application",
            "--host",
            host,
            "--port",
            str(port),
            # Open event streams must not hold a shutdown for long.
            "--timeout-graceful-shutdown",
            "2",
            "--log-level",
            "warning",
        ]
        # The children start as a fresh process would, with the signals this one was given.
        given = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        # Handlers of our own: a shell that starts us in the background leaves SIGINT
        # ignored, and a SIGTERM to this process alone must stop the children too.
        signal.signal(signal.SIGINT, _raise_interrupt)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        children = {}
        signum = signal.SIGTERM  # how children are told to stop, unless Ctrl-C told them
        try:
            for name, command in commands.items():
                children[name] = _start(command, given)
            self._wait_until_serving(host, port, children)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Storyboard is running at http://{host}:{port}/  (Ctrl-C stops everything)"
                )
            )
            self._supervise(children)
        except Interrupted as interrupt:
            signum = interrupt.signum
            self.stdout.write("Stopping…")
        finally:
            _stop(children, signum)

    def _demo_account(self):
        users = get_user_model().objects
        made = not users.exists()
        if made:
            user = users.create_user(DEMO_USERNAME, password=DEMO_PASSWORD)
            Team.default_for(user)
        demo = users.filter(username=DEMO_USERNAME).first()
        # A hash checked costs what one made does (half a second): the new account's is not.
        if made or (demo is not None and demo.check_password(DEMO_PASSWORD)):
            self.stdout.write(f"Sign in with user: {DEMO_USERNAME}  password: {DEMO_PASSWORD}")
        else:
            self.stdout.write(
                "Sign in with an existing account (manage.py createsuperuser makes one)."
            )

    def _wait_until_serving(self, host, port, children):
        deadline = time.monotonic() + 60
        while not _port_taken(host, port):
            self._check(children)
            if time.monotonic() > deadline:
                raise CommandError("The web server did not start within 60 s.")
            time.sleep(0.2)

    def _supervise(self, children):
        while True:
            self._check(children)
            time.sleep(0.5)

    def _check(self, children):
        for name, child in children.items():
            if child.poll() is not None:
                raise CommandError(f"The {name} stopped (exit code {child.returncode}).")


def installation_key(path):
    """The key in `path`, made there first if there is none: random, readable by this user
    only, and complete before anyone can read it (projects.vault.installation_file)."""
    return installation_file(path, lambda: secrets.token_urlsafe(50))


UVICORN = "uvicorn"  # a child's command: uvicorn's own command line, not a manage.py command


def _start(command, signals):
    """A child running `command` (manage.py's arguments, or UVICORN and uvicorn's): forked
    from this process on Linux (see Forked), a new Python process elsewhere, where forking
    a process that has loaded the system's libraries is not safe (macOS)."""
    if sys.platform == "linux":
        return Forked(lambda: _run(command), signals)
    if command[0] == UVICORN:
        argv = [sys.executable, "-m", *command]
    else:
        argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), *command]
    return subprocess.Popen(argv, cwd=settings.BASE_DIR)


def _run(command):
    """`command`, in this process."""
    if command[0] != UVICORN:
        return call_command(*command)
    from uvicorn.main import main

    main.main(args=command[1:], prog_name="uvicorn")


class Forked:
    """A child process forked from this one to run `run()`, then exit; what `up` uses of
    subprocess.Popen (poll, wait, terminate, returncode, pid).

    Forked rather than started afresh: this process has already set Django up and, with
    the system checks, imported the URLconf, the API and the pipeline, which a new
    `manage.py worker` or uvicorn would each import again (a second or two of CPU each,
    while every child starts at once). Before the fork, nothing open is shared: the
    database connections are closed (each child opens its own) and the output flushed.
    """

    def __init__(self, run, signals):
        from django.core.cache import caches
        from django.db import connections

        connections.close_all()
        for cache in caches.all(initialized_only=True):
            cache.close()
        sys.stdout.flush()
        sys.stderr.flush()
        self.returncode = None
        self.pid = os.fork()
        if self.pid == 0:
            _child(run, signals)

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        if timeout is None:
            if self.returncode is None:
                self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            return self.returncode
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def terminate(self):
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)


def _child(run, signals):
    """Run `run()` in a forked child and exit with its code, as `manage.py` would; never
    return into the parent's code."""
    code = 1
    try:
        for signum, handler in signals.items():
            signal.signal(signum, handler)
        run()
        code = 0
    except SystemExit as end:
        if end.code is None or isinstance(end.code, int):
            code = end.code or 0
        else:
            sys.stderr.write(f"{end.code}\n")
    except CommandError as error:
        sys.stderr.write(f"CommandError: {error}\n")
        code = error.returncode
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupt(signum, frame):
    raise Interrupted(signum)


def _port_taken(host, port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _stop(children, signum):
    """Stop every child, then insist. A second Ctrl-C must not cut this short.

    A Ctrl-C reaches the whole process group, children included, and a second signal
    while the worker stops breaks its shutdown: so after SIGINT the children get time
    to stop by themselves, and only the ones still running are told again.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    running = [child for child in children.values() if child.poll() is None]
    if signum == signal.SIGINT:
        running = _wait(running, SELF_STOP_SECONDS)
    for child in running:
        child.terminate()
    for child in _wait(running, GRACE_SECONDS):
        for pid in [*_descendants(child.pid), child.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child.wait()


def _wait(children, seconds):
    """Wait for the children to end; returns those still running after `seconds`."""
    deadline = time.monotonic() + seconds
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.01, deadline - time.monotonic()))
    return [child for child in children if child.poll() is None]


def _descendants(pid):
    """Every process below `pid` (from /proc, where there is one), so none is orphaned."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
