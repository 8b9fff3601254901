"""The live page's WebSocket (``/api/live``): camera frames in, animated frames out.

Protocol. Binary messages start with one type byte:

    client -> server   b"F" + 4-byte big-endian sequence number + JPEG    a camera frame (<= 2 MB)
                       b"P" + JPEG/PNG/WebP bytes                          the photo to animate (<= 10 MB)
    server -> client   b"F" + the camera frame's sequence number + JPEG    its animated frame

Text messages are JSON objects with a ``type``:

    client -> server   {"type": "model", "name": "demo"}     load a model (names from "hello")
                       {"type": "relative", "on": true}      relative (or absolute) motion
                       {"type": "reference"}                 the next frame becomes the reference pose
    server -> client   {"type": "hello", "models": [...], "model": name}   on connecting
                       {"type": "status", "message": ..., "model": ..., "photo": bool}
                       {"type": "stats", "seq": n, "received": .., "animated": .., "dropped": ..,
                        "server_ms": ..}   after each animated frame
                       {"type": "error", "message": one line}   the connection goes on

A frame that arrives while another is being animated replaces the one waiting
(``ppfom.live.slot``): dropped and counted, never queued. One live session runs at
a time: a second client is sent ``{"type": "error", "message": "busy: ..."}`` and
closed with code 1013 (try again later), because two streams on one CPU would
each run at half speed. Messages above ``server.MAX_WS_MESSAGE`` close that
connection (code 1009); the server goes on serving.
"""
from __future__ import annotations

import asyncio
import json
import logging
import struct
import threading
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import PpfomError
from ..live import LiveModels, LiveRunner, LiveSession, Result
from ..live.codec import decode_image, encode_jpeg

log = logging.getLogger("ppfom.web")

MAX_FRAME_BYTES = 2 * 2**20
MAX_PHOTO_BYTES = 10 * 2**20
OUTBOX = 4  # results waiting to be sent to a slow client; beyond that the oldest frame is dropped


class LiveHub:
    """What live connections share: the models, the face detector and the one session slot."""

    def __init__(self, models: LiveModels | None = None, max_sessions: int = 1, detect_faces: bool = True):
        self.models = models or LiveModels()
        self.max_sessions = max_sessions
        self.detect_faces = detect_faces
        self._active = 0
        self._lock = threading.Lock()
        self._detector = None

    def acquire(self) -> bool:
        with self._lock:
            if self._active >= self.max_sessions:
                return False
            self._active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._active -= 1

    def detector(self):
        """The bundled RetinaFace, made on first use (None when face detection is off)."""
        if self.detect_faces and self._detector is None:
            from ..faces.detector import create_detector

            self._detector = create_detector("retinaface")
        return self._detector

    def close(self) -> None:
        """Nothing to release beyond the connections, which end with the server."""


async def live_socket(ws: WebSocket) -> None:
    hub: LiveHub = ws.app.state.hub
    await ws.accept()
    if not hub.acquire():
        await ws.send_json({"type": "error", "message": "busy: another live session is running on this "
                                                        "server; try again when it has stopped"})
        await ws.close(code=1013)
        return
    try:
        await LiveConnection(ws, hub).run()
    finally:
        hub.release()


class LiveConnection:
    """One client: its runner (worker thread), its outbox, and the receive loop."""

    def __init__(self, ws: WebSocket, hub: LiveHub):
        self.ws = ws
        self.hub = hub
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.runner = LiveRunner(None, self._on_result, self._on_error)
        self.model = hub.models.default()
        self.relative = True
        self.photo = False

    async def run(self) -> None:
        await self.ws.send_json({"type": "hello", "models": self.hub.models.describe(), "model": self.model})
        self.runner.control(self._load(self.model))
        sender = asyncio.create_task(self._send_loop())
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self._handle(message)
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            await asyncio.to_thread(self.runner.close)

    def _handle(self, message: dict) -> None:
        try:
            if message.get("bytes") is not None:
                self._binary(message["bytes"])
            elif message.get("text") is not None:
                self._text(message["text"])
        except PpfomError as err:
            self._on_error(str(err))

    def _binary(self, data: bytes) -> None:
        kind = data[:1]
        if kind == b"F":
            if len(data) < 6:
                raise PpfomError("a frame message is b'F' + 4-byte sequence number + JPEG")
            if len(data) > MAX_FRAME_BYTES:
                raise PpfomError(f"a frame of {len(data) / 2**20:.1f} MB was dropped: send at most "
                                 f"{MAX_FRAME_BYTES // 2**20} MB (a JPEG of the camera picture)")
            if not self.photo:
                raise PpfomError("choose a photo first")
            (seq,) = struct.unpack(">I", data[1:5])
            self.runner.submit(data[5:], tag=seq, arrived=self.loop.time())
        elif kind == b"P":
            if len(data) > MAX_PHOTO_BYTES:
                raise PpfomError(f"the photo is {len(data) / 2**20:.1f} MB: send at most {MAX_PHOTO_BYTES // 2**20} MB")
            self.runner.control(self._set_photo(data[1:]))
        else:
            raise PpfomError("binary messages start with b'F' (a camera frame) or b'P' (the photo)")

    def _text(self, text: str) -> None:
        try:
            command = json.loads(text)
        except ValueError:
            raise PpfomError("a text message must be a JSON object with a type") from None
        kind = command.get("type") if isinstance(command, dict) else None
        if kind == "model" and isinstance(command.get("name"), str):
            self.runner.control(self._load(command["name"]))
        elif kind == "relative":
            self.relative = bool(command.get("on"))
            self.runner.control(lambda r: r.session and r.session.set_relative(self.relative))
        elif kind == "reference":
            self.runner.control(lambda r: r.session and r.session.set_reference())
        else:
            raise PpfomError("unknown command: send {'type': 'model' | 'relative' | 'reference', ...}")

    def _load(self, name: str):
        def load(runner: LiveRunner) -> None:
            self._status(f"loading model {name}...")
            model = self.hub.models.load(name)
            if runner.session is None:
                runner.session = LiveSession(model, relative=self.relative, detector=self.hub.detector())
            else:
                runner.session.set_model(model)
            self.model = name
            self._status(f"model {name} ready")
        return load

    def _set_photo(self, data: bytes):
        def set_photo(runner: LiveRunner) -> None:
            if runner.session is None:
                raise PpfomError("no model is loaded: choose an available model first")
            runner.session.set_photo(decode_image(data, "photo"))
            self.photo = True
            self._status("photo set")
        return set_photo

    # -- called from the worker thread: hand over to the event loop

    def _status(self, message: str) -> None:
        self._post("json", {"type": "status", "message": message, "model": self.model, "photo": self.photo})

    def _on_error(self, message: str) -> None:
        self._post("json", {"type": "error", "message": message})

    def _on_result(self, result: Result) -> None:
        jpeg = encode_jpeg(result.image)
        stats = {"type": "stats", "seq": result.tag, "received": self.runner.received,
                 "animated": self.runner.animated, "dropped": self.runner.dropped,
                 "server_ms": round(1000 * (self.loop.time() - result.arrived), 1)}
        self._post("frame", (b"F" + struct.pack(">I", result.tag) + jpeg, stats))

    def _post(self, kind: str, value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self._enqueue, kind, value)
        except RuntimeError:  # the loop is closed: the server is stopping
            pass

    def _enqueue(self, kind: str, value: Any) -> None:
        if kind == "frame" and self.outbox.qsize() >= OUTBOX:
            return  # the client reads slower than we animate: drop, do not pile up
        self.outbox.put_nowait((kind, value))

    async def _send_loop(self) -> None:
        try:
            while True:
                kind, value = await self.outbox.get()
                if kind == "frame":
                    await self.ws.send_bytes(value[0])
                    await self.ws.send_json(value[1])
                else:
                    await self.ws.send_json(value)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away; the receive loop ends the connection
