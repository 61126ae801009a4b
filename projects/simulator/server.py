"""The simulator's HTTP server: routes API styles, serves signed files, records, injects faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from .. import tls
from . import ark, dieyuyun, futurmix, openai_videos, wisgate
from .engine import Busy, Engine, TaskError
from .faults import (
    HANG_SECONDS,
    MAX_DELAY,
    Action,
    Faults,
    read_directives,
    retry_after_headers,
)
from .inputs import DEFAULT_EXPIRES, InputError
from .limits import Limits, RateLimited
from .render import RATES
from .wire import ApiError, FileAnswer, Style

logger = logging.getLogger(__name__)

# Each style module owns everything about its wire format and describes it as a Style.
STYLES = {
    style.name: style
    for style in (ark.STYLE, dieyuyun.STYLE, wisgate.STYLE, openai_videos.STYLE, futurmix.STYLE)
}
MAX_BODY = 64 * 1024 * 1024  # the real service's cap on a whole request
FILE_PATH = re.compile(r"/files/([A-Za-z0-9_-]+\.(mp4|png))")
FILE_TYPES = {"mp4": "video/mp4", "png": "image/png"}
RANGE = re.compile(r"bytes=(\d+)-(\d*)|bytes=-(\d+)")
CALLBACK_TRIES = 3
CALLBACK_TIMEOUT = 3.0
# An object store's error codes, for faults on signed file downloads.
XML_CODES = {400: "InvalidArgument", 401: "AccessDenied", 403: "AccessDenied", 429: "SlowDown"}


@dataclass
class Call:
    """One API request, as a style's views see it."""

    style: Style
    method: str
    path: str  # below the style's prefix
    full_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: object
    request_id: str
    simulator: Simulator
    base_url: str
    # How the task this request creates or reads must end, when a fault says so.
    fate: TaskError | None = None
    # Seconds a list lags behind creates, when a fault says so: newer tasks are left out.
    lag: float = 0.0

    @property
    def engine(self):
        return self.simulator.engine

    @property
    def api_key(self):
        return self.simulator.api_key

    def link(self, name, expires):
        return self.simulator.link(name, expires, self.base_url)

    def create(
        self,
        *,
        prompt,
        return_last_frame=False,
        callback_url=None,
        expires_after=DEFAULT_EXPIRES,
        **fields,
    ):
        """Create this request's task from the rest of Task's fields; return a snapshot.

        Prompt directives come out of the prompt here, and set its fate, delay and ending.
        """
        prompt, fate, delay, ending = read_directives(prompt, self.style.prompt_param)
        try:
            return self.engine.create(
                new_id=self.style.new_id,
                max_active=self.simulator._limits.concurrency(self.style.name),
                style=self.style.name,
                prompt=prompt,
                delay=self._delay() if delay is None else delay,
                # A fault on the request outranks a directive in its prompt.
                fate=self.fate or fate,
                ending=ending,
                return_last_frame=return_last_frame,
                callback_url=callback_url,
                expires_after=expires_after,
                **fields,
            )
        except Busy as busy:
            raise self.style.error(
                "rate_limit",
                f"At most {busy.limit} tasks may be unfinished at once; retry when one is done.",
                retry_after=busy.retry_after,
            ) from None

    def task(self, task_id):
        """This style's task `task_id`, after any fault has ended it; else a 404."""
        task = self.engine.get(task_id)
        # Each style stands for its own service, which knows only the tasks made through it.
        if task is None or task.style != self.style.name:
            raise self.style.error("not_found", f"The specified task {task_id} is not found.")
        if self.fate:
            task = self.engine.finish(task_id, self.fate) or task
        return task

    def _delay(self):
        """Seconds the task should take: X-Simulator-Delay if given, else the server's."""
        value = self.headers.get("X-Simulator-Delay")
        if value is None:
            return self.simulator.delay
        try:
            seconds = float(value)
        except ValueError:
            raise InputError("it must be a number of seconds", "X-Simulator-Delay") from None
        if not 0 <= seconds < MAX_DELAY:
            raise InputError(f"it must be 0-{MAX_DELAY} seconds", "X-Simulator-Delay")
        return seconds


class Simulator:
    """A local Seedance service on a real socket, speaking every style in STYLES.

    The socket is bound at construction, so `url` is known before start(); files live in
    `data_dir` (a temporary directory, removed by stop(), unless one is given). With
    `limits`, each style enforces the rate and concurrency limits its documents state.
    With `small`, clips are rendered at an eighth of each side, without text or blurs, for
    tests that never look at pixels; every answer still speaks of the size asked for.
    `fps` (24, 25 or 30) is the frame rate of its clips, as a gateway's might differ.
    """

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        delay=2.0,
        data_dir=None,
        api_key=None,
        limits=False,
        small=False,
        fps=24,
    ):
        if fps not in RATES:
            raise ValueError(f"a simulator renders at {', '.join(map(str, RATES))} fps")
        # Bind first: a port in use must not leave a temporary directory behind.
        self._httpd = _Server((host, port), _Handler)
        self._httpd.simulator = self
        self.delay = delay
        self.api_key = api_key
        self._own_dir = data_dir is None
        if data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="seedance-simulator-"))
        else:
            self.data_dir = Path(data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self._key = secrets.token_bytes(32)
        self._recorded = []
        self._record_lock = threading.Lock()
        self._stopping = threading.Event()
        self._callbacks = ThreadPoolExecutor(1, thread_name_prefix="simulator-callback")
        self._faults = Faults(STYLES)
        self._limits = Limits()
        if limits:
            for style in STYLES.values():
                if style.limits:
                    self._limits.set(style.name, **style.limits)
        self.engine = Engine(self.data_dir, on_change=self._notify, small=small, fps=fps)
        self._thread = None
        self._serving = False
        self._started = False

    @property
    def url(self):
        host, port = self._httpd.server_address[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    @property
    def requests(self):
        with self._record_lock:
            return list(self._recorded)

    @property
    def create_count(self):
        return self.engine.create_count

    @property
    def creates_by_style(self):
        return self.engine.creates_by_style

    def base_url(self, style="ark"):
        """What a client of `style` is configured with to reach this simulator."""
        return self.url + self._style(style).prefixes[0]

    def add_fault(self, op, action, *, style=None, count=None):
        """Make the next `count` (None: every) `op` requests of `style` (None: any) fail.

        `op` is create, get, list, cancel, download or "*"; `action` a dict such as
        {"status": 429, "retry_after": 2}, {"latency": 1.5}, {"timeout": True},
        {"lose_answer": True}, {"expire": True}, {"moderation": True} or {"fail": True}.
        The first rule that matches a request applies to it. Raises ValueError.
        """
        self._faults.add(op, action, style=style, count=count)

    def clear_faults(self):
        self._faults.clear()

    def set_limits(self, style, *, rpm=None, per_day=None, concurrency=None):
        """Enforce these limits on `style` from now on, None lifting one; beyond them, 429.

        rpm and per_day count the style's API requests, concurrency its unfinished tasks.
        """
        self._limits.set(self._style(style).name, rpm=rpm, per_day=per_day, concurrency=concurrency)

    def start(self):
        """Serve in a daemon thread and return at once."""
        self._begin()
        self._thread = threading.Thread(target=self._serve, name="simulator-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        """Serve in the calling thread until stop() is called elsewhere or it is interrupted."""
        self._begin()
        self._serve()

    def stop(self):
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._serving:
            self._httpd.shutdown()
        if self._thread:
            self._thread.join()
        self._httpd.server_close()
        self.engine.close()
        self._callbacks.shutdown(wait=True, cancel_futures=True)
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def reset(self):
        """Forget requests, tasks and fault rules; limits stay set, with their counts cleared."""
        with self._record_lock:
            self._recorded.clear()
        self.engine.reset()
        self._faults.clear()
        self._limits.reset()

    def link(self, name, expires, base_url=None):
        """A signed URL for one of the task files, like an object store's presigned link."""
        signature = self._sign(name, expires)
        return f"{base_url or self.url}/files/{name}?expires={expires}&signature={signature}"

    def _check_link(self, name, expires, signature):
        """None when the link is good, else why not (for a 403)."""
        try:
            expires_at = int(expires)
        except ValueError:
            return "The request signature we calculated does not match the signature you provided."
        if not hmac.compare_digest(self._sign(name, expires_at).encode(), signature.encode()):
            return "The request signature we calculated does not match the signature you provided."
        if expires_at < time.time():
            return "Request has expired."
        return None

    def _style(self, name):
        try:
            return STYLES[name]
        except KeyError:
            raise ValueError(f"style must be one of {', '.join(STYLES)}") from None

    def _record(self, entry):
        with self._record_lock:
            self._recorded.append(entry)

    def _sign(self, name, expires):
        return hmac.new(self._key, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def _begin(self):
        if self._started:
            raise RuntimeError("this simulator has already been started")
        self._started = True
        # Set before the loop runs, so a stop() right after start() still shuts it down.
        self._serving = True
        self.engine.start()

    def _serve(self):
        try:
            # How long stop() waits for the loop to notice: the test suite stops a
            # simulator after most of its tests, so a tenth of a second adds up.
            self._httpd.serve_forever(poll_interval=0.01)
        finally:
            self._serving = False

    def _notify(self, task):
        if not task.callback_url or self._stopping.is_set():
            return
        body = STYLES[task.style].task_body(task, self.link)
        self._callbacks.submit(self._deliver, task.callback_url, body)

    def _deliver(self, url, body):
        for attempt in range(CALLBACK_TRIES):
            try:
                response = httpx.post(
                    url, json=body, timeout=CALLBACK_TIMEOUT, verify=tls.context()
                )
                if response.is_success:
                    return
            except httpx.HTTPError:
                pass
            if self._stopping.wait(0.2 * (attempt + 1)):
                return
        logger.info("callback to %s for %s gave up after %d tries", url, body["id"], CALLBACK_TRIES)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    simulator: Simulator

    def handle_error(self, request, client_address):
        # A client hanging up mid-answer is normal; anything else deserves a trace.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            logger.exception("error while answering %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SeedanceSimulator/1.0"
    # Idle keep-alive connections give their thread back after this long.
    timeout = 30

    def do_GET(self):
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_GET

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    @property
    def simulator(self):
        return self.server.simulator

    def _dispatch(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        body = self._read_body()
        if body is None:
            return
        if match := FILE_PATH.fullmatch(parts.path):
            return self._serve_file(match[1], match[2], query)
        if parts.path.startswith("/_simulator/"):
            return self._control(parts.path, body)
        if parts.path == "/v1/chat/completions" and self.command == "POST":
            return self._chat(body)
        for style in STYLES.values():
            for prefix in style.prefixes:
                if parts.path == prefix or parts.path.startswith(prefix + "/"):
                    return self._api(style, prefix, parts.path, query, body)
        self._send_json(404, {"error": {"code": "NotFound", "message": f"No route {parts.path}"}})

    def _chat(self, body):
        """An OpenAI-style chat completion: a script broken down into shots, decided by
        the text alone (simulator.chat), recorded like every API call."""
        from .chat import complete

        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        headers = {_canonical(name): value for name, value in self.headers.items()}
        self.simulator._record(
            {"style": "chat", "method": "POST", "path": "/v1/chat/completions", "query": {},
             "headers": headers, "json": parsed, "at": time.time(),
             "peer": self.client_address[1]}
        )  # fmt: skip
        status, answer = complete(parsed)
        self._send_json(status, answer)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_json(
                411, {"error": {"code": "LengthRequired", "message": "Send a body length."}}
            )
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            message = "Send a Content-Length of at most 64 MB."
            self._send_json(413, {"error": {"code": "RequestTooLarge", "message": message}})
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def _api(self, style, prefix, path, query, body):
        simulator = self.simulator
        headers = {_canonical(name): value for name, value in self.headers.items()}
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        simulator._record(
            {
                "style": style.name,
                "method": self.command,
                "path": path,
                "query": query,
                "headers": headers,
                "json": parsed,
                "at": time.time(),  # when it arrived, for timing what the client does
                # The client's source port: one per connection, so reuse of one shows.
                "peer": self.client_address[1],
            }
        )
        host = self.headers.get("Host")
        call = Call(
            style=style,
            method=self.command,
            path=path[len(prefix) :],
            full_path=path,
            query=query,
            headers=headers,
            json=parsed,
            request_id=time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(12),
            simulator=simulator,
            base_url=f"http://{host}" if host else simulator.url,
        )
        action = None
        try:
            route, groups = style.resolve(call)
            simulator._limits.admit(style.name)
            action = self._fault(route.op, style.name)
            if action:
                self._suffer(action)
                if action.timeout:
                    return
                if action.no_route:
                    raise style.error(
                        "no_route", f"The requested resource {self.command} {path} is not found."
                    )
                if action.status and not action.after:
                    raise _fault_error(style, action)
                call.fate, call.lag = action.fate, action.lag
                if action.result_host:
                    call.base_url = _elsewhere(call.base_url, action.result_host)
            answer = route.view(call, *groups)
            if action and action.after:
                # The work is done (a task made, cancelled or read), yet the client hears
                # an error: a proxy that timed out while its upstream went on.
                answer = _fault_error(style, action)
            elif action:
                answer = action.reword(answer)
        except RateLimited as limited:
            answer = style.error("rate_limit", str(limited), retry_after=limited.retry_after)
        except InputError as refused:
            answer = style.refusal(refused)
        except ApiError as error:
            answer = error
        except Exception:
            logger.exception("%s %s failed", self.command, path)
            answer = style.error("server_error", "Simulator bug.")
        if action and action.lose_answer:
            # As if the network dropped the answer: the work is done, the client never hears.
            self.close_connection = True
            return
        headers = {"X-Request-Id": call.request_id}
        if (
            prefix in style.false_gzip_prefixes
            and self.headers.get("Accept-Encoding") != "identity"
        ):
            headers["Content-Encoding"] = "gzip"
        if isinstance(answer, FileAnswer):
            try:
                return self._send_file(answer.path, answer.content_type)
            except FileNotFoundError:
                answer = style.error("not_found", "The video file is gone.")
        if isinstance(answer, ApiError):
            headers.update(retry_after_headers(answer.retry_after, answer.retry_after_as))
            body = style.error_body(answer, call.request_id)
            return self._send_json(answer.status, body, headers)
        self._send_json(200, answer, headers)

    def _fault(self, op, style_name):
        """The fault for this request: its X-Simulator-Fault header's, else a rule's, or None."""
        header = self.headers.get("X-Simulator-Fault")
        if header is None:
            return self.simulator._faults.take(op, style_name)
        action = Action.from_header(header)
        if op not in action.ops():
            raise InputError(
                f"this action applies to {' and '.join(action.ops())} only", "X-Simulator-Fault"
            )
        return action

    def _suffer(self, action):
        """Apply an action's delay: its latency, or a timeout's hold before hanging up."""
        stopping = self.simulator._stopping
        if action.timeout:
            # Like a service that took the request and never got round to answering it.
            stopping.wait(HANG_SECONDS)
            self.close_connection = True
        elif action.latency:
            stopping.wait(action.latency)

    def _control(self, path, body):
        simulator = self.simulator
        if path == "/_simulator/requests" and self.command == "GET":
            return self._send_json(200, simulator.requests)
        if path == "/_simulator/stats" and self.command == "GET":
            return self._send_json(200, simulator.engine.stats())
        if path == "/_simulator/reset" and self.command == "POST":
            simulator.reset()
            return self._send_json(200, {})
        if path == "/_simulator/faults":
            if self.command == "GET":
                return self._send_json(200, simulator._faults.describe())
            if self.command == "DELETE":
                simulator.clear_faults()
                return self._send_json(200, {})
            if self.command == "POST":
                return self._add_fault(body)
        self._send_json(404, {"error": {"code": "NotFound", "message": f"No route {path}"}})

    def _add_fault(self, body):
        try:
            spec = json.loads(body)
            if not isinstance(spec, dict):
                raise ValueError("send a JSON object: op, style, count and the action")
            rule = {key: spec.pop(key, None) for key in ("op", "style", "count")}
            self.simulator.add_fault(rule["op"], spec, style=rule["style"], count=rule["count"])
        except ValueError as exc:
            error = {"code": "InvalidFault", "message": str(exc)}
            return self._send_json(400, {"error": error})
        self._send_json(200, {})

    def _serve_file(self, name, extension, query):
        if self.command not in ("GET", "HEAD"):
            return self._send_xml(405, "MethodNotAllowed", "Only GET and HEAD are allowed.")
        if "Authorization" in self.headers:
            # Presigned object-store links refuse a second way of signing in.
            return self._send_xml(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; do not send Authorization.",
            )
        expires = query.get("expires", [""])[-1]
        signature = query.get("signature", [""])[-1]
        if problem := self.simulator._check_link(name, expires, signature):
            return self._send_xml(403, "AccessDenied", problem)
        # A download fault can target a style: the one the file's task was made through.
        task = self.simulator.engine.get(name.partition(".")[0])
        try:
            action = self._fault("download", task.style if task else None)
        except InputError as refused:
            return self._send_xml(400, "InvalidArgument", str(refused))
        if action:
            self._suffer(action)
            if action.timeout:
                return
            if action.status:
                code = action.code or XML_CODES.get(action.status, "InternalError")
                headers = retry_after_headers(action.retry_after, action.retry_after_as)
                message = action.message or "The service is failing on purpose."
                return self._send_xml(action.status, code, message, headers)
        try:
            self._send_file(self.simulator.data_dir / name, FILE_TYPES[extension])
        except FileNotFoundError:
            self._send_xml(404, "NoSuchKey", "The specified key does not exist.")

    def _send_file(self, path, content_type):
        """Send a file, or one byte range of it; FileNotFoundError before anything is sent."""
        with path.open("rb") as file:
            # The open file, not the path: a task deleted meanwhile still serves in full.
            size = os.fstat(file.fileno()).st_size
            start, end, status = 0, size - 1, 200
            # One range is enough for a browser's <video> to seek.
            if match := RANGE.fullmatch(self.headers.get("Range", "")):
                first, last, suffix = match.groups()
                if suffix:
                    start = max(0, size - int(suffix))
                else:
                    start = int(first)
                    end = min(int(last), end) if last else end
                if start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if self.command == "GET":
                self.connection.sendfile(file, start, end - start + 1)

    def _send_json(self, status, body, headers=None):
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _send_xml(self, status, code, message, headers=None):
        body = f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{code}</Code>"
        body += f"<Message>{message}</Message></Error>"
        self._send(status, body.encode(), "application/xml", headers)

    def _send(self, status, payload, content_type, headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _fault_error(style, action):
    """The refusal a status fault asks for, in the style's words unless it gives its own."""
    if action.status >= 500:
        kind = "server_error"
    else:
        kind = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limit"}
        kind = kind.get(action.status, "invalid")
    return style.error(
        kind,
        action.message,
        status=action.status,
        code=action.code,
        retry_after=action.retry_after,
        retry_after_as=action.retry_after_as,
    )


def _elsewhere(base_url, host):
    """`base_url` moved to another host, keeping its port unless `host` gives one."""
    if ":" not in host:
        port = urlsplit(base_url).port
        host = f"{host}:{port}" if port else host
    return f"http://{host}"


def _canonical(name):
    return "-".join(part.capitalize() for part in name.split("-"))
