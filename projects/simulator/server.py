"""The simulator's HTTP server: routes API styles, serves signed files, records and controls."""

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

from . import ark
from .engine import Engine

logger = logging.getLogger(__name__)

# Each style is a module with NAME, PREFIX, handle(call) -> (status, body) and
# task_body(task, link); it owns everything about its wire format.
STYLES = (ark,)
MAX_BODY = 64 * 1024 * 1024  # the real service's cap on a whole request
FILE_PATH = re.compile(r"/files/([A-Za-z0-9_-]+\.(mp4|png))")
FILE_TYPES = {"mp4": "video/mp4", "png": "image/png"}
RANGE = re.compile(r"bytes=(\d+)-(\d*)|bytes=-(\d+)")
CALLBACK_TRIES = 3
CALLBACK_TIMEOUT = 3.0


@dataclass
class Call:
    """One API request, as a style module sees it."""

    method: str
    path: str  # below the style's prefix
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: object
    request_id: str
    simulator: Simulator
    base_url: str

    @property
    def engine(self):
        return self.simulator.engine

    @property
    def api_key(self):
        return self.simulator.api_key

    def link(self, name, expires):
        return self.simulator.link(name, expires, self.base_url)

    def delay(self):
        """Seconds this task should take: X-Simulator-Delay if given, else the server's."""
        value = self.headers.get("X-Simulator-Delay")
        if value is None:
            return self.simulator.delay
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError("it must be a number of seconds") from None
        if not 0 <= seconds < 86400:
            raise ValueError("it must be between 0 and 86400 seconds")
        return seconds


class Simulator:
    """A local Seedance service on a real socket, speaking every style in STYLES.

    The socket is bound at construction, so `url` is known before start(); files live in
    `data_dir` (a temporary directory, removed by stop(), unless one is given).
    """

    def __init__(self, host="127.0.0.1", port=0, delay=2.0, data_dir=None, api_key=None):
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
        self.engine = Engine(self.data_dir, on_change=self._notify)
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
        with self._record_lock:
            self._recorded.clear()
        self.engine.reset()

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
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self._serving = False

    def _notify(self, task):
        if not task.callback_url or self._stopping.is_set():
            return
        style = next(style for style in STYLES if task.style == style.NAME)
        body = style.task_body(task, self.link)
        self._callbacks.submit(self._deliver, task.callback_url, body)

    def _deliver(self, url, body):
        for attempt in range(CALLBACK_TRIES):
            try:
                response = httpx.post(url, json=body, timeout=CALLBACK_TIMEOUT)
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
            return self._control(parts.path)
        for style in STYLES:
            if parts.path == style.PREFIX or parts.path.startswith(style.PREFIX + "/"):
                return self._api(style, parts.path, query, body)
        self._send_json(404, {"error": {"code": "NotFound", "message": f"No route {parts.path}"}})

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

    def _api(self, style, path, query, body):
        headers = {_canonical(name): value for name, value in self.headers.items()}
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.simulator._record(
            {
                "method": self.command,
                "path": path,
                "query": query,
                "headers": headers,
                "json": parsed,
            }
        )
        request_id = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(12)
        host = self.headers.get("Host")
        call = Call(
            method=self.command,
            path=path[len(style.PREFIX) :],
            query=query,
            headers=headers,
            json=parsed,
            request_id=request_id,
            simulator=self.simulator,
            base_url=f"http://{host}" if host else self.simulator.url,
        )
        try:
            status, answer = style.handle(call)
        except Exception:
            logger.exception("%s %s failed", self.command, path)
            status = 500
            answer = {"error": {"code": "InternalServiceError", "message": "Simulator bug."}}
        self._send_json(status, answer, {"X-Request-Id": request_id})

    def _control(self, path):
        simulator = self.simulator
        if path == "/_simulator/requests" and self.command == "GET":
            return self._send_json(200, simulator.requests)
        if path == "/_simulator/stats" and self.command == "GET":
            return self._send_json(200, simulator.engine.stats())
        if path == "/_simulator/reset" and self.command == "POST":
            simulator.reset()
            return self._send_json(200, {})
        self._send_json(404, {"error": {"code": "NotFound", "message": f"No route {path}"}})

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
        path = self.simulator.data_dir / name
        try:
            file = path.open("rb")
        except FileNotFoundError:
            return self._send_xml(404, "NoSuchKey", "The specified key does not exist.")
        with file:
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
            self.send_header("Content-Type", FILE_TYPES[extension])
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if self.command == "GET":
                self.connection.sendfile(file, start, end - start + 1)

    def _send_json(self, status, body, headers=None):
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _send_xml(self, status, code, message):
        body = f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{code}</Code>"
        body += f"<Message>{message}</Message></Error>"
        self._send(status, body.encode(), "application/xml", None)

    def _send(self, status, payload, content_type, headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _canonical(name):
    return "-".join(part.capitalize() for part in name.split("-"))
