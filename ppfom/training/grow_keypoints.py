"""More keypoints for a trained model, starting as exactly the model it grows from.

With ten keypoints at 64x64 the demo model has no keypoint on an eye or a lip: the ones nearest
keep an identity jacobian while the eyes close, and one keypoint's affine stretches the whole mouth.
Training a larger model from scratch takes the hours the first stages took; instead each new
keypoint is a copy of a chosen old one (its heatmap and jacobian heads, plus ``noise`` so the two
can separate), the copy and its original split the original's share of the motion mask (their mask
logits lowered by log(number of copies)), and the motion network's inputs for the new keypoints start
at zero weight. The grown model's motion, and so its frames, are the old model's until training
moves the copies apart.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import paddle
import paddle.nn.functional as F

from ..errors import PpfomError
from ..modules.keypoint_detector import soft_argmax

KP_HEADS = ("kp.weight", "kp.bias")
JACOBIAN_HEADS = ("jacobian.weight", "jacobian.bias")
MOTION = "dense_motion_network."
MOTION_INPUT = MOTION + "hourglass.encoder.down_blocks.0.conv.weight"
MASK = MOTION + "mask."
OCCLUSION = MOTION + "occlusion.weight"


def grow_keypoints(kp_state: dict, gen_state: dict, copies: Sequence[int], num_channels: int = 3,
                   noise: float = 0.0, seed: int = 0) -> tuple[dict, dict]:
    """Keypoint detector and generator weights with ``len(copies)`` keypoints added.

    ``copies[j]`` is the old keypoint the j-th new one copies (an index may repeat). Returns new
    state dicts of numpy arrays; the input ones are left as they were.
    """
    kp = {k: np.asarray(v, dtype=np.float32) for k, v in kp_state.items()}
    gen = {k: np.asarray(v, dtype=np.float32) for k, v in gen_state.items()}
    num_kp = _check(kp, gen, copies)
    rng = np.random.default_rng(seed)
    kp.update(_grown_heads(kp, copies, noise, rng))
    gen.update(_grown_motion(gen, num_kp, copies, num_channels))
    return kp, gen


def _check(kp: dict, gen: dict, copies: Sequence[int]) -> int:
    missing = [k for k in (*KP_HEADS, MOTION_INPUT, MASK + "weight", MASK + "bias")
               if k not in kp and k not in gen]
    if missing:
        raise PpfomError(f"cannot grow keypoints: the weights lack {missing[0]} (a FirstOrderModel "
                         "keypoint detector and generator with a full-size motion network are needed)")
    num_kp = kp["kp.bias"].shape[0]
    bad = [i for i in copies if not 0 <= int(i) < num_kp]
    if not copies or bad:
        raise PpfomError(f"--copies must name keypoints 0..{num_kp - 1} to copy (got {list(copies)})")
    return num_kp


def _grown_heads(kp: dict, copies: Sequence[int], noise: float, rng: np.random.Generator) -> dict:
    """Heatmap rows (perturbed by ``noise`` x their spread) and jacobian rows of the copied keypoints."""
    out = {}
    for name in KP_HEADS:
        rows = kp[name][list(copies)]
        if noise:
            rows = rows + rng.normal(0, noise * float(np.std(kp[name])), rows.shape).astype(np.float32)
        out[name] = np.concatenate([kp[name], rows])
    if JACOBIAN_HEADS[0] in kp:
        maps = kp["jacobian.bias"].shape[0] // 4
        if maps != kp["kp.bias"].shape[0]:
            return out  # one jacobian shared by all keypoints: nothing to copy
        rows = [4 * i + r for i in copies for r in range(4)]
        for name in JACOBIAN_HEADS:
            out[name] = np.concatenate([kp[name], kp[name][rows]])
    return out


def _grown_motion(gen: dict, num_kp: int, copies: Sequence[int], channels: int) -> dict:
    """Motion network inputs for the new keypoints at zero weight; the mask split among copies."""
    group = channels + 1  # each keypoint (and the background first) feeds its heatmap + deformed source
    expected = (num_kp + 1) * group
    if gen[MOTION_INPUT].shape[1] != expected:
        raise PpfomError(f"cannot grow keypoints: the motion network takes {gen[MOTION_INPUT].shape[1]} "
                         f"input channels, not ({num_kp} + 1) x {group}; pass the model's num_channels")
    new_inputs = len(copies) * group
    out = {MOTION_INPUT: _zero_inputs(gen[MOTION_INPUT], new_inputs)}
    mask_w, mask_b = gen[MASK + "weight"], gen[MASK + "bias"].copy()
    share = Counter(int(i) for i in copies)
    for i, n in share.items():
        mask_b[i + 1] -= np.log(n + 1)  # row 0 is the background
    rows = [int(i) + 1 for i in copies]
    out[MASK + "weight"] = _zero_inputs(np.concatenate([mask_w, mask_w[rows]]), new_inputs)
    out[MASK + "bias"] = np.concatenate([mask_b, mask_b[rows]])
    if OCCLUSION in gen:
        out[OCCLUSION] = _zero_inputs(gen[OCCLUSION], new_inputs)
    return out


def _zero_inputs(weight: np.ndarray, extra: int) -> np.ndarray:
    """``weight`` (out, in, kh, kw) with ``extra`` zero input channels appended (the new keypoints')."""
    pad = np.zeros((weight.shape[0], extra, *weight.shape[2:]), dtype=weight.dtype)
    return np.concatenate([weight, pad], axis=1)


def place_keypoints(kp_detector, indices: Sequence[int], images: np.ndarray, targets: np.ndarray,
                    originals: Sequence[int] | None = None, steps: int = 150, lr: float = 0.02) -> float:
    """Fit the heatmap heads of keypoints ``indices`` so they land on ``targets``; returns the mean error.

    A copy starts exactly where its original is, and two copies of one keypoint get the same gradient
    in training (the separation loss is zero for coinciding keypoints): they never part. Placed first
    on landmarks (the eyes, the mouth's corners), each starts where it is meant to work. With
    ``originals`` their jacobian heads are fitted too, to give the original's jacobian where they land
    (a copied jacobian head read away from its original gives another local motion), so each copy
    starts moving its region as the original did. (On the demo model the motion mask still handed the
    eyes back to the original within 50 iterations: README, Training.)
    Only those heads change; the detector's features are fixed. ``images``: (N, 3, H, W) in [0, 1];
    ``targets``: (N, len(indices), 2) in the detector's [-1, 1] coordinates.
    """
    head = kp_detector.kp
    if not isinstance(head, paddle.nn.Conv2D):
        raise PpfomError("placing keypoints needs the full model's one-conv heatmap head (not mobile_net)")
    with paddle.no_grad():
        x = paddle.to_tensor(images, dtype="float32")
        wanted = kp_detector(x)["jacobian"].numpy()[:, list(originals)] if originals is not None else None
        if kp_detector.scale_factor != 1:
            x = kp_detector.down(x)
        features = kp_detector.predictor(x)
    rows = list(indices)
    goal = paddle.to_tensor(targets, dtype="float32")
    error = _fit_rows(head, rows, steps, lr,
                      lambda w, b: paddle.abs(_soft_argmax(kp_detector, features, w, b, head)[0] - goal).mean())
    if wanted is not None and isinstance(kp_detector.jacobian, paddle.nn.Conv2D) \
            and kp_detector.num_jacobian_maps == kp_detector.num_kp:
        with paddle.no_grad():
            heat = _soft_argmax(kp_detector, features, head.weight[rows], head.bias[rows], head)[1]
        goal_j = paddle.to_tensor(wanted.reshape([len(images), len(rows), 4]), dtype="float32")
        jac_rows = [4 * i + r for i in rows for r in range(4)]
        _fit_rows(kp_detector.jacobian, jac_rows, steps, lr / 20,  # at lr it overshoots (worse than no fit)
                  lambda w, b: paddle.abs(_read_jacobians(features, w, b, heat, kp_detector.jacobian) - goal_j).mean())
    return error


def _fit_rows(conv, rows: list[int], steps: int, lr: float, loss_fn) -> float:
    """Adam on output channels ``rows`` of ``conv`` (the rest untouched); returns the last loss."""
    weight = paddle.to_tensor(conv.weight.numpy()[rows], stop_gradient=False)
    bias = paddle.to_tensor(conv.bias.numpy()[rows], stop_gradient=False)
    opt = paddle.optimizer.Adam(lr, parameters=[weight, bias])
    for _ in range(steps):
        loss = loss_fn(weight, bias)
        loss.backward()
        opt.step()
        opt.clear_grad()
    full_w, full_b = conv.weight.numpy(), conv.bias.numpy()
    full_w[rows], full_b[rows] = weight.numpy(), bias.numpy()
    conv.weight.set_value(full_w)
    conv.bias.set_value(full_b)
    return float(loss)


def _soft_argmax(kp_detector, features, weight, bias, head):
    """Keypoint positions (N, k, 2) and heatmaps (N, k, HW) of heatmap-head rows ``weight``, ``bias``."""
    return soft_argmax(F.conv2d(features, weight, bias, padding=head._padding), kp_detector.temperature)


def _read_jacobians(features, weight, bias, heat, conv):
    """Jacobians (N, k, 4) that jacobian-head rows ``weight``, ``bias`` give under heatmaps ``heat``."""
    maps = F.conv2d(features, weight, bias, padding=conv._padding)
    n, _, h, w = maps.shape
    return paddle.matmul(maps.reshape([n, -1, 4, h * w]), heat.unsqueeze(-1)).reshape([n, -1, 4])
