"""Tests of ppfom.checkpoint: reading, fitting, saving and downloading weights."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paddle
import pytest

from ppfom.checkpoint import (
    PUBLISHED_WEIGHTS,
    download,
    load_state,
    read_checkpoint,
    save_checkpoint,
)
from ppfom.errors import PpfomError

DATA = Path(__file__).parent / "data"
SMALL = DATA / "ppgan_fom_small.pdparams"


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- published


def test_published_weights_are_paddlegans_urls():
    base = "https://paddlegan.bj.bcebos.com/applications/first_order_model/"
    assert PUBLISHED_WEIGHTS == {
        "vox256": base + "vox-cpk.pdparams",
        "vox512": base + "vox-cpk-512.pdparams",
        "vox_mobile256": base + "vox-mobile.pdparams",
    }


# ---------------------------------------------------------------- reading


def test_read_checkpoint_returns_both_networks():
    state = read_checkpoint(SMALL)
    assert len(state["generator"]) == 97
    assert len(state["kp_detector"]) == 41
    weight = state["kp_detector"]["predictor.encoder.down_blocks.0.conv.weight"]
    assert tuple(weight.shape) == (16, 3, 3, 3)


@pytest.mark.parametrize("content", [None, b"", os.urandom(256)], ids=["missing", "empty", "garbage"])
def test_read_checkpoint_rejects_non_checkpoints(tmp_path, content):
    path = tmp_path / "bad.pdparams"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PpfomError) as exc:
        read_checkpoint(path)
    assert str(path) in _one_line(exc)


def test_read_checkpoint_requires_both_networks(tmp_path):
    path = tmp_path / "gen_only.pdparams"
    paddle.save({"generator": {"w": np.zeros(2, np.float32)}}, str(path))
    with pytest.raises(PpfomError) as exc:
        read_checkpoint(path)
    message = _one_line(exc)
    assert str(path) in message and "'kp_detector'" in message
    assert "'generator'" not in message.split(":")[0]


def test_save_checkpoint_round_trips_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.pdparams"
    state = {"generator": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    save_checkpoint(state, path)
    assert os.listdir(tmp_path) == ["out.pdparams"]
    loaded = paddle.load(str(path))
    np.testing.assert_array_equal(np.asarray(loaded["generator"]["w"]), state["generator"]["w"])


# ---------------------------------------------------------------- fitting


def _net() -> paddle.nn.Layer:
    return paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4))


def _random_state(net: paddle.nn.Layer, dtype=np.float32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(tuple(v.shape)).astype(dtype) for k, v in net.state_dict().items()}


def test_load_state_changes_every_value():
    net = _net()
    state = _random_state(net)
    load_state(net, state, "generator")
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[name])


def test_load_state_accepts_tensors_and_float64():
    net = _net()
    state = _random_state(net, np.float64)
    tensors = {k: paddle.to_tensor(v) if "weight" in k else v for k, v in state.items()}
    load_state(net, tensors, "generator")
    for name, value in net.state_dict().items():
        assert value.dtype == paddle.float32
        np.testing.assert_allclose(value.numpy(), state[name], rtol=1e-6)


def test_load_state_names_missing_entries_and_source():
    net = _net()
    state = _random_state(net)
    del state["1._mean"], state["1._variance"]
    with pytest.raises(PpfomError) as exc:
        load_state(net, state, "generator", source="x.pdparams")
    message = _one_line(exc)
    assert message.startswith("checkpoint 'x.pdparams' does not fit the generator: ")
    assert "missing 1._mean, 1._variance" in message
    assert "--config" in message


def test_load_state_names_unexpected_entries():
    net = _net()
    state = {**_random_state(net), "2.weight": np.zeros(3, np.float32)}
    with pytest.raises(PpfomError) as exc:
        load_state(net, state, "kp_detector")
    message = _one_line(exc)
    assert "kp_detector" in message and "unexpected 2.weight" in message
    assert "missing" not in message


def test_load_state_names_shape_mismatches():
    net = _net()
    state = _random_state(net)
    state["0.weight"] = np.zeros((4, 3, 5, 5), np.float32)
    with pytest.raises(PpfomError) as exc:
        load_state(net, state, "generator")
    assert "shape mismatch 0.weight (4,3,5,5) vs (4,3,3,3)" in _one_line(exc)


def test_load_state_shortens_long_lists():
    net = paddle.nn.Sequential(*[paddle.nn.Linear(2, 2) for _ in range(4)])
    with pytest.raises(PpfomError) as exc:
        load_state(net, {}, "generator")
    message = _one_line(exc)
    assert "missing 0.weight, 0.bias, 1.weight, 1.bias and 4 more" in message


def test_load_state_leaves_layer_untouched_on_misfit():
    net = _net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = _random_state(net)
    state["extra"] = np.zeros(1, np.float32)
    with pytest.raises(PpfomError):
        load_state(net, state, "generator")
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])


# ---------------------------------------------------------------- downloading

PAYLOAD = os.urandom(300_000)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /ok.pdparams, half of it at /short.pdparams, 404 elsewhere."""

    hits: list[str]

    def do_GET(self):
        self.hits.append(self.path)
        if self.path not in ("/ok.pdparams", "/short.pdparams"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        body = PAYLOAD if self.path == "/ok.pdparams" else PAYLOAD[: len(PAYLOAD) // 2]
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"hits": hits})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_caches_the_file(server, tmp_path):
    base, hits = server
    path = download(base + "/ok.pdparams", str(tmp_path), timeout=5)
    assert path == str(tmp_path / "ok.pdparams")
    assert Path(path).read_bytes() == PAYLOAD
    assert download(base + "/ok.pdparams", str(tmp_path), timeout=5) == path
    assert hits == ["/ok.pdparams"]
    assert os.listdir(tmp_path) == ["ok.pdparams"]


def test_download_uses_ppfom_home(server, tmp_path, monkeypatch):
    base, _ = server
    monkeypatch.setenv("PPFOM_HOME", str(tmp_path / "home"))
    assert download(base + "/ok.pdparams", timeout=5) == str(tmp_path / "home" / "ok.pdparams")


def test_download_rejects_short_body_and_leaves_nothing(server, tmp_path):
    base, _ = server
    with pytest.raises(PpfomError) as exc:
        download(base + "/short.pdparams", str(tmp_path), timeout=5)
    message = _one_line(exc)
    assert "could not download short.pdparams" in message and "--weight_path" in message
    assert os.listdir(tmp_path) == []


def test_download_reports_http_errors(server, tmp_path):
    base, _ = server
    with pytest.raises(PpfomError) as exc:
        download(base + "/missing.pdparams", str(tmp_path), timeout=5)
    message = _one_line(exc)
    assert "404" in message and base + "/missing.pdparams" in message
    assert "--weight_path" in message
    assert os.listdir(tmp_path) == []


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_reports_refused_connections(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/vox-cpk.pdparams"
    with pytest.raises(PpfomError) as exc:
        download(url, str(tmp_path), timeout=5)
    message = _one_line(exc)
    assert "could not download vox-cpk.pdparams from " + url in message
    assert "--weight_path" in message
    assert os.listdir(tmp_path) == []


def test_download_cleans_up_when_interrupted(server, tmp_path, monkeypatch):
    base, _ = server

    def interrupt(*args, **kwargs):
        Path(args[1]).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr("ppfom.checkpoint._fetch", interrupt)
    with pytest.raises(PpfomError, match="interrupted"):
        download(base + "/ok.pdparams", str(tmp_path), timeout=5)
    assert os.listdir(tmp_path) == []
