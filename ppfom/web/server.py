"""The web page's server: Starlette on uvicorn, on 127.0.0.1 unless told otherwise.

Routes (anything else is a 404):

    GET  /  and  /app.js              the upload page and its script (package data)
    GET  /live  and  /live.js         the live page (camera drives a photo) and its script
    GET  /api/config                  the upload limit, option defaults and live models the pages show
    POST /api/jobs                    multipart: "source" photo, "driving" video, options -> job id
    GET  /api/jobs/<id>               the job's status as JSON (state, frames done, percent, message)
    GET  /api/jobs/<id>/result.mp4    the finished video
    WS   /api/live                    the live stream (protocol in :mod:`.live_socket`)

A job id is matched against a strict pattern and looked up in a dict; files are opened
only at names the job itself made, in its own temporary folder. Bodies larger than the
upload limit are refused from their Content-Length, before a byte is read. When serving
localhost, other Host names (DNS rebinding) and other origins' WebSockets are refused.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict
from http import HTTPStatus
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import uploads
from .jobs import RESULT, Busy, Job, JobQueue, Options
from .live_socket import LiveHub, live_socket
from .uploads import Refused

log = logging.getLogger("ppfom.web")

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/live": ("live.html", "text/html; charset=utf-8"),
          "/live.js": ("live.js", "text/javascript; charset=utf-8")}
JOB_PATH = re.compile(r"/api/jobs/(?P<id>[A-Za-z0-9_-]{22})(?P<result>/" + re.escape(RESULT) + ")?")
MAX_WS_MESSAGE = 12 * 2**20  # larger WebSocket messages close that connection (1009); see live_socket

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; media-src 'self' blob:; "
                               "img-src 'self' blob: data:",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: the Host (and a WebSocket's Origin) check, and security headers on every response."""

    def __init__(self, app: ASGIApp, host: str, port_of: Callable[[], int]):
        self.app = app
        self.host = host
        self.port_of = port_of  # the port is known only once the socket is bound

    def allowed(self, scope: Scope) -> bool:
        """Serving localhost, only its own names may be asked for, so that a page elsewhere cannot reach
        this server through a name it points at 127.0.0.1 (DNS rebinding). A WebSocket's Origin must be
        the page's own, whatever the address: browsers let any site open a socket to any server."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if is_loopback(self.host):
            names = {f"{name}:{self.port_of()}" for name in ("127.0.0.1", "localhost", "[::1]")}
            if host not in names:
                return False
        origin = headers.get("origin")  # browsers send it with every WebSocket
        return scope["type"] != "websocket" or origin is None or origin in (f"http://{host}", f"https://{host}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not self.allowed(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.allowed(scope):
            response = JSONResponse({"error": f"open the page at http://127.0.0.1:{self.port_of()}/"},
                                    HTTPStatus.FORBIDDEN)
            await response(scope, receive, self._headers(send))
            return
        await self.app(scope, receive, self._headers(send))

    @staticmethod
    def _headers(send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                                        if k.encode() not in names)]
            await send(message)
        return send_with_headers


class Pages:
    """The HTTP routes, over the jobs, the upload limit and the live models."""

    def __init__(self, jobs: JobQueue, max_upload_bytes: int, hub: LiveHub):
        self.jobs = jobs
        self.max_upload_bytes = max_upload_bytes
        self.hub = hub

    async def dispatch(self, request: Request) -> Response:
        # The raw path, not a decoded one: %2F and friends never become separators.
        path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or request.url.path
        try:
            if request.method == "POST":
                return await self.post(request, path)
            return self.get(path)
        except Refused as err:
            headers = {"connection": "close"} if request.method == "POST" else None
            return JSONResponse({"error": str(err)}, err.status, headers=headers)

    def get(self, path: str) -> Response:
        if path in STATIC:
            name, content_type = STATIC[path]
            return Response(resources.files(__package__).joinpath("static", name).read_bytes(),
                            media_type=content_type)
        if path == "/api/config":
            return JSONResponse({"max_upload_mb": self.max_upload_bytes / 2**20, "defaults": asdict(Options()),
                                 "accept": {name: list(exts) for name, (_, exts) in uploads.UPLOADS.items()},
                                 "live_models": self.hub.models.describe()})
        if (match := JOB_PATH.fullmatch(path)) is None:
            raise Refused(HTTPStatus.NOT_FOUND, "no such page")
        job = self._job(match["id"])
        if match["result"]:
            if job.state != "done":
                raise Refused(HTTPStatus.CONFLICT, f"the job is {job.state}, not done")
            return FileResponse(job.result, media_type="video/mp4", filename="ppfom-result.mp4")
        return JSONResponse(job.status())

    async def post(self, request: Request, path: str) -> Response:
        if path != "/api/jobs":
            raise Refused(HTTPStatus.NOT_FOUND, "no such page")
        # A custom header makes browsers ask first (CORS preflight, never granted) before
        # another site's page could post here.
        if request.headers.get("x-requested-with") != "ppfom":
            raise Refused(HTTPStatus.FORBIDDEN, "uploads come from the ppfom page only")
        length = uploads.content_length(request.headers, self.max_upload_bytes)
        try:
            job = self.jobs.new()
        except Busy as err:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, str(err)) from None
        try:
            options = await uploads.receive(request, job, length)
        except BaseException:
            self.jobs.discard(job)
            raise
        self.jobs.submit(job, options)
        return JSONResponse(job.status(), HTTPStatus.ACCEPTED)

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise Refused(HTTPStatus.NOT_FOUND, "no such job: finished jobs are deleted after a while, "
                                                "and all when the server stops")
        return job


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (a method not allowed, ...) as the same JSON one-liners."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"error": str(getattr(exc, "detail", "")) or HTTPStatus(status).phrase.lower()}, status)


class WebServer:
    """The bound socket, the app and uvicorn; ``serve_forever`` until ``shutdown``."""

    def __init__(self, host: str, port: int, jobs: JobQueue, max_upload_bytes: int, hub: LiveHub):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(64)  # connections wait in the backlog until uvicorn serves
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()[:2]
        self.jobs, self.max_upload_bytes, self.hub = jobs, max_upload_bytes, hub
        self.app = self._app(host)
        self._uvicorn = None
        self._stopped = threading.Event()

    def _app(self, host: str) -> ASGIApp:
        pages = Pages(self.jobs, self.max_upload_bytes, self.hub)
        app = Starlette(routes=[WebSocketRoute("/api/live", live_socket),
                                Route("/{path:path}", pages.dispatch, methods=["GET", "POST"])],
                        exception_handlers={HTTPException: _http_error})
        app.state.hub = self.hub
        return Guard(app, host, lambda: self.server_address[1])

    @property
    def started(self) -> bool:
        return self._uvicorn is not None and self._uvicorn.started

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def serve_forever(self) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                ws="auto", ws_max_size=MAX_WS_MESSAGE, timeout_keep_alive=5)
        self._uvicorn = uvicorn.Server(config)
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Make ``serve_forever`` return (from another thread), and wait until it has."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            self._stopped.wait(timeout)

    def server_close(self) -> None:
        """Close the socket, stop live sessions and delete every job's files."""
        self.socket.close()
        self.hub.close()
        self.jobs.close()


def create_server(predictors, host: str = "127.0.0.1", port: int = 7860, max_upload_mb: float = 200,
                  ttl: float = 3600.0, live: LiveHub | None = None) -> WebServer:
    """A server (bound, not yet serving) whose jobs call ``predictors(options)`` for a FirstOrderPredictor.

    ``port=0`` picks a free port (see ``server.url``). Closing the server deletes all uploads.
    ``live``: the live page's models (default: the bundled demo model, and mobile / vox-256 where
    their weights are in $PPFOM_HOME).
    """
    return WebServer(host, port, JobQueue(predictors, ttl=ttl), int(max_upload_mb * 1024 * 1024),
                     live or LiveHub())
