"""Paddle Lite: the x86 .nb files, run through paddlelite's Python API, match Paddle dygraph.

deploy/lite/build_lite.sh needs a Python 3.10 (paddlelite wheels stop there);
it creates its venv once (pinned, from PyPI), so the first run takes minutes.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from ppfom.exported.graphs import load_networks
from small_model import dygraph_reference

ROOT = Path(__file__).resolve().parent.parent
LITE = ROOT / "deploy" / "lite"
WEIGHTS = ROOT / "tests" / "data" / "ppgan_fom_small.pdparams"
SKIPPED = 75  # build_lite.sh's exit code when no Python 3.10 exists
TOL = 1e-4

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lite_models(tmp_path_factory, param_manifest):
    tmp = tmp_path_factory.mktemp("lite")
    c = param_manifest["configs"]["small"]
    cfg = {"model": {"common_params": c["common"], "generator": {"kp_detector_cfg": c["kp"], "generator_cfg": c["gen"]}}}
    config = tmp / "small.yaml"
    config.write_text(yaml.safe_dump(cfg))
    result = subprocess.run(["bash", str(LITE / "build_lite.sh"), str(config), str(WEIGHTS), str(tmp / "out"),
                             "64", "x86"], capture_output=True, text=True, check=False)
    if result.returncode == SKIPPED:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr[-3000:]
    venv = subprocess.run(["bash", str(LITE / "build_lite.sh"), "--env-only"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return cfg, tmp, Path(venv) / "bin" / "python"


def test_lite_x86_matches_dygraph(lite_models):
    cfg, tmp, python = lite_models
    kp_detector, generator = load_networks(cfg, str(WEIGHTS))
    ref = dygraph_reference(kp_detector, generator)
    kp_d = ref["kp_driving"]
    inputs = {"kp_detector/0": ref["driving"], "source_encoder/0": ref["source"],
              **{f"generator/{i}": a for i, a in enumerate(ref["generator_inputs"])}}
    expected = {"kp_detector/0": kp_d["value"], "kp_detector/1": kp_d["jacobian"],
                "source_encoder/0": ref["features"], "source_encoder/1": ref["down"],
                "generator/0": ref["prediction"]}
    np.savez(tmp / "inputs.npz", **inputs)
    subprocess.run([str(python), str(LITE / "run_lite.py"), str(tmp / "out" / "x86"), str(tmp / "inputs.npz"),
                    str(tmp / "outputs.npz")], check=True, capture_output=True, env={**os.environ, "GLOG_v": "0"})
    got = np.load(tmp / "outputs.npz")
    assert sorted(got.files) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value.numpy(), atol=TOL, rtol=0, err_msg=key)


def test_arm_models_are_written_for_android(lite_models, tmp_path):
    """The Android files come from the same script (`arm` target); here only their creation is checked."""
    cfg, _, _ = lite_models
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(cfg))
    subprocess.run(["bash", str(LITE / "build_lite.sh"), str(config), str(WEIGHTS), str(tmp_path / "out"), "64", "arm"],
                   check=True, capture_output=True)
    assert sorted(p.name for p in (tmp_path / "out" / "arm").iterdir()) == [
        "generator.nb", "kp_detector.nb", "source_encoder.nb"]


def test_lite_x86_runs_the_bundled_demo_model(lite_models, tmp_path):
    """The bundled model's source encoder passes the source through (its motion network runs at full
    size); the .nb files must still give dygraph's outputs."""
    from ppfom.config import load_config

    _, _, python = lite_models
    assets = ROOT / "ppfom" / "assets"
    config, weights = assets / "synthetic64.yaml", assets / "synthetic64.pdparams"
    subprocess.run(["bash", str(LITE / "build_lite.sh"), str(config), str(weights), str(tmp_path / "out"), "64", "x86"],
                   check=True, capture_output=True)
    kp_detector, generator = load_networks(load_config(config), str(weights))
    ref = dygraph_reference(kp_detector, generator)
    np.savez(tmp_path / "inputs.npz", **{"source_encoder/0": ref["source"], **{
        f"generator/{i}": a for i, a in enumerate(ref["generator_inputs"])}})
    subprocess.run([str(python), str(LITE / "run_lite.py"), str(tmp_path / "out" / "x86"), str(tmp_path / "inputs.npz"),
                    str(tmp_path / "outputs.npz")], check=True, capture_output=True, env={**os.environ, "GLOG_v": "0"})
    got = np.load(tmp_path / "outputs.npz")
    np.testing.assert_allclose(got["source_encoder/1"], ref["source"], atol=TOL, rtol=0)
    np.testing.assert_allclose(got["generator/0"], ref["prediction"].numpy(), atol=TOL, rtol=0)
