"""Inputs for the native (C++) Paddle Lite demo, and the check of its frames against ppfom's dygraph.

Run in ppfom's own environment (not the Python 3.10 Lite venv):

    python deploy/lite/native_check.py inputs DIR [--frames 8]
        -> DIR/source.rgb (one frame) and DIR/driving.rgb (N frames): raw RGB uint8, 64x64, the
           bundled demo model's size; a source and a driving clip of two synthetic identities.
    python deploy/lite/native_check.py compare DIR OUT.rgb [OUT.rgb ...]
        -> animates the same inputs with ppfom.animator.Animator (dygraph, relative motion and
           adapt scale) and prints each output's largest difference per frame, then
           `max difference N/255` as the last line; exit 1 when N > --tolerance (default 2).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

CONFIG = os.path.join(ROOT, "ppfom", "assets", "synthetic64.yaml")
WEIGHTS = os.path.join(ROOT, "ppfom", "assets", "synthetic64.pdparams")
SIZE = 64


def make_inputs(folder: str, frames: int, seed: int) -> None:
    from ppfom import synthetic
    rng = np.random.default_rng(seed)
    source_ident, driving_ident = synthetic.random_identity(rng), synthetic.random_identity(rng)
    still = {"x": 0.5, "y": 0.5, "roll": 0.0, "scale": 1.0, "yaw": 0.0, "eyes": 0.9, "mouth": 0.3}
    source = synthetic.render(source_ident, still, SIZE)
    driving, _ = synthetic.make_clip(driving_ident, rng, frames, SIZE)
    os.makedirs(folder, exist_ok=True)
    np.ascontiguousarray(source, np.uint8).tofile(os.path.join(folder, "source.rgb"))
    np.ascontiguousarray(driving, np.uint8).tofile(os.path.join(folder, "driving.rgb"))
    print(f"wrote source.rgb (1 frame) and driving.rgb ({frames} frames), {SIZE}x{SIZE} RGB, to {folder}")


def read_frames(path: str) -> np.ndarray:
    data = np.fromfile(path, np.uint8)
    if data.size == 0 or data.size % (SIZE * SIZE * 3):
        raise SystemExit(f"error: {path}: {data.size} bytes is not a whole number of {SIZE}x{SIZE} RGB frames")
    return data.reshape(-1, SIZE, SIZE, 3)


def dygraph_frames(folder: str) -> np.ndarray:
    from ppfom.animator import Animator
    from ppfom.config import load_config
    from ppfom.frames import to_nchw, to_uint8
    from ppfom.weights import load_networks
    kp_detector, generator = load_networks(load_config(CONFIG), WEIGHTS)
    animator = Animator(kp_detector, generator, relative=True, adapt_scale=True)
    animator.set_source(to_nchw(read_frames(os.path.join(folder, "source.rgb"))))
    driving = read_frames(os.path.join(folder, "driving.rgb"))
    return np.concatenate([to_uint8(animator(to_nchw(frame))) for frame in driving])


def compare(folder: str, outputs: list[str], tolerance: int) -> int:
    expected = dygraph_frames(folder)
    worst = 0
    for path in outputs:
        if not os.path.isfile(path):
            print(f"{path}: missing")
            worst = 255
            continue
        got = read_frames(path)
        if got.shape != expected.shape:
            print(f"{path}: {len(got)} frames, expected {len(expected)}")
            worst = 255
            continue
        per_frame = np.abs(got.astype(np.int16) - expected.astype(np.int16)).reshape(len(got), -1).max(axis=1)
        print(f"{os.path.basename(path)}: per-frame max difference {per_frame.tolist()} (/255)")
        worst = max(worst, int(per_frame.max()))
    moved = int(np.abs(expected.astype(np.int16) - expected[:1].astype(np.int16)).max())
    print(f"dygraph frames differ from the first by up to {moved}/255 (the model moves)")
    print(f"max difference {worst}/255")
    return 0 if worst <= tolerance else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("inputs")
    q.add_argument("folder")
    q.add_argument("--frames", type=int, default=8)
    q.add_argument("--seed", type=int, default=1234)
    q = sub.add_parser("compare")
    q.add_argument("folder")
    q.add_argument("outputs", nargs="+")
    q.add_argument("--tolerance", type=int, default=2)
    args = p.parse_args()
    if args.command == "inputs":
        make_inputs(args.folder, args.frames, args.seed)
        return 0
    return compare(args.folder, args.outputs, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
