"""How far bfloat16 convolutions move the vox-256 generator's output, part by part.

    python benchmarks/bf16_sensitivity.py            # seeded weights, astronaut photo, rotated copies
    python benchmarks/bf16_sensitivity.py --weights vox-cpk.pdparams

Emulates what oneDNN's bf16 mode does to a convolution (inputs, weights and
output rounded to bfloat16, accumulation in float32) in dygraph, for one part
of the generator at a time, and prints the largest and mean difference from
float32 on the same frames. This says which parts could run in bf16 and keep
the output within a tolerance, independent of any runtime's speed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import paddle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_animate import seeded_networks

from ppfom.checkpoint import load_state, read_checkpoint


def _bf16(x: paddle.Tensor) -> paddle.Tensor:
    return x.astype("bfloat16").astype("float32")


def _round_convs(layers: list[paddle.nn.Layer]) -> list:
    """Make every Conv2D in ``layers`` compute as a bf16 oneDNN convolution; returns the hooks."""
    hooks = []
    for layer in layers:
        convs = [layer] if isinstance(layer, paddle.nn.Conv2D) else []
        convs += [m for m in layer.sublayers() if isinstance(m, paddle.nn.Conv2D)]
        for conv in convs:
            conv.weight.set_value(_bf16(conv.weight))
            hooks.append(conv.register_forward_pre_hook(lambda _, inputs: tuple(_bf16(t) for t in inputs)))
            hooks.append(conv.register_forward_post_hook(lambda _, __, out: _bf16(out)))
    return hooks


def _frames() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data, transform

    source = transform.resize(data.astronaut(), (256, 256)).astype(np.float32)
    driving = [transform.rotate(source, angle, mode="edge") for angle in (5, 10)]
    return source.transpose(2, 0, 1)[None], np.stack(driving).transpose(0, 3, 1, 2).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=None, help="a vox-256 checkpoint (default: seeded random weights)")
    args = p.parse_args()
    _, kp, gen = seeded_networks("vox256")
    if args.weights:
        state = read_checkpoint(args.weights)
        for net, name in ((kp, "kp_detector"), (gen, "generator")):
            load_state(net, state[name], name, source=args.weights)
    source, driving = (paddle.to_tensor(a) for a in _frames())
    saved = {k: v.numpy().copy() for k, v in gen.state_dict().items()}
    with paddle.no_grad():
        kp_source, kp_driving = kp(source), kp(driving)

        def predict() -> np.ndarray:
            return gen.animate(source, gen.encode(source), kp_driving, kp_source, full_output=False)["prediction"].numpy()

        reference = predict()
        parts = {"dense motion": [gen.dense_motion_network], "encoder": [gen.first, gen.down_blocks],
                 "bottleneck": [gen.bottleneck], "decoder up-blocks": [gen.up_blocks], "final": [gen.final],
                 "whole generator": [gen]}
        print(f"| bf16 part ({'given' if args.weights else 'seeded'} weights) | max err | mean err |")
        print("|---|---|---|")
        for name, layers in parts.items():
            gen.set_state_dict({k: paddle.to_tensor(v) for k, v in saved.items()})
            hooks = _round_convs(layers)
            err = np.abs(predict() - reference)
            for hook in hooks:
                hook.remove()
            print(f"| {name} | {err.max():.4f} | {err.mean():.5f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
