"""ppfom computes what PaddleGAN computes: every reference output to 1e-4."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from ppfom import KPDetector, OcclusionAwareGenerator, normalize_kp

TOL = 1e-4
MODES = {"relative_adapt": (True, True, True), "relative": (True, True, False),
         "absolute": (False, False, False)}
GENERATOR_OUTPUTS = ["prediction", "deformed", "occlusion_map", "mask", "sparse_deformed"]


def _weights(reference, case: str, net: str) -> dict:
    prefix = f"{case}/weights/{net}/"
    return {k[len(prefix):]: reference[k] for k in reference.files if k.startswith(prefix)}


def _nchw(array: np.ndarray) -> paddle.Tensor:
    return paddle.to_tensor(array).transpose([0, 3, 1, 2])


def _case(name, reference, param_manifest):
    cfg = param_manifest["configs"][name]
    kp = KPDetector(**cfg["kp"], **cfg["common"])
    kp.set_state_dict(_weights(reference, name, "kp_detector"))
    kp.eval()
    with paddle.no_grad():
        kp_source = kp(_nchw(reference[f"{name}/input/source"]))
        kp_driving = kp(_nchw(reference[f"{name}/input/driving"]))
    return name, cfg, kp_source, kp_driving


@pytest.fixture(scope="module", params=["small", "small_mobile"])
def case(request, reference, param_manifest):
    return _case(request.param, reference, param_manifest)


def _close(actual: paddle.Tensor, expected: np.ndarray) -> None:
    assert tuple(actual.shape) == expected.shape
    np.testing.assert_allclose(actual.numpy(), expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("which", ["kp_source", "kp_driving"])
def test_keypoints(case, reference, which):
    name, _, kp_source, kp_driving = case
    kp = kp_source if which == "kp_source" else kp_driving
    for key in ("value", "jacobian"):
        _close(kp[key], reference[f"{name}/output/{which}/{key}"])


@pytest.mark.parametrize("mode", list(MODES))
def test_normalize_kp(case, reference, mode):
    name, _, kp_source, kp_driving = case
    relative, relative_jacobian, adapt = MODES[mode]
    initial = {k: v[:1] for k, v in kp_driving.items()}
    out = normalize_kp(kp_source, kp_driving, initial, use_relative_movement=relative,
                       use_relative_jacobian=relative_jacobian, adapt_movement_scale=adapt)
    for key in ("value", "jacobian"):
        _close(out[key], reference[f"{name}/output/normalize_kp/{mode}/{key}"])


# The reference set has the training graph (no border fix) for the full model only.
@pytest.mark.parametrize("name,inference", [("small", True), ("small", False), ("small_mobile", True)])
def test_generator(reference, param_manifest, name, inference):
    name, cfg, kp_source, kp_driving = _case(name, reference, param_manifest)
    tag = "generator_inference" if inference else "generator_train_graph"
    gen = OcclusionAwareGenerator(**cfg["gen"], **cfg["common"], inference=inference)
    gen.set_state_dict(_weights(reference, name, "generator"))
    gen.eval()
    initial = {k: v[:1] for k, v in kp_driving.items()}
    kp_norm = normalize_kp(kp_source, kp_driving, initial, True, True, True)
    source = _nchw(reference[f"{name}/input/source"])
    with paddle.no_grad():
        out = gen(paddle.tile(source, [3, 1, 1, 1]), kp_norm,
                  {k: paddle.tile(v, [3] + [1] * (v.ndim - 1)) for k, v in kp_source.items()})
        # The once-per-source split (encode + animate with a batch-1 source) gives the same result.
        split = gen.animate(source, gen.encode(source), kp_norm, kp_source,
                            source_down=gen.dense_motion_network.downsample(source))
    for key in GENERATOR_OUTPUTS:
        _close(out[key], reference[f"{name}/output/{tag}/{key}"])
        _close(split[key], reference[f"{name}/output/{tag}/{key}"])


def test_border_fix_changes_the_output(reference):
    """Guards the comparison above: with and without the fix must differ measurably."""
    a = reference["small/output/generator_inference/prediction"]
    b = reference["small/output/generator_train_graph/prediction"]
    assert np.abs(a - b).max() > 10 * TOL
