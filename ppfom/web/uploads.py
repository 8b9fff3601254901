"""An upload's multipart body into a job's folder, with the size capped while it streams.

Starlette parses the form (python-multipart underneath), spooling each file to an
anonymous temporary file; this module checks each part and copies it to the job's
folder under a name made here from the field: nothing the client sends (its
``filename`` least of all) becomes a path. The body is refused above the limit from
its Content-Length before a byte is read, and counted as it streams in case the
header lied.
"""
from __future__ import annotations

import logging
import os
import shutil
from http import HTTPStatus

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Receive

from ..errors import PpfomError
from .jobs import Job, Options

# The uploads a job takes: field name -> (content type family, accepted extensions).
UPLOADS = {
    "source": ("image/", (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")),
    "driving": ("video/", (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")),
}
LABELS = {"source": "photo", "driving": "driving video"}
MAX_FIELD_BYTES = 1024  # one text field (the options are short)
# python-multipart logs every malformed body as a warning; the client gets the one-line refusal instead.
logging.getLogger("python_multipart").setLevel(logging.ERROR)
logging.getLogger("multipart").setLevel(logging.ERROR)


class Refused(Exception):
    """A request the server turns down, with its HTTP status and a one-line reason."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def content_length(headers, limit: int) -> int:
    """The body's declared size, refused above ``limit`` before any of it is read."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "send the upload with a Content-Length")
    text = headers.get("content-length", "")
    if not text.isdigit():
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "send the upload with a Content-Length")
    length = int(text)
    if length > limit:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                      f"the upload is {length / 2**20:.1f} MB: the limit is {limit / 2**20:g} MB "
                      "for the photo and video together")
    return length


def capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses a body longer than ``limit`` bytes as it arrives."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the upload is longer than it said")
        return message
    return receive_capped


async def receive(request: Request, job: Job, length: int) -> Options:
    """Stream the form into the job's folder; return the options it carried."""
    body = Request(request.scope, capped(request.receive, length))
    try:
        form = await body.form(max_files=len(UPLOADS) + 1, max_fields=32, max_part_size=MAX_FIELD_BYTES)
    except (MultiPartException, HTTPException) as err:
        reason = str(getattr(err, "detail", "") or err).rstrip(".")
        raise Refused(HTTPStatus.BAD_REQUEST, f"the upload is not a valid multipart form ({reason})") from None
    try:
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        for name, upload in _files(form):
            await _save(job, name, upload)
        options = Options.from_form(fields)
    except PpfomError as err:
        raise Refused(HTTPStatus.BAD_REQUEST, str(err)) from None
    finally:
        await form.close()
    _check_complete(job)
    return options


def _files(form: FormData) -> list[tuple[str, UploadFile]]:
    files = [(key, value) for key, value in form.multi_items() if not isinstance(value, str)]
    for key, _ in files:
        if key not in UPLOADS:
            raise Refused(HTTPStatus.BAD_REQUEST, f"unexpected file field '{key[:40]}'")
        if sum(k == key for k, _ in files) > 1:
            raise Refused(HTTPStatus.BAD_REQUEST, f"send one {LABELS[key]}, not several")
    return files


async def _save(job: Job, name: str, upload: UploadFile) -> None:
    """Check one file part and copy it into the job's folder at a name made here."""
    family, extensions = UPLOADS[name]
    label = LABELS[name]
    if not upload.filename:
        raise Refused(HTTPStatus.BAD_REQUEST, f"choose a {label}")
    suffix = os.path.splitext(upload.filename)[1].lower()
    if suffix not in extensions:
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"the {label} must be a {', '.join(extensions)} file")
    content_type = (upload.content_type or "text/plain").lower()
    if not (content_type.startswith(family) or content_type == "application/octet-stream"):
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"the {label} was sent as {content_type[:40]}, not {family}*")
    # Only our own strings make the name: the field (a key of UPLOADS) and a listed extension.
    path = job.folder / (name + extensions[extensions.index(suffix)])
    job.inputs[name] = path
    await run_in_threadpool(_copy, upload, path)


def _copy(upload: UploadFile, path: os.PathLike) -> None:
    upload.file.seek(0)
    with open(path, "xb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 16)


def _check_complete(job: Job) -> None:
    missing = [LABELS[name] for name in UPLOADS if name not in job.inputs]
    if missing:
        raise Refused(HTTPStatus.BAD_REQUEST, "choose a " + " and a ".join(missing))
    empty = [LABELS[name] for name, path in job.inputs.items() if os.path.getsize(path) == 0]
    if empty:
        raise Refused(HTTPStatus.BAD_REQUEST, f"the {' and the '.join(empty)} file is empty")
