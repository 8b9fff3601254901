"""The live WebSocket (/api/live) with a real client: frames back, dropped not queued, hostile input survived."""
from __future__ import annotations

import contextlib
import json
import struct
import time
from collections.abc import Iterator

import numpy as np
import pytest
from faces_media import astronaut
from webclient import serving, small_predictors
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ppfom.live import LiveModels
from ppfom.live.codec import decode_image, encode_jpeg
from ppfom.web import LiveHub
from ppfom.web.live_socket import MAX_FRAME_BYTES
from ppfom.web.server import MAX_WS_MESSAGE


@pytest.fixture(scope="module")
def server(param_manifest, tmp_path_factory):
    predictors = small_predictors(param_manifest, tmp_path_factory.mktemp("model"))
    with serving(predictors, live=LiveHub(LiveModels(backend="dygraph"), detect_faces=False)) as server:
        yield server


def _open(server, **kw):
    return connect(server.url.replace("http", "ws") + "api/live", max_size=None, open_timeout=10, **kw)


@contextlib.contextmanager
def _client(server) -> Iterator:
    """A connection that holds the live session, past its hello: the previous test's session
    is let go a moment after its client closes (the worker finishes its frame), so while the
    server says busy this retries for up to 20 s."""
    deadline = time.monotonic() + 20
    while True:
        with _open(server) as ws:
            first = json.loads(ws.recv(timeout=10))
            if first["type"] == "error" and "busy" in first["message"] and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            assert first["type"] == "hello" and first["model"] == "demo", first
            yield ws
            return


def _until(ws, kind: str, timeout: float = 30, text: str = "") -> dict | bytes:
    """The next message of ``kind`` ("frame" for a binary one), skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            if kind == "frame":
                return message
            continue
        data = json.loads(message)
        if data["type"] == kind and text in data.get("message", ""):
            return data


def _frame(seq: int, image: np.ndarray) -> bytes:
    return b"F" + struct.pack(">I", seq) + encode_jpeg(image)


def _ready(ws) -> None:
    """Past the model's "ready" (the hello was taken by ``_client``), with the astronaut as the photo."""
    _until(ws, "status", text="ready")
    ws.send(b"P" + encode_jpeg(astronaut()))
    _until(ws, "status", text="photo set")


def _served(server) -> None:
    """A fresh client still gets animated frames."""
    with _client(server) as ws:
        _ready(ws)
        ws.send(_frame(7, astronaut()))
        reply = _until(ws, "frame")
        assert reply[:5] == b"F" + struct.pack(">I", 7) and decode_image(reply[5:]).shape == (64, 64, 3)


def test_frames_come_back_animated_and_late_frames_are_dropped(server):
    with _client(server) as ws:
        _ready(ws)
        moving = [_frame(i, np.roll(astronaut(), 8 * (i % 6), axis=1)) for i in range(30)]
        for message in moving:  # a burst: far faster than the model animates
            ws.send(message)
        stats, frames = [], []
        while not stats or stats[-1]["seq"] != 29:
            message = ws.recv(timeout=30)
            if isinstance(message, bytes):
                frames.append(message)
            elif (data := json.loads(message))["type"] == "stats":
                stats.append(data)
    last = stats[-1]
    assert last["received"] == 30 and last["animated"] == len(frames) < 30
    assert last["dropped"] == 30 - last["animated"]  # dropped, not queued
    assert all(s["server_ms"] > 0 for s in stats)


@pytest.mark.parametrize("message, expected", [
    (b"X123", "binary messages start with"), (b"F12", "sequence number"), (_frame(1, astronaut())[:5] + b"junk", "not a JPEG"),
    ("not json", "JSON"), (json.dumps({"type": "dance"}), "unknown command"), (json.dumps([1, 2]), "unknown command"),
    (json.dumps({"type": "model", "name": "nope"}), "unknown"), (b"P" + b"\x00" * 50, "photo is not"),
    (b"F" + b"\x00" * (MAX_FRAME_BYTES + 10), "dropped"),
])
def test_garbage_gets_one_line_errors_and_the_session_goes_on(server, message, expected):
    with _client(server) as ws:
        _ready(ws)
        ws.send(message)
        error = _until(ws, "error", timeout=20)
        assert expected in error["message"] and "\n" not in error["message"]
        ws.send(_frame(3, astronaut()))
        assert _until(ws, "frame")[:5] == b"F" + struct.pack(">I", 3)


def test_frames_before_a_photo_are_refused(server):
    with _client(server) as ws:
        _until(ws, "status", text="ready")
        ws.send(_frame(1, astronaut()))
        assert "choose a photo" in _until(ws, "error")["message"]


def test_oversized_messages_close_only_that_connection(server):
    with _client(server) as ws:
        ws.send(b"F" + b"\x00" * (MAX_WS_MESSAGE + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=20)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    _served(server)


def test_a_client_leaving_mid_frame_leaves_the_server_serving(server):
    with _client(server) as ws:
        _ready(ws)
        ws.send(_frame(1, astronaut()))
        ws.close()  # while that frame is being animated
    _served(server)


def test_a_second_client_is_told_busy_and_the_first_goes_on(server):
    with _client(server) as first:
        _ready(first)
        with _open(server) as second:
            error = json.loads(second.recv(timeout=10))
            assert error["type"] == "error" and error["message"].startswith("busy")
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(timeout=10)
            assert closed.value.rcvd.code == 1013
        first.send(_frame(5, astronaut()))
        assert _until(first, "frame")[:5] == b"F" + struct.pack(">I", 5)


def test_other_origins_cannot_open_the_socket(server):
    with pytest.raises(InvalidStatus):
        _open(server, origin="http://evil.example")
    with pytest.raises(InvalidStatus):
        _open(server, additional_headers={"Host": "evil.example"})
    _served(server)


def test_config_lists_the_live_models_and_says_what_is_missing(server):
    import urllib.request

    with urllib.request.urlopen(server.url + "api/config", timeout=10) as response:
        models = {m["name"]: m for m in json.load(response)["live_models"]}
    assert models["demo"]["available"] and models["demo"]["missing"] is None
    assert {"mobile", "vox256"} <= set(models)
    for name in ("mobile", "vox256"):
        assert models[name]["available"] or "weights missing" in models[name]["missing"]


def test_controls_apply_between_frames(server):
    with _client(server) as ws:
        _ready(ws)
        ws.send(_frame(1, astronaut()))
        still = decode_image(_until(ws, "frame")[5:]).astype(int)
        ws.send(json.dumps({"type": "relative", "on": False}))  # absolute: the driving keypoints as they are
        ws.send(json.dumps({"type": "reference"}))
        ws.send(json.dumps({"type": "model", "name": "demo"}))
        assert _until(ws, "status", text="ready")["model"] == "demo"
        ws.send(_frame(2, np.roll(astronaut(), 40, axis=1)))
        moved = decode_image(_until(ws, "frame")[5:]).astype(int)
    assert np.abs(moved - still).mean() > 1  # the motion reached the photo through the new session state
