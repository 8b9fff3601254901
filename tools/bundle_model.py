"""Keep only what inference needs from a training checkpoint (generator + keypoint detector).

    python tools/bundle_model.py output_dir/synthetic_varied/iter_1500_checkpoint.pdparams \
        ppfom/assets/synthetic64.pdparams

Drops the discriminator, Adam moments and schedule (the demo model's 9.2 MB checkpoint becomes 2.5 MB);
takes the weight averages of runs with train_params.weight_averaging (--raw: the last step's weights);
written atomically, so a failed run leaves the old file in place.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.errors import PpfomError
from ppfom.training.trainer import export_weights


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="a training checkpoint (tools/main.py writes iter_N_checkpoint.pdparams)")
    p.add_argument("output", help="where the inference weights go")
    p.add_argument("--raw", action="store_true", help="the last step's weights even if averages were kept")
    args = p.parse_args(argv)
    try:
        averaged = export_weights(args.checkpoint, args.output, averaged=not args.raw)
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}" + (" (weight averages)" if averaged else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
