"""Paddle Lite's C++ side: fom_core, fom_demo and the JNI bridge (run from Java), built on x86 against
the paddlelite wheel's lite.so, animate like ppfom's dygraph (deploy/lite/test_native.sh; it also
cross-compiles them for arm64).

Needs a Python 3.10 (paddlelite wheels stop there; build_lite.sh makes its venv once, from PyPI),
g++, Debian's g++-aarch64-linux-gnu and a JDK.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "lite" / "test_native.sh"
SKIPPED = 75  # build_lite.sh's exit code when no Python 3.10 exists
TOL = 2  # out of 255

pytestmark = pytest.mark.slow


def test_native_demo_matches_dygraph(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "build")], capture_output=True, text=True,
                            check=False, env={**os.environ, "PYTHON": sys.executable})
    if result.returncode == SKIPPED:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-3000:]
    match = re.fullmatch(r"max difference (\d+)/255", lines[-1])
    assert match, f"last line {lines[-1]!r}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert int(match.group(1)) <= TOL, result.stdout[-2000:]
    assert result.returncode == 0, result.stderr[-3000:]
    # every frame of every native output was compared, and the frames move
    for name in ("out_demo.rgb", "out_jni.rgb"):
        assert re.search(rf"{re.escape(name)}: per-frame max difference \[(\d+, ){{7}}\d+\]", result.stdout), result.stdout
    moved = re.search(r"differ from the first by up to (\d+)/255", result.stdout)
    assert moved and int(moved.group(1)) > 20, result.stdout
