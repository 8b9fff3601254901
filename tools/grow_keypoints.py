"""Add keypoints to a trained model, each a copy of an old one, for ``tools/main.py --warm-start``.

    python tools/grow_keypoints.py checkpoints/synthetic_varied_decoder/iter_2450_checkpoint.pdparams \
        grown.pdparams --copies 0 9 2 2 --noise 0.05

The grown model animates as the old one did (exactly, with --noise 0); train it with the old config's
``model.common_params.num_kp`` raised by the number of copies. Takes the checkpoint's weight averages when
it has them (what it would bundle); the discriminator is kept as it is; written atomically.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.checkpoint import read_checkpoint, save_checkpoint
from ppfom.errors import PpfomError
from ppfom.training.grow_keypoints import grow_keypoints


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


if __name__ == "__main__":
    sys.exit(main())
