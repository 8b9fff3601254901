"""The web page's HTTP server: the standard library only, on 127.0.0.1 unless told otherwise.

Routes (anything else is a 404):

    GET  /  and  /app.js              the page and its script (package data)
    GET  /api/config                  the upload limit and option defaults the page shows
    POST /api/jobs                    multipart: "source" photo, "driving" video, options -> job id
    GET  /api/jobs/<id>               the job's status as JSON (state, frames done, percent, message)
    GET  /api/jobs/<id>/result.mp4    the finished video

A job id is matched against a strict pattern and looked up in a dict; files are opened
only at names the job itself made, in its own temporary folder. Bodies larger than the
upload limit are refused from their Content-Length, before a byte is read.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import shutil
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from ..errors import PpfomError
from . import multipart
from .jobs import RESULT, Busy, Job, JobQueue, Options

log = logging.getLogger("ppfom.web")

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8")}
JOB_PATH = re.compile(r"/api/jobs/(?P<id>[A-Za-z0-9_-]{22})(?P<result>/" + re.escape(RESULT) + ")?")

# The uploads a job takes: field name -> (content type family, accepted extensions).
UPLOADS = {
    "source": ("image/", (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")),
    "driving": ("video/", (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")),
}
LABELS = {"source": "photo", "driving": "driving video"}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; media-src 'self' blob:",
}


class Refused(Exception):
    """A request the server turns down, with its HTTP status and a one-line reason."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class WebServer(ThreadingHTTPServer):
    """The HTTP server plus what every request needs: the jobs and the upload limit."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], jobs: JobQueue, max_upload_bytes: int):
        self.jobs = jobs
        self.max_upload_bytes = max_upload_bytes
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.jobs.close()


def create_server(predictors, host: str = "127.0.0.1", port: int = 7860, max_upload_mb: float = 200,
                  ttl: float = 3600.0) -> WebServer:
    """A server (not yet serving) whose jobs call ``predictors(options)`` for a FirstOrderPredictor.

    ``port=0`` picks a free port (see ``server.url``). Closing the server deletes all uploads.
    """
    return WebServer((host, port), JobQueue(predictors, ttl=ttl), int(max_upload_mb * 1024 * 1024))


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    """One request: route it, answer JSON or a file, and turn refusals into one-line errors."""

    server: WebServer
    server_version = "ppfom-web"
    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds a client may stall mid-request

    def do_GET(self) -> None:
        self._handle(self._get)

    def do_POST(self) -> None:
        self.close_connection = True  # until the whole body is read, the connection cannot go on
        self._handle(self._post)

    def _handle(self, route) -> None:
        try:
            self._check_host()
            route(urlsplit(self.path).path)
        except Refused as err:
            self._json({"error": str(err)}, err.status)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _check_host(self) -> None:
        """Refuse other Host names when serving localhost, so that a web page elsewhere cannot
        reach this server through a name it points at 127.0.0.1 (DNS rebinding)."""
        host, port = self.server.server_address[:2]
        if not is_loopback(host):
            return
        allowed = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        if self.headers.get("Host", "") not in allowed:
            raise Refused(HTTPStatus.FORBIDDEN, "open the page at " + self.server.url)

    def _get(self, path: str) -> None:
        if path in STATIC:
            name, content_type = STATIC[path]
            self._send(HTTPStatus.OK, resources.files(__package__).joinpath("static", name).read_bytes(),
                       content_type)
        elif path == "/api/config":
            self._json({"max_upload_mb": self.server.max_upload_bytes / 2**20, "defaults": asdict(Options()),
                        "accept": {name: list(exts) for name, (_, exts) in UPLOADS.items()}})
        elif (match := JOB_PATH.fullmatch(path)) is None:
            raise Refused(HTTPStatus.NOT_FOUND, "no such page")
        elif match["result"]:
            self._download(self._job(match["id"]))
        else:
            self._json(self._job(match["id"]).status())

    def _post(self, path: str) -> None:
        if path != "/api/jobs":
            raise Refused(HTTPStatus.NOT_FOUND, "no such page")
        # A custom header makes browsers ask first (CORS preflight, never granted) before
        # another site's page could post here.
        if self.headers.get("X-Requested-With") != "ppfom":
            raise Refused(HTTPStatus.FORBIDDEN, "uploads come from the ppfom page only")
        length = self._content_length()
        try:
            job = self.server.jobs.new()
        except Busy as err:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, str(err)) from None
        try:
            options = self._receive(job, length)
        except BaseException:
            self.server.jobs.discard(job)
            raise
        self.server.jobs.submit(job, options)
        self._json(job.status(), HTTPStatus.ACCEPTED)

    def _content_length(self) -> int:
        """The body's declared size, refused above the limit before any of it is read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "send the upload with a Content-Length")
        text = self.headers.get("Content-Length", "")
        if not text.isdigit():
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "send the upload with a Content-Length")
        length = int(text)
        if length > self.server.max_upload_bytes:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"the upload is {length / 2**20:.1f} MB: the limit is "
                          f"{self.server.max_upload_bytes / 2**20:g} MB for the photo and video together")
        return length

    def _receive(self, job: Job, length: int) -> Options:
        """Stream the body into the job's folder; return the options the form carried."""
        try:
            form = multipart.parse(self.rfile, length, self.headers.get("Content-Type", ""),
                                   lambda part: open_upload(job, part))
            options = Options.from_form(form)
        except (multipart.MultipartError, PpfomError) as err:
            raise Refused(HTTPStatus.BAD_REQUEST, str(err)) from None
        self.close_connection = False  # the whole body was read
        missing = [LABELS[name] for name in UPLOADS if name not in job.inputs]
        if missing:
            raise Refused(HTTPStatus.BAD_REQUEST, "choose a " + " and a ".join(missing))
        empty = [LABELS[name] for name, path in job.inputs.items() if os.path.getsize(path) == 0]
        if empty:
            raise Refused(HTTPStatus.BAD_REQUEST, f"the {' and the '.join(empty)} file is empty")
        return options

    def _job(self, job_id: str) -> Job:
        job = self.server.jobs.get(job_id)
        if job is None:
            raise Refused(HTTPStatus.NOT_FOUND, "no such job: finished jobs are deleted after a while, "
                                                "and all when the server stops")
        return job

    def _download(self, job: Job) -> None:
        if job.state != "done":
            raise Refused(HTTPStatus.CONFLICT, f"the job is {job.state}, not done")
        with open(job.result, "rb") as video:
            size = os.fstat(video.fileno()).st_size
            self._headers(HTTPStatus.OK, "video/mp4", size,
                          {"Content-Disposition": 'attachment; filename="ppfom-result.mp4"'})
            shutil.copyfileobj(video, self.wfile, 1 << 16)

    def _json(self, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self._headers(status, content_type, len(body))
        self.wfile.write(body)

    def _headers(self, status: HTTPStatus, content_type: str, length: int, extra: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": content_type, "Content-Length": str(length),
                           "Cache-Control": "no-store", **SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the debug log: the page polls twice a second."""
        log.debug("%s " + format, self.address_string(), *args)


def open_upload(job: Job, part: multipart.Part) -> BinaryIO:
    """The file a part of the upload is written to: the job's folder, a name made here from the
    field, and an extension only from the list of accepted ones."""
    if part.name not in UPLOADS:
        raise multipart.MultipartError(f"unexpected file field '{part.name[:40]}'")
    family, extensions = UPLOADS[part.name]
    label = LABELS[part.name]
    if part.name in job.inputs:
        raise multipart.MultipartError(f"send one {label}, not several")
    if not part.filename:
        raise multipart.MultipartError(f"choose a {label}")
    suffix = os.path.splitext(part.filename)[1].lower()
    if suffix not in extensions:
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"the {label} must be a {', '.join(extensions)} file")
    if not (part.content_type.startswith(family) or part.content_type == "application/octet-stream"):
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                      f"the {label} was sent as {part.content_type[:40]}, not {family}*")
    # Only our own strings make the name: the field (a key of UPLOADS) and a listed extension.
    path = job.folder / (part.name + extensions[extensions.index(suffix)])
    job.inputs[part.name] = path
    return open(path, "xb")
