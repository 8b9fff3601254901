"""Ways to run the networks: Paddle dygraph, or exported graphs in Paddle Inference or onnxruntime.

``auto`` is what a user gets by default: the fastest backend that is correct
on the device (see ``benchmarks/bench_animate.py``).
"""
from __future__ import annotations

import importlib.util

from ..errors import PpfomError
from ..export import PARTS, read_manifest
from .exported_animator import ExportedAnimator

BACKENDS = ("auto", "dygraph", "paddle-inference", "onnxruntime")
PRECISIONS = ("fp32", "bf16")


def resolve_backend(backend: str, device: str = "cpu") -> str:
    """``auto`` -> a concrete backend: on the CPU onnxruntime when installed (the fastest in
    benchmarks/bench_animate.py), else Paddle Inference with oneDNN; on a GPU, dygraph."""
    if backend not in BACKENDS:
        raise PpfomError(f"--backend {backend} is not one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if device.startswith("gpu"):
        return "dygraph"
    return "onnxruntime" if onnx_available() else "paddle-inference"


def onnx_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "paddle2onnx"))


def open_exported(folder: str, backend: str, relative: bool = True, adapt_scale: bool = True,
                  precision: str = "fp32", threads: int | None = None, device: str = "cpu") -> ExportedAnimator:
    """An animator over an exported folder (``tools/export_model.py`` or the cache).

    ``precision='bf16'`` (Paddle Inference on CPUs with AVX512-BF16) runs only
    the per-frame generator in bfloat16: keypoints stay float32, since small
    keypoint errors move the whole face.
    """
    if precision not in PRECISIONS:
        raise PpfomError(f"--precision {precision} is not one of {', '.join(PRECISIONS)}")
    manifest = read_manifest(folder)
    if backend == "onnxruntime":
        if precision != "fp32":
            raise PpfomError("onnxruntime runs float32 only: use --backend paddle-inference for bf16")
        from .ort import OnnxRuntimeSession
        sessions = {p: OnnxRuntimeSession(folder, p, threads) for p in PARTS}
    elif backend == "paddle-inference":
        from .paddle_inference import PaddleInferenceSession
        sessions = {p: PaddleInferenceSession(folder, p, threads, precision if p == "generator" else "fp32",
                                              device) for p in PARTS}
    else:
        raise PpfomError(f"backend {backend!r} does not run exported models: use paddle-inference or onnxruntime")
    return ExportedAnimator(sessions, manifest["spec"], relative, adapt_scale)
