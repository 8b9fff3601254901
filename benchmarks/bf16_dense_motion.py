"""Would running the dense-motion network in bfloat16 make a frame faster? Times it alone, per runtime.

    python benchmarks/bf16_dense_motion.py [--batch 1]

The dense-motion network is the one part of the vox-256 generator whose
convolutions can be rounded to bfloat16 with the output staying within 1e-2
(``bf16_sensitivity.py``). This exports it on its own (seeded weights) and
prints its time per frame in onnxruntime float32 (with the export-time
rewrites), Paddle Inference float32 and Paddle Inference bfloat16, with each
output's largest difference from dygraph.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_animate.py
import paddle
from paddle.static import InputSpec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_animate import seeded_networks

from ppfom.backends.ort import OnnxRuntimeSession
from ppfom.backends.paddle_inference import PaddleInferenceSession
from ppfom.modules.fast_decoder import fast_decoder
from ppfom.onnx_export import to_onnx


class DenseMotionGraph(paddle.nn.Layer):
    """Downsampled source and both keypoint sets in; deformation and occlusion map out."""

    def __init__(self, network: paddle.nn.Layer):
        super().__init__()
        self.network = network

    def forward(self, source_down, kp_source, kp_driving, jacobian_source, jacobian_driving):
        out = self.network(source_down, {"value": kp_driving, "jacobian": jacobian_driving},
                           {"value": kp_source, "jacobian": jacobian_source}, downsampled=True)
        return out["deformation"], out["occlusion_map"]


def inputs(batch: int, num_kp: int = 10) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    kp_source = rng.uniform(-0.8, 0.8, (1, num_kp, 2)).astype(np.float32)
    kp_driving = np.clip(kp_source + 0.05 * rng.standard_normal((batch, num_kp, 2)), -1, 1).astype(np.float32)
    eye = np.tile(np.eye(2, dtype=np.float32), (1, num_kp, 1, 1))
    jacobian_driving = eye.repeat(batch, 0) + 0.05 * rng.standard_normal((batch, num_kp, 2, 2)).astype(np.float32)
    return [rng.random((1, 3, 64, 64), dtype=np.float32), kp_source, kp_driving, eye, jacobian_driving]


def save(layer: paddle.nn.Layer, prefix: str, batch: int) -> None:
    specs = [InputSpec([1, 3, 64, 64], "float32", "source_down"), InputSpec([1, 10, 2], "float32", "kp_source"),
             InputSpec([batch, 10, 2], "float32", "kp_driving"),
             InputSpec([1, 10, 2, 2], "float32", "jacobian_source"),
             InputSpec([batch, 10, 2, 2], "float32", "jacobian_driving")]
    layer.eval()
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=specs, full_graph=True), prefix, input_spec=specs)


def best_time(session, feeds: list[np.ndarray], repeats: int = 8) -> tuple[float, list[np.ndarray]]:
    out = session.run(feeds)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(feeds)
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=1)
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    _, _, generator = seeded_networks("vox256")
    network = generator.dense_motion_network
    feeds = inputs(args.batch)
    with paddle.no_grad():
        reference = [t.numpy() for t in DenseMotionGraph(network)(*[paddle.to_tensor(a) for a in feeds])]
    with tempfile.TemporaryDirectory() as folder:
        save(DenseMotionGraph(network), os.path.join(folder, "plain"), args.batch)
        save(DenseMotionGraph(fast_decoder(network)), os.path.join(folder, ".fast"), args.batch)
        to_onnx(os.path.join(folder, ".fast"), os.path.join(folder, "fast.onnx"))
        sessions = {"onnxruntime fp32": OnnxRuntimeSession(folder, "fast"),
                    "paddle-inference fp32": PaddleInferenceSession(folder, "plain"),
                    "paddle-inference bf16": PaddleInferenceSession(folder, "plain", precision="bf16")}
        print("| runtime | ms/frame | max err deformation | max err occlusion |\n|---|---|---|---|")
        for name, session in sessions.items():
            seconds, out = best_time(session, feeds)
            errors = [float(np.abs(a - b).max()) for a, b in zip(out, reference, strict=True)]
            print(f"| {name} | {seconds * 1000 / args.batch:.1f} | {errors[0]:.1e} | {errors[1]:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
