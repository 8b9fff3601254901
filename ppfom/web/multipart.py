"""Stream a multipart/form-data body to files as it arrives, never holding an upload in memory.

The standard library's ``cgi`` module is gone from Python 3.13 and ``email`` parses a
whole message in memory, while uploads here are videos of up to hundreds of MB. So the
body is read in chunks, never past its Content-Length, and each file part is copied to
the file the caller opens for it: where a part goes is the caller's choice, made from
the field name, and nothing in the body (a ``filename`` least of all) names a path.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value
from typing import BinaryIO

CHUNK = 1 << 16
MAX_HEADER_BYTES = 8192  # one part's headers
MAX_FIELD_BYTES = 1024  # one text field (the options are short)
MAX_PREAMBLE_BYTES = 1024


class MultipartError(ValueError):
    """The body is not the multipart/form-data its headers promise (an HTTP 400)."""


@dataclass(frozen=True)
class Part:
    """One part's headers: ``filename`` is None for a text field, as the client sent it otherwise."""

    name: str
    filename: str | None
    content_type: str


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type header, or MultipartError."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise MultipartError("send the files as multipart/form-data")
    if not 0 < len(boundary) <= 70 or not boundary.isascii():
        raise MultipartError("the multipart boundary is invalid")
    return boundary.encode("ascii")


def parse(stream: BinaryIO, length: int, content_type: str,
          open_file: Callable[[Part], BinaryIO]) -> dict[str, str]:
    """Copy each file part of the body into ``open_file(part)``; return the text fields.

    Reads exactly ``length`` bytes at most. ``open_file`` may raise to refuse a part.
    """
    delimiter = b"\r\n--" + boundary_of(content_type)
    body = _Body(stream, length, b"\r\n")  # so the first boundary looks like every other
    body.take_until(delimiter, MAX_PREAMBLE_BYTES)
    fields: dict[str, str] = {}
    while True:
        after = body.take(2)
        if after == b"--":
            return fields  # the closing boundary; any epilogue stays unread
        if after != b"\r\n":
            raise MultipartError("a multipart boundary line is malformed")
        part = _part(body.take_until(b"\r\n\r\n", MAX_HEADER_BYTES))
        if part.filename is None:
            fields[part.name] = body.take_until(delimiter, MAX_FIELD_BYTES).decode("utf-8", "replace")
        else:
            with open_file(part) as out:
                body.copy_until(delimiter, out)


def _part(raw: bytes) -> Part:
    headers = BytesHeaderParser().parsebytes(raw + b"\r\n\r\n")
    if headers.get_content_disposition() != "form-data":
        raise MultipartError("a multipart part is not form-data")
    name = _param(headers, "name")
    if name is None:
        raise MultipartError("a multipart part has no field name")
    return Part(name, _param(headers, "filename"), headers.get_content_type())


def _param(headers: Message, key: str) -> str | None:
    value = headers.get_param(key, header="content-disposition")
    return None if value is None else collapse_rfc2231_value(value)


class _Body:
    """The request body as a small moving buffer, refilled in chunks up to ``length`` bytes."""

    def __init__(self, stream: BinaryIO, length: int, start: bytes = b""):
        self.stream = stream
        self.remaining = length
        self.buf = bytearray(start)

    def _fill(self) -> None:
        if self.remaining <= 0:
            raise MultipartError("the body ended before its closing boundary")
        data = self.stream.read(min(CHUNK, self.remaining))
        if not data:
            raise MultipartError("the upload was cut short")
        self.remaining -= len(data)
        self.buf += data

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def take_until(self, marker: bytes, limit: int) -> bytes:
        """The bytes before ``marker`` (which is consumed too); refuses more than ``limit``."""
        while (end := self.buf.find(marker)) < 0:
            if len(self.buf) > limit + len(marker):
                raise MultipartError("a multipart header or form field is too long")
            self._fill()
        if end > limit:
            raise MultipartError("a multipart header or form field is too long")
        out = bytes(self.buf[:end])
        del self.buf[:end + len(marker)]
        return out

    def copy_until(self, marker: bytes, out: BinaryIO) -> None:
        """Write everything before ``marker`` to ``out``, keeping only a marker's length in memory."""
        keep = len(marker) - 1
        while (end := self.buf.find(marker)) < 0:
            if len(self.buf) > keep:
                out.write(self.buf[:-keep])
                del self.buf[:-keep]
            self._fill()
        out.write(self.buf[:end])
        del self.buf[:end + len(marker)]
