"""Ctrl-C or SIGTERM during the demo: a clear message, no partial file, and a rerun works."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import yaml

from media import moving_square_frames, write_video
from small_model import SMALL_WEIGHTS, small_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo_args(tmp_path, param_manifest) -> list[str]:
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(small_config(param_manifest)))
    imageio.imwrite(tmp_path / "face.png", np.full((64, 64, 3), 128, np.uint8))
    write_video(tmp_path / "long.mp4", moving_square_frames(1500, (64, 64)), fps=25, audio_seconds=60)
    return [sys.executable, str(ROOT / "applications" / "tools" / "first-order-demo.py"),
            "--config", str(tmp_path / "small.yaml"), "--weight_path", SMALL_WEIGHTS,
            "--image_size", "64", "--source_image", str(tmp_path / "face.png"),
            "--driving_video", str(tmp_path / "long.mp4"), "--output", str(tmp_path / "out"), "--relative"]


def _start_as_from_a_terminal(args: list[str]) -> subprocess.Popen:
    """Ctrl-C reaches the demo as from a terminal: a shell running the tests as a background job
    ignores SIGINT and a child inherits that (Python then never raises KeyboardInterrupt), while a
    handled signal is reset to the default by exec."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for_progress(proc: subprocess.Popen, folder: Path, timeout: float = 120) -> None:
    """Until the writer's temporary file exists, i.e. animation is under way."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if folder.is_dir() and any(name.startswith(".") for name in os.listdir(folder)):
            time.sleep(0.5)
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.1)
    raise AssertionError("the demo never started writing")


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"),
                                           (signal.SIGTERM, 143, "terminated")])
def test_signal_leaves_no_partial_output_and_rerun_works(tmp_path, demo_args, sig, code, word):
    out = tmp_path / "out"
    proc = _start_as_from_a_terminal(demo_args)
    try:
        _wait_for_progress(proc, out)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(word) and "no output was written" in last
    assert os.listdir(out) == []

    short = demo_args[:]
    short[short.index("--driving_video") + 1] = write_video(tmp_path / "short.mp4", moving_square_frames(5, (64, 64)))
    rerun = subprocess.run(short, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert os.listdir(out) == ["result.mp4"]
