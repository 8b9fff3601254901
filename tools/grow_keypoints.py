"""Add keypoints to a trained model, each a copy of an old one, for ``tools/main.py --warm-start``.

    python tools/grow_keypoints.py checkpoints/synthetic_varied_decoder/iter_2450_checkpoint.pdparams \
        grown.pdparams --copies 0 9 2 2 --place left_eye right_eye mouth_left mouth_right \
        --config configs/firstorder_synthetic_varied_decoder.yaml

The grown model animates as the old one did (exactly, with --noise 0 and no --place); train it with the
old config's ``model.common_params.num_kp`` raised by the number of copies. ``--place`` first moves each
copy onto a landmark of the training set's landmark files (copies of one keypoint never part otherwise). Takes the checkpoint's weight averages when
it has them (what it would bundle); the discriminator is kept as it is; written atomically.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.checkpoint import read_checkpoint, save_checkpoint
from ppfom.errors import PpfomError
from ppfom.training.grow_keypoints import grow_keypoints, place_keypoints

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # the landmark files' order


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="a training checkpoint or bundled weights (kp_detector + generator)")
    p.add_argument("output", help="where the grown weights go")
    p.add_argument("--copies", type=int, nargs="+", required=True,
                   help="for each new keypoint, the old keypoint it starts as (indices may repeat)")
    p.add_argument("--noise", type=float, default=0.05,
                   help="perturbation of the copied heatmap heads, as a fraction of their spread, so each "
                        "copy can leave its original (0: exactly the old model)")
    p.add_argument("--num_channels", type=int, default=3, help="image channels of the model")
    p.add_argument("--place", nargs="+", choices=LANDMARKS, default=None,
                   help="for each new keypoint, the landmark to move it onto before training")
    p.add_argument("--config", default=None, help="the old model's config (needed by --place)")
    p.add_argument("--dataroot", default=None, help="with --place: a dataset with landmark files "
                   "(default: the config's dataset.train.dataroot)")
    p.add_argument("--frames", type=int, default=128,
                   help="with --place: training frames to fit on (one per video, videos drawn at random)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        state = read_checkpoint(args.checkpoint)
        source = state.get("ema", state)
        if "kp_detector" not in source or "generator" not in source:
            raise PpfomError(f"'{args.checkpoint}' has no kp_detector and generator weights: pass a training "
                             "checkpoint (tools/main.py's iter_N_checkpoint.pdparams) or bundled weights")
        kp, gen = grow_keypoints(source["kp_detector"], source["generator"], args.copies,
                                 args.num_channels, args.noise, args.seed)
        if args.place:
            kp = _placed(kp, args)
        grown = {"kp_detector": kp, "generator": gen}
        if "discriminator" in state:
            grown["discriminator"] = state["discriminator"]
        save_checkpoint(grown, args.output)
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    num_kp = kp["kp.bias"].shape[0]
    print(f"wrote {args.output}: {num_kp} keypoints (set model.common_params.num_kp: {num_kp})")
    return 0


def _placed(kp: dict, args: argparse.Namespace) -> dict:
    """The grown detector's new heads fitted so the copies land on ``args.place``'s landmarks."""
    import copy

    from ppfom.config import build_kp_detector, load_config

    if args.config is None or len(args.place) != len(args.copies):
        raise PpfomError("--place needs --config (the old model's) and one landmark per --copies entry")
    cfg = copy.deepcopy(load_config(args.config))
    num_kp = kp["kp.bias"].shape[0]
    cfg["model"]["common_params"]["num_kp"] = num_kp
    detector = build_kp_detector(cfg)
    detector.set_state_dict(kp)
    detector.eval()
    images, marks = _landmarked_frames(cfg, args)
    targets = marks[:, [LANDMARKS.index(name) for name in args.place]]
    new = list(range(num_kp - len(args.copies), num_kp))
    error = place_keypoints(detector, new, images, targets, originals=args.copies)
    print(f"placed keypoints {new[0]}-{new[-1]} on {', '.join(args.place)}: mean error {error:.3f} "
          f"({error * (images.shape[-1] - 1) / 2:.1f} pixels) over {len(images)} frames")
    return {k: v.numpy() for k, v in detector.state_dict().items()}


def _landmarked_frames(cfg: dict, args: argparse.Namespace):
    """One random frame of each of ``args.frames`` random training videos, (N, 3, H, W) in [0, 1], and
    their landmarks (N, 5, 2) in [-1, 1]."""
    import numpy as np

    from ppfom.training.dataset import native_width, read_video
    from ppfom.training.regions import load_landmarks

    root = args.dataroot or cfg["dataset"]["train"]["dataroot"]
    shape = cfg["dataset"]["train"].get("frame_shape", [256, 256, 3])
    folder = os.path.join(root, "train")
    if not os.path.isdir(folder):
        raise PpfomError(f"--place needs training videos in '{folder}': pass --dataroot")
    rng = np.random.default_rng(args.seed)
    images, marks = [], []
    names = sorted(os.listdir(folder))
    for name in rng.choice(names, min(args.frames, len(names)), replace=False):
        video = os.path.join(folder, name)
        points = load_landmarks(root, "train", video)
        scale = shape[1] / native_width(video, shape)
        pick = int(rng.integers(len(points)))
        images += read_video(video, shape, [pick])
        marks.append(points[pick] * scale / (shape[1] - 1) * 2 - 1)
    frames = np.stack(images).astype(np.float32).transpose(0, 3, 1, 2) / 255
    return frames, np.stack(marks).astype(np.float32)


if __name__ == "__main__":
    sys.exit(main())
