"""Export ppfom's graphs as legacy ``.pdmodel`` and convert them to Paddle Lite ``.nb`` files.

Runs under Python 3.10 with paddlepaddle 2.6.2 and paddlelite 2.13rc0 (what
``build_lite.sh`` sets up): Paddle 3 writes only PIR programs, which
``paddle_lite_opt`` cannot read, and paddlelite wheels stop at Python 3.10.

    python deploy/lite/export_lite.py --config configs/firstorder_vox_mobile_256.yaml \
        --weights vox-mobile.pdparams --out lite_models --targets arm x86
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from ppfom.config import load_config
from ppfom.exported.graphs import PARTS, load_networks, make_spec, save_static


def export_pdmodel(config: str, weights: str, size: int, folder: str) -> None:
    """The three graphs (batch 1) as ``<part>.pdmodel`` + ``.pdiparams``; refuses unfit weights."""
    kp_detector, generator = load_networks(load_config(config), weights)
    spec = make_spec(kp_detector, generator, (size, size), 1)
    save_static(kp_detector, generator, spec, folder)


def convert(folder: str, target: str, out: str) -> None:
    """``paddle_lite_opt`` each graph to ``<out>/<target>/<part>.nb``."""
    opt = shutil.which("paddle_lite_opt") or os.path.join(os.path.dirname(sys.executable), "paddle_lite_opt")
    os.makedirs(os.path.join(out, target), exist_ok=True)
    for part in PARTS:
        dest = os.path.join(out, target, part)
        cmd = [opt, f"--model_file={os.path.join(folder, part + '.pdmodel')}",
               f"--param_file={os.path.join(folder, part + '.pdiparams')}",
               f"--optimize_out={dest}.part", "--optimize_out_type=naive_buffer", f"--valid_targets={target}"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode or not os.path.isfile(dest + ".part.nb") or "ERROR" in result.stderr:
            sys.exit(f"error: paddle_lite_opt failed on {part} for {target}: {result.stderr.strip()[-500:]}")
        os.replace(dest + ".part.nb", dest + ".nb")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--out", default="lite_models")
    p.add_argument("--targets", nargs="+", default=["arm", "x86"], choices=["arm", "x86"])
    args = p.parse_args()
    from ppfom.errors import PpfomError
    try:
        folder = os.path.join(args.out, "pdmodel")
        export_pdmodel(args.config, args.weights, args.size, folder)
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for target in args.targets:
        convert(folder, target, args.out)
        print(f"wrote {', '.join(p + '.nb' for p in PARTS)} to {os.path.join(args.out, target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
