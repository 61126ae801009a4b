"""Fixtures shared by the suite: isolated media, a real simulator and S3 over loopback, users."""

import contextlib
import json
import shutil
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from projects import tls
from projects.simulator import Simulator
from tests.factories import make_user


class BrowserClient(Client):
    """The test client held to Django's CSRF checks, as a browser is. A POST carries the
    token as htmx sends it (the X-CSRFToken header), unless its data brings a form's own."""

    def __init__(self, **defaults):
        super().__init__(enforce_csrf_checks=True, **defaults)

    def post(self, path, data=None, *args, **extra):
        own = isinstance(data, dict) and "csrfmiddlewaretoken" in data
        if not own and "HTTP_X_CSRFTOKEN" not in extra:
            extra["HTTP_X_CSRFTOKEN"] = self.csrf_token()
        return super().post(path, data, *args, **extra)

    def csrf_token(self):
        if django_settings.CSRF_COOKIE_NAME not in self.cookies:
            self.get(reverse("login"))  # a page with a form hands out the cookie
        return self.cookies[django_settings.CSRF_COOKIE_NAME].value


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context():
    """The suite's own httpx calls (httpx.get(...), a client per test), and the in-process
    simulator's, share the app's one TLS context (projects/tls.py) instead of each loading
    the CA bundle again: about 25 ms of CPU a client, the most of many a short request to
    the simulator. Only for httpx's default (verification on, no client certificate); the
    context is the same either way."""
    made = httpx._transports.default.create_ssl_context

    def shared(verify=True, cert=None, trust_env=True):
        if verify is True and cert is None and trust_env:
            return tls.context()
        return made(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx._transports.default, "create_ssl_context", shared)
        yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def gateway_keys_file(settings, tmp_path):
    """The installation's own key for gateway keys, made in the test's own folder (never
    beside the repository's database)."""
    settings.GATEWAY_KEYS_SECRET = ""
    settings.GATEWAY_KEYS_FILE = tmp_path / "gateway-keys.key"
    return settings.GATEWAY_KEYS_FILE


@pytest.fixture(autouse=True)
def gateways_inside(settings):
    """Teams' gateway connections may point at 127.0.0.1, where the simulators listen
    (production refuses addresses inside its network; tests of that turn it off)."""
    settings.GATEWAYS_ALLOW_INTERNAL = True


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """A password hashed in one step: the real hasher spends half a second on every user a
    test makes (the apps the suite starts hash the same way: tests/live_settings.py)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# What WhiteNoise's files depend on, besides its own WHITENOISE_ settings.
STATIC_SETTINGS = (
    "DEBUG",
    "FORCE_SCRIPT_NAME",
    "INSTALLED_APPS",
    "STATIC_ROOT",
    "STATIC_URL",
    "STATICFILES_DIRS",
    "STATICFILES_FINDERS",
    "STORAGES",
)


def _static_settings():
    names = {*STATIC_SETTINGS, *(n for n in dir(django_settings) if n.startswith("WHITENOISE_"))}
    return repr([(name, getattr(django_settings, name, None)) for name in sorted(names)])


@pytest.fixture(autouse=True, scope="session")
def static_files_found_once():
    """Static files looked for once per settings, not once per test client.

    A server builds its middleware once; Django's test client builds it anew for each
    client, and WhiteNoise (projects.middleware.StaticFiles) then walked every static file
    and its finders again: 11 ms a client, hundreds of clients a run. What a walk found is
    kept, by the settings it depends on and the folder walked, and given to each later
    middleware as the walk itself would have (the real WhiteNoise serves it)."""
    from projects.middleware import StaticFiles

    def found_once(walk):
        found = {}

        def walk_once(self, *args):
            key = (_static_settings(), self.static_prefix, args)
            if key not in found:
                before, self.files = self.files, {}
                walk(self, *args)
                found[key], self.files = self.files, before
            self.files.update(found[key])  # later files win, as the walk's own writes do

        return walk_once

    with pytest.MonkeyPatch.context() as patch:
        for name in ("add_files_from_finders", "update_files_dictionary"):
            patch.setattr(StaticFiles, name, found_once(getattr(StaticFiles, name)))
        yield


@pytest.fixture(autouse=True)
def own_rate_counts(settings):
    """Rate limits counted afresh for each test: in Redis, counts outlive a test's rolled
    back database, and the same user ids come back in the suite's second run."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"


@pytest.fixture
def small_clips(request):
    """Whether this test's simulators render small clips (an eighth of each side, nothing
    drawn over them): yes, unless the test is marked full_clips because it looks at the
    pixels, sizes or frames of what was rendered. The answers (sizes, tokens) are the same."""
    return request.node.get_closest_marker("full_clips") is None


@pytest.fixture
def simulator(settings, small_clips, request):
    """The local simulator on a free port, configured as the provider; stopped afterwards.
    Its clips are at 24 fps, or at the rate a `simulator_fps(N)` mark asks for. Its tasks
    take 0.05 s: most tests assert clips, requests and states, not how long a task ran
    (one that must see a task queued or running says so: `simulator.delay`, or
    [sim:delay=N] in a prompt)."""
    rate = request.node.get_closest_marker("simulator_fps")
    fps = rate.args[0] if rate else 24
    with Simulator(port=0, delay=0.05, small=small_clips, fps=fps) as sim:
        settings.SEEDANCE_BASE_URL = f"{sim.url}/api/v3"
        settings.SEEDANCE_API_KEY = "test-key"
        settings.SEEDANCE_POLL_INTERVAL = 0.1
        yield sim


@pytest.fixture
def callbacks_held(simulator, monkeypatch):
    """The callbacks the simulator would send, held here and not delivered.

    Delivered, a callback reaches the live server while this test's own thread polls the
    same takes: on SQLite in memory (the suite's test database before it was a file) the
    two threads shared one connection, and a callback's statement met a commit of the
    poll's ("cannot commit transaction - SQL statements in progress"). For tests about what
    the wire carries; tests/test_webhooks.py holds the app to what a delivered callback
    does."""
    held = []
    monkeypatch.setattr(simulator, "_deliver", lambda url, body: held.append((url, body)))
    return held


_template = None


def _test_database_made():
    """Whether pytest-django made the test database: it does only for runs with a test
    that uses one."""
    from django.db import connection

    return connection.settings_dict["NAME"] == connection.creation._get_test_db_name()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file of this process's, as the app's own database
    is, not Django's default of memory with a shared cache: there a connection that meets
    another's lock on a table is told "database table is locked" at once, where on a file
    (WAL, a 30 s busy timeout) it waits its turn as it does when deployed. Each thread of a
    test (a stream's producer, a live server's request) has a connection of its own."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = tmp_path_factory.mktemp("database") / "test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(name)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, tmp_path_factory, request):
    """pytest-django's test database, and straight after its migrations, before any test
    writes to it, a copy for live_template (tests.live.template_from_the_test_database)."""
    global _template
    # A run of live apps alone (`pytest tests/test_paid_once.py`) has no test database to
    # copy: live_template migrates one for the purpose (never the developer's own).
    if _test_database_made() and not request.config.getoption("nomigrations"):
        from tests.live import template_from_the_test_database

        with django_db_blocker.unblock():
            _template = template_from_the_test_database(tmp_path_factory.mktemp("template"))
    yield
    if _template is not None:
        _template.drop()
        _template = None


@pytest.fixture(scope="session")
def live_template(django_db_setup, tmp_path_factory):
    """A migrated database, which live apps and deployments copy rather than each
    migrating a database of their own: the test database as it was migrated (see
    django_db_setup), or, where the run made none or made its tables without migrations
    (--no-migrations), a database migrated for the purpose."""
    if _template is not None:
        yield _template
        return
    from tests.live import migrated_template

    template = migrated_template(tmp_path_factory.mktemp("template"))
    yield template
    template.drop()


@pytest.fixture(scope="session")
def web_server(tmp_path_factory, live_template):
    """`uvicorn storyboard.asgi:application`, as deployments run it, for the session."""
    from tests.live import WebServer

    with WebServer(tmp_path_factory.mktemp("web"), template=live_template) as server:
        yield server


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server, one for the session; tests.s3 is imported only when S3 is used."""
    from tests.s3 import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(settings, moto_server):
    """Media storage on a fresh bucket of a real S3 endpoint; `s3.env` points other
    processes at the same bucket. Settings (and so storage) are restored afterwards."""
    from tests.s3 import empty_and_remove, new_bucket, use_s3

    bucket = new_bucket(moto_server)
    use_s3(settings, moto_server.url, bucket.name)
    yield bucket
    empty_and_remove(bucket)


class _SharedChromium:
    """Debian's Chromium under Playwright, launched once for a run of browser tests in a
    row (one browser, a new context per test) and closed when the next test needs none.

    Closed in between because Playwright's sync API leaves its event loop visible to the
    test's thread, where Django refuses database calls (SynchronousOnlyOperation): a test
    that does not ask for the browser must run without it."""

    def __init__(self):
        self.playwright = self.browser = None

    def get(self):
        if self.browser is None or not self.browser.is_connected():
            from playwright.sync_api import expect, sync_playwright

            from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

            if not shutil.which(CHROMIUM):
                pytest.fail("Debian's Chromium is needed: apt-get install chromium-headless-shell")
            self.close()
            # Playwright's assertions wait 5 s unless told otherwise, whatever a page's
            # default timeout: as long as the pages' own 20 s, for a page that takes its
            # time loading on a busy machine (two browsers and apps on two cores).
            expect.set_options(timeout=20_000)
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        return self.browser

    def close(self):
        if self.browser is not None:
            with contextlib.suppress(Exception):  # already gone with a crashed browser
                self.browser.close()
        if self.playwright is not None:
            self.playwright.stop()
        self.playwright = self.browser = None


_chromium = _SharedChromium()


@pytest.fixture(scope="session")
def _chromium_before_the_databases(django_db_setup):
    """Closes the shared Chromium, when a run ends on a browser test, before the test
    databases are torn down: set up after them, so torn down first."""
    yield
    _chromium.close()


@pytest.fixture(scope="session", autouse=True)
def _flushed_by_delete(django_db_setup):
    """On PostgreSQL, a test that commits (django_db(transaction=True)) is followed by
    Django's flush: one TRUNCATE of every table, which makes each table and index anew on
    disk, 0.3 s on a quiet machine and a second on a busy one. A DELETE of each table's
    few rows leaves the same empty tables in a fraction of that: its foreign keys are
    checked when the flush's transaction commits (Django makes them DEFERRABLE INITIALLY
    DEFERRED), by which time every table is empty. A flush that resets sequences (no test
    here asks for one) still truncates."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    operations = type(connection.ops)
    truncate = operations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ]

    operations.sql_flush = sql_flush
    yield
    operations.sql_flush = truncate


@pytest.fixture(scope="session", autouse=True)
def _live_threads_let_go_of_the_databases(django_db_setup, django_db_blocker):
    """The live stream's thread pools keep a database connection per thread between
    uses; they close them before the test databases are torn down (PostgreSQL refuses to
    drop a database someone is connected to)."""
    yield
    if "projects.live.stream" in sys.modules:
        from projects.live import hub, stream

        for pool in (hub.PRODUCERS, stream.CATCH_UPS, stream.ACCESS_CHECKS):
            hub.close_connections(pool)
    from django.db import connection

    if connection.vendor == "postgresql" and _test_database_made():
        # And any other thread's (asgiref's executors behind the async tests keep theirs).
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def shared_chromium(_chromium_before_the_databases):
    """The shared Chromium (see _SharedChromium); `browser` (tests.test_browser) is it."""
    return _chromium.get()


class _AppInARow:
    """An app for the tests that ask for the session fixture `name`: started for the first
    of them, and stopped when the next test needs it no more (pytest_runtest_teardown).
    The modules that use it run one after another (_LongestGroupsFirst orders them so),
    and the tests that follow in this process run without its processes beside them.

    `serve(folder, template)` is a generator that yields the app started, and stops it
    (failing if anything of it outlived it) when resumed."""

    def __init__(self, name, serve):
        self.name, self.serve = name, serve
        self.app = self._serving = self.folders = self.template = None

    def get(self):
        if self.app is None:
            self._serving = self.serve(self.folders.mktemp(self.name), self.template)
            self.app = next(self._serving)
        return self.app

    def close(self):
        serving, self.app, self._serving = self._serving, None, None
        if serving is not None:
            next(serving, None)

    def session(self, folders, template):
        """The session fixture's body: stopped at the end of the session at the latest,
        while the template its database was copied from is still there."""
        self.folders, self.template = folders, template
        yield self
        self.close()


class _SharedApp(_AppInARow):
    def account(self, module):
        """An account of `module`'s own on the app (tests.live Account), started if need be."""
        return self.get().account(module)


def _serve_shared_app(folder, template):
    from tests.live import SharedApp

    app = SharedApp(folder, template).start()
    yield app
    app.stop()


def _serve_every_page_app(folder, template):
    from tests.every_page import every_page_app

    yield from every_page_app(folder, template)


_shared_app = _SharedApp("shared_app", _serve_shared_app)
_every_page_app = _AppInARow("every_page_app", _serve_every_page_app)
_APPS_IN_A_ROW = (_shared_app, _every_page_app)


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory, live_template):
    """One `manage.py up` for the browser modules that can share it (tests.live SharedApp):
    a module's `app` fixture is `shared_app.account(__name__)`, an account of its own."""
    yield from _shared_app.session(tmp_path_factory, live_template)


@pytest.fixture(scope="session")
def every_page_app(tmp_path_factory, live_template):
    """The app seeded with every page that tests/test_browser.py and
    tests/test_browser_axe.py share (tests.every_page EVERY_PAGE_APP): one `manage.py up`
    and its seeding instead of one each; `.get()` it."""
    yield from _every_page_app.session(tmp_path_factory, live_template)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the test's own fixtures (and the contexts they opened) are gone first
    if nextitem is None or "shared_chromium" not in nextitem.fixturenames:
        _chromium.close()
    for app in _APPS_IN_A_ROW:
        if nextitem is None or app.name not in nextitem.fixturenames:
            app.close()


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def client(db):
    """Django's test client, held to the CSRF checks a browser meets."""
    return BrowserClient()


@pytest.fixture
def client_of(client, user):
    """The client, signed in as `user`."""
    client.force_login(user)
    return client


@pytest.fixture
def worker(broker):
    """The worker's clock and tasks, run in the test's process (tests.worker)."""
    from tests.worker import InlineWorker

    return InlineWorker(broker)


@pytest.fixture
def broker(db):
    """The task queue the app is configured with (the database, or Redis), emptied."""
    from django_q.brokers import get_broker

    queue = get_broker()
    queue.purge_queue()
    yield queue
    queue.purge_queue()


# The browser tests' two xdist groups, by module, of about equal time (near 130 s each on
# a quiet machine, beside the rest of the run): the modules with apps of their own (or
# none), and those on the shared app (tests.live SharedApp), which a module not named
# here joins.
BROWSER_GROUPS = {
    "tests.test_browser_axe": "browser-1",
    "tests.test_browser": "browser-1",
    "tests.test_browser_care": "browser-1",
    "tests.test_guard_browser": "browser-1",
    "tests.test_media_browser": "browser-1",
}
SECOND_BROWSER_GROUP = "browser-2"


@pytest.hookimpl(tryfirst=True)  # the marks are there before xdist's own hook reads them
def pytest_collection_modifyitems(config, items):
    """For pytest-xdist's `--dist loadgroup` (pyproject's addopts): the browser tests in
    two groups (BROWSER_GROUPS), each run one test after another in a process, with one
    Chromium and one shared app (tests.live SharedApp) for the modules that can share
    it; and each other file's tests together (its servers start once).

    Two groups, not one: together the browser tests take longer than a whole leg may
    (300 s) in one process, while each half fits beside the other files' tests; two
    processes then each drive a Chromium at times, which two cores bear (each test waits
    on its app more than it computes). Not a group per module: the modules on the shared
    app run in a row in one process, so that it starts once there."""
    for item in items:
        group = item.module.__name__
        if item.get_closest_marker("browser"):
            group = BROWSER_GROUPS.get(group, SECOND_BROWSER_GROUP)
        item.add_marker(pytest.mark.xdist_group(group))


# How long each test module took in a run of the suite, in seconds (the sum of its tests'
# setups, calls and teardowns): `--write-module-seconds` measures them again. Only the
# order in which xdist hands groups out depends on them; a module not there counts as
# UNMEASURED.
MODULE_SECONDS = Path(__file__).with_name("module_seconds.json")
UNMEASURED = 5


class _LongestGroupsFirst:
    """In a process of `--dist loadgroup`, after every other plugin has ordered and named
    the tests: the groups longest first, and each test named by its group.

    Longest first, because loadgroup hands groups out in the order it meets them (with
    pyproject's --no-loadscope-reorder; by default it orders them by how many tests they
    have, which puts the one-test modules that start whole deployments last): each
    process starts on a long group (the two browser groups are the longest by far), and
    the run ends on short ones, so no process is left finishing a long group alone while
    the others wait. Within a group, the modules on the shared app (those whose tests use
    `shared_app`) come one after another, so that it starts once.

    Named, because xdist groups by a suffix it writes into each test's node id, which
    pytest 9.2 no longer reads (pytest-xdist #1386): without it every test, the browser
    tests and a module's tests included, would be spread over the processes, silently.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        if not config.getvalue("loadgroup"):
            return
        ungrouped = [item.nodeid for item in items if "@" not in item.nodeid]
        if ungrouped:
            raise pytest.UsageError(
                f"--dist loadgroup found no group on {ungrouped[0]} (and "
                f"{len(ungrouped) - 1} more): see pytest-xdist #1386 and pyproject's pytest pin"
            )
        measured = json.loads(MODULE_SECONDS.read_text())
        modules = {}
        for item in items:
            modules.setdefault(item.nodeid.rpartition("@")[2], set()).add(item.module.__name__)
        seconds = {
            group: sum(measured.get(module, UNMEASURED) for module in names)
            for group, names in modules.items()
        }

        def order(item):  # stable: within a group, the order pytest and its plugins gave
            group = item.nodeid.rpartition("@")[2]
            return (-seconds[group], group, "shared_app" in item.fixturenames)

        items.sort(key=order)


class _ModuleSeconds:
    """`--write-module-seconds`: the time of each module run, into MODULE_SECONDS (in the
    process that gathers every test's report, xdist's or the only one)."""

    def __init__(self):
        self.seconds = {}

    def pytest_runtest_logreport(self, report):
        module = report.nodeid.split("::")[0].removesuffix(".py").replace("/", ".")
        self.seconds[module] = self.seconds.get(module, 0.0) + report.duration

    def pytest_sessionfinish(self, session):
        measured = json.loads(MODULE_SECONDS.read_text())  # a run of some modules: theirs
        measured.update({module: max(1, round(s)) for module, s in self.seconds.items()})
        MODULE_SECONDS.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")


def pytest_addoption(parser):
    parser.addoption(
        "--write-module-seconds",
        action="store_true",
        help="write each test module's time in this run into tests/module_seconds.json",
    )


def pytest_configure(config):
    if getattr(config.option, "loadgroup", False):  # a process of xdist's, grouping
        config.pluginmanager.register(_LongestGroupsFirst(), "longest-groups-first")
    if not hasattr(config, "workerinput"):  # once a run, before xdist starts its processes
        _compile_the_source()
        if config.getoption("write_module_seconds"):
            config.pluginmanager.register(_ModuleSeconds(), "module-seconds")
    # And pytest keeps the test modules it rewrites for their assertions (it writes them
    # only where Python may write bytecode): each process of each run rewrote and compiled
    # all of them again, 5 s or so of CPU each.
    sys.dont_write_bytecode = False


def _compile_the_source():
    """The project's source compiled once, before the run starts the hundred or so Python
    processes it does (apps, workers, simulators, manage.py commands).

    Where PYTHONDONTWRITEBYTECODE is set (as on CI's machines), Python writes no .pyc
    files, so each of those processes would compile every module it imports again: about
    a second and a half of CPU per Django process before it does anything. compileall
    writes them all the same (into the __pycache__ folders git ignores), and Python reads
    them whatever that variable says. `.ci/run` does the same for the installed packages
    (`uv sync --compile-bytecode`)."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for folder in ("projects", "storyboard", "tests"):
        compileall.compile_dir(root / folder, quiet=1, workers=1)
