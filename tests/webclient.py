"""Helpers for the web page's tests: a served small model, raw HTTP requests, multipart bodies."""
from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import yaml

from media import moving_square_frames, write_video
from ppfom.web import Predictors, create_server
from ppfom.web.server import WebServer

DATA = Path(__file__).parent / "data"
WEIGHTS = str(DATA / "ppgan_fom_small.pdparams")


def small_predictors(param_manifest: dict, folder: Path) -> Predictors:
    """Predictors of the small 64x64 reference model (seconds per job)."""
    c = param_manifest["configs"]["small"]
    config = folder / "small.yaml"
    config.write_text(yaml.safe_dump({"model": {"common_params": c["common"], "generator": {
        "kp_detector_cfg": c["kp"], "generator_cfg": c["gen"]}}}))
    return Predictors(config=str(config), weight_path=WEIGHTS, image_size=64)


@contextlib.contextmanager
def serving(predictors, **kw) -> Iterator[WebServer]:
    """A server on 127.0.0.1 and a free port, serving from a thread; closed (uploads deleted) after."""
    server = create_server(predictors, port=0, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _wait_listening(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _wait_listening(server: WebServer, timeout: float = 20) -> None:
    """uvicorn listens a moment after its thread starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.started:
            return
        time.sleep(0.02)
    raise AssertionError("the server did not start")


def inputs(folder: Path) -> tuple[bytes, bytes]:
    """A small PNG photo and a 9-frame H.264 video, as bytes."""
    rng = np.random.default_rng(0)
    photo = folder / "photo.png"
    imageio.imwrite(photo, rng.integers(0, 256, (80, 72, 3), dtype=np.uint8))
    video = write_video(folder / "drive.mp4", moving_square_frames(9), fps=12.5)
    return photo.read_bytes(), Path(video).read_bytes()


def multipart(fields: dict[str, str], files: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type: ``files`` are (field, filename, type, data)."""
    boundary = "----ppfomtest7MA4YWxkTrZu0gW"
    out = bytearray()
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    for name, filename, ctype, data in files:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def request(server: WebServer, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
    """Send ``path`` exactly as given (no normalisation) and return status, body and headers."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.headers
    finally:
        conn.close()


def upload(server: WebServer, fields: dict[str, str], files: list[tuple[str, str, str, bytes]],
           **headers: str) -> tuple[int, dict]:
    body, ctype = multipart(fields, files)
    status, data, _ = request(server, "POST", "/api/jobs", body,
                              {"Content-Type": ctype, "X-Requested-With": "ppfom", **headers})
    return status, json.loads(data)


def wait(server: WebServer, job_id: str, timeout: float = 60) -> list[dict]:
    """Poll the job until it is done or failed; returns every status seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, data, _ = request(server, "GET", f"/api/jobs/{job_id}")
        assert status == 200, data
        seen.append(json.loads(data))
        if seen[-1]["state"] in ("done", "error"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {seen[-1]['state']} after {timeout} s")
