"""Growing a model's keypoints: the grown model animates as the old one until training moves the copies."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from ppfom.checkpoint import read_checkpoint, save_checkpoint
from ppfom.config import build_generator, build_kp_detector, load_config
from ppfom.errors import PpfomError
from ppfom.training.grow_keypoints import grow_keypoints, place_keypoints

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "firstorder_tiny.yaml"


def _networks(cfg: dict, num_kp: int, seed: int = 0):
    cfg = copy.deepcopy(cfg)
    cfg["model"]["common_params"]["num_kp"] = num_kp
    paddle.seed(seed)
    kp, gen = build_kp_detector(cfg), build_generator(cfg)
    kp.eval(), gen.eval()
    return kp, gen


def _randomised(net: paddle.nn.Layer, rng: np.random.Generator) -> dict:
    """Weights with every tensor moved off its initial value (a trained model has no zero heads)."""
    return {k: v.numpy() if k.endswith(("_mean", "_variance"))
            else v.numpy() + rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in net.state_dict().items()}


def _animate(kp, gen, source, driving):
    with paddle.no_grad():
        src, drv = paddle.to_tensor(source), paddle.to_tensor(driving)
        out = gen(src, kp_driving=kp(drv), kp_source=kp(src))
    return out["prediction"].numpy(), out["mask"].shape[1]


@pytest.fixture(scope="module")
def old_model():
    cfg = load_config(TINY)
    kp, gen = _networks(cfg, 4)
    rng = np.random.default_rng(0)
    kp.set_state_dict(_randomised(kp, rng))
    gen.set_state_dict(_randomised(gen, rng))
    images = [rng.random((2, 3, 64, 64), dtype=np.float32) for _ in range(2)]
    return cfg, kp, gen, images


def test_grown_model_animates_exactly_as_the_old_one(old_model):
    cfg, kp, gen, (source, driving) = old_model
    before, masks = _animate(kp, gen, source, driving)
    kp_state, gen_state = grow_keypoints(kp.state_dict(), gen.state_dict(), [1, 1, 3])
    kp7, gen7 = _networks(cfg, 7, seed=1)
    kp7.set_state_dict(kp_state)
    gen7.set_state_dict(gen_state)
    after, grown_masks = _animate(kp7, gen7, source, driving)
    assert (masks, grown_masks) == (5, 8)
    np.testing.assert_allclose(after, before, atol=1e-5)
    # the copies sit where their originals are until noise or training moves them
    with paddle.no_grad():
        kps = kp7(paddle.to_tensor(source))["value"].numpy()
    np.testing.assert_allclose(kps[:, 4:], kps[:, [1, 1, 3]], atol=1e-6)


def test_noise_moves_the_copies_a_little(old_model):
    cfg, kp, gen, (source, _) = old_model
    kp_state, _ = grow_keypoints(kp.state_dict(), gen.state_dict(), [0, 2], noise=0.05, seed=3)
    kp6, _ = _networks(cfg, 6)
    kp6.set_state_dict(kp_state)
    with paddle.no_grad():
        kps = kp6(paddle.to_tensor(source))["value"].numpy()
    gap = np.abs(kps[:, 4:] - kps[:, [0, 2]]).max()
    assert 0 < gap < 0.5


def test_bad_copies_are_refused_by_name(old_model):
    _, kp, gen, _ = old_model
    with pytest.raises(PpfomError, match="--copies must name keypoints 0..3"):
        grow_keypoints(kp.state_dict(), gen.state_dict(), [4])
    with pytest.raises(PpfomError, match="lack kp.weight"):
        grow_keypoints({}, gen.state_dict(), [0])


def test_cli_writes_weights_a_larger_config_loads(old_model, tmp_path):
    cfg, kp, gen, _ = old_model
    old = tmp_path / "old.pdparams"
    save_checkpoint({"kp_detector": kp.state_dict(), "generator": gen.state_dict()}, old)
    out = tmp_path / "grown.pdparams"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "grow_keypoints.py"), str(old), str(out),
                          "--copies", "2", "0"], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "6 keypoints" in run.stdout
    kp6, gen6 = _networks(cfg, 6)
    state = read_checkpoint(out)
    kp6.set_state_dict(state["kp_detector"])
    gen6.set_state_dict(state["generator"])
    assert kp6.state_dict()["kp.bias"].shape == [6]
    bad = subprocess.run([sys.executable, str(ROOT / "tools" / "grow_keypoints.py"), str(old), str(out),
                          "--copies", "9"], check=False, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("error: --copies")


def _marked_images(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey frames with a red and a green square at random places, and those places in [-1, 1]."""
    images = np.full((count, 3, 64, 64), 0.5, np.float32)
    targets = rng.integers(8, 56, (count, 2, 2))
    for n, ((rx, ry), (gx, gy)) in enumerate(targets):
        images[n, :, ry - 3:ry + 4, rx - 3:rx + 4] = np.array([1, 0, 0], np.float32)[:, None, None]
        images[n, :, gy - 3:gy + 4, gx - 3:gx + 4] = np.array([0, 1, 0], np.float32)[:, None, None]
    return images, (targets / 63 * 2 - 1).astype(np.float32)


def test_placing_moves_only_the_copies_onto_their_targets(old_model):
    cfg, kp, gen, _ = old_model
    source, targets = _marked_images(np.random.default_rng(1), 16)
    kp_state, _ = grow_keypoints(kp.state_dict(), gen.state_dict(), [0, 0])
    kp6, _ = _networks(cfg, 6)
    kp6.set_state_dict(kp_state)
    with paddle.no_grad():
        before = kp6(paddle.to_tensor(source))["value"].numpy()
    error = place_keypoints(kp6, [4, 5], source, targets, originals=[0, 0], steps=200, lr=0.05)
    with paddle.no_grad():
        out = kp6(paddle.to_tensor(source))
    after, jacobians = out["value"].numpy(), out["jacobian"].numpy()
    # where they land, the copies move the image as their original does (its jacobian, not another's)
    assert np.abs(jacobians[:, 4:] - jacobians[:, [0, 0]]).mean() < 0.1 * np.abs(jacobians[:, 0]).mean()
    np.testing.assert_allclose(after[:, :4], before[:, :4], atol=1e-6)  # the old keypoints stay
    assert np.abs(before[:, 4:] - targets).mean() > 0.2
    assert error < 0.1 and np.abs(after[:, 4:] - targets).mean() < 0.1


def test_place_without_a_config_is_refused(old_model, tmp_path):
    _, kp, gen, _ = old_model
    old = tmp_path / "old.pdparams"
    save_checkpoint({"kp_detector": kp.state_dict(), "generator": gen.state_dict()}, old)
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "grow_keypoints.py"), str(old),
                          str(tmp_path / "g.pdparams"), "--copies", "0", "--place", "left_eye"],
                         check=False, capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.strip().splitlines()[-1].startswith("error: --place needs --config")
    assert not (tmp_path / "g.pdparams").exists()
