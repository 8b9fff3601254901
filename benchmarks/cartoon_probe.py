"""What the cartoon geometry benchmarks (mouth_geometry.py, blink_geometry.py) share: their flags, the
model they probe (absolute keypoints: source and driving are one identity at one pose) and the
identities they probe it on."""
from __future__ import annotations

import argparse
import warnings

import numpy as np
from machine import cpu_line

from ppfom import synthetic
from ppfom.predictor import FirstOrderPredictor


def probe_setup(description: str, argv: list[str] | None
                ) -> tuple[argparse.Namespace, FirstOrderPredictor, list[synthetic.Identity]]:
    """Parse ``--config --weights --identities --seed``, load the model, print the CPU line."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", default="ppfom/assets/synthetic64.yaml")
    p.add_argument("--weights", default="ppfom/assets/synthetic64.pdparams")
    p.add_argument("--identities", type=int, default=12)
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    pred = FirstOrderPredictor(config=args.config, weight_path=args.weights, image_size=64, relative=False,
                               backend="dygraph")
    if pred.generator.dense_motion_network is None:
        raise SystemExit(f"{args.weights}: the generator has no dense motion network: nothing to measure")
    rng = np.random.default_rng(args.seed)
    print(cpu_line())
    return args, pred, [synthetic.random_identity(rng, "varied") for _ in range(args.identities)]
