"""How far a cartoon model opens the source's mouth when another identity drives it (issue #16, talking).

Self-reenactment L1 barely sees an open mouth; across identities there is no true frame. Cartoons have
one: identity A rendered in the demo's still pose and moved by identity B's motion relative to its
first frame (as ``--relative`` transfers it; yaw and scale only approximately, as adapt_scale and
keypoints read them). Per pair it prints the L1 against that truth and the mouth's hole (summed
darkness in a box around A's mouth): its correlation over time with the truth's, and the ratio of the
result's hole to the truth's on frames where the truth's mouth is open (1 = opens as wide).

    python benchmarks/cross_identity_mouth.py [--config C --weights W] [--pairs 20]
"""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import paddle

from ppfom import synthetic
from ppfom.predictor import FirstOrderPredictor
from ppfom.training.losses import darkness as tensor_darkness

STILL = synthetic.STILL_POSE
DEMO_SEED = 1234  # synthetic.make_demo_inputs: the README demo's pair


def darkness(frame: np.ndarray) -> np.ndarray:
    """losses.darkness (what region_dark_weight prices) of one HxWx3 uint8 frame."""
    image = paddle.to_tensor(frame.transpose(2, 0, 1)[None].astype(np.float32) / 255)
    return tensor_darkness(image).numpy()[0, 0]


def relative_pose(pose: dict, first: dict) -> dict:
    """The still pose moved by ``pose``'s change since ``first``."""
    out = dict(STILL)
    for key in ("x", "y", "roll", "yaw"):
        out[key] = STILL[key] + pose[key] - first[key]
    out["scale"] = pose["scale"] / first["scale"]
    out["eyes"] = float(np.clip(STILL["eyes"] * pose["eyes"] / first["eyes"], 0.1, 1))
    out["mouth"] = float(np.clip(STILL["mouth"] + pose["mouth"] - first["mouth"], 0.05, 1))
    return out


def mouth_box(ident: synthetic.Identity, pose: dict, size: int) -> tuple[slice, slice]:
    marks = synthetic.landmarks(ident, pose, size)
    centre, half = (marks[3] + marks[4]) / 2, 0.5 * np.linalg.norm(marks[4] - marks[3]) + 2
    lo, hi = np.maximum(centre - half, 0).astype(int), np.minimum(centre + half + 1, size).astype(int)
    return slice(lo[1], hi[1]), slice(lo[0], hi[0])


def score_pair(pred: FirstOrderPredictor, seed: int, size: int = 64, frames: int = 64) -> dict:
    rng = np.random.default_rng(seed)
    style = "plain" if seed == DEMO_SEED else "varied"
    source_ident, driving_ident = synthetic.random_identity(rng, style), synthetic.random_identity(rng, style)
    motion = synthetic.random_motion(rng, frames)
    poses = [{k: float(v[i]) for k, v in motion.items()} for i in range(frames)]
    driving = np.stack([synthetic.render(driving_ident, p, size) for p in poses])
    truth_poses = [relative_pose(p, poses[0]) for p in poses]
    truth = np.stack([synthetic.render(source_ident, p, size) for p in truth_poses])
    result = pred.animate_batch(pred.make_animator(synthetic.render(source_ident, STILL, size)), driving)
    boxes = [mouth_box(source_ident, p, size) for p in truth_poses]
    hole_truth = np.array([darkness(truth[t][b]).sum() for t, b in enumerate(boxes)])
    hole_result = np.array([darkness(result[t][b]).sum() for t, b in enumerate(boxes)])
    open_ = np.array([p["mouth"] for p in truth_poses]) > 0.5
    corr = float(np.corrcoef(hole_truth, hole_result)[0, 1]) if hole_result.std() > 0 else 0.0
    ratio = float(hole_result[open_].sum() / max(hole_truth[open_].sum(), 1e-6)) if open_.any() else float("nan")
    return {"l1": float(np.abs(result.astype(np.float64) - truth).mean() / 255), "corr": corr, "ratio": ratio,
            "open": int(open_.sum())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="ppfom/assets/synthetic64.yaml")
    p.add_argument("--weights", default="ppfom/assets/synthetic64.pdparams")
    p.add_argument("--pairs", type=int, default=20, help="random pairs besides the README demo's")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    pred = FirstOrderPredictor(config=args.config, weight_path=args.weights, image_size=64, relative=True,
                               adapt_scale=True, backend="dygraph")
    rows = []
    for seed in [DEMO_SEED, *range(1, args.pairs + 1)]:
        row = score_pair(pred, seed)
        if row["open"]:  # a pair whose truth never opens its mouth says nothing about the hole
            rows.append(row)
            print(f"pair {seed}: l1 {row['l1']:.4f} hole corr {row['corr']:.2f} ratio {row['ratio']:.2f} "
                  f"({row['open']} open frames)", flush=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("l1", "corr", "ratio")}
    print(f"mean of {len(rows)} pairs: l1 {mean['l1']:.4f} hole corr {mean['corr']:.2f} ratio {mean['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
