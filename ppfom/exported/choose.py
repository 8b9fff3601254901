"""Which runtime and precision run the networks: Paddle dygraph, or exported graphs in Paddle
Inference, onnxruntime or OpenVINO (``backends/``).

``auto`` is what a user gets by default: the fastest backend that is correct
on the device, as measured by ``benchmarks/bench_animate.py`` per kind of CPU
(``cpu.py``): OpenVINO on Intel CPUs, in bfloat16 where they have AMX (checked
against float32 on the user's own frames), onnxruntime in float32 elsewhere.
"""
from __future__ import annotations

import importlib.util

from ..errors import PpfomError
from .animator import ExportedAnimator
from .cpu import native_bf16, openvino_is_faster
from .graphs import PARTS, read_manifest

BACKENDS = ("auto", "dygraph", "paddle-inference", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_backend(backend: str, device: str = "cpu", precision: str = "auto") -> str:
    """``auto`` -> a concrete backend: on a GPU dygraph; on a CPU the runtime measured fastest on
    that kind of CPU (``cpu.py``): OpenVINO on Intel CPUs (or wherever bfloat16 is asked for), else
    onnxruntime, else Paddle Inference."""
    if backend not in BACKENDS:
        raise PpfomError(f"--backend {backend} is not one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise PpfomError(f"--precision {precision} is not one of {', '.join(PRECISIONS)}")
    if backend != "auto":
        return backend
    if device.startswith("gpu"):
        return "dygraph"
    if (precision == "bf16" or openvino_is_faster()) and openvino_available():
        return "openvino"
    return "onnxruntime" if onnx_available() else "paddle-inference"


def resolve_precision(backend: str, precision: str) -> str:
    """The precision a concrete backend runs: ``fp32``, ``bf16`` (as asked, unchecked) or
    ``checked-bf16`` (``auto`` on a bfloat16 CPU: kept only if close to float32 on the user's frames)."""
    if precision not in PRECISIONS:
        raise PpfomError(f"--precision {precision} is not one of {', '.join(PRECISIONS)}")
    if backend != "openvino":
        if precision == "bf16":
            raise PpfomError(f"--precision bf16 needs --backend openvino (or auto), not {backend}")
        return "fp32"
    if precision == "auto":
        return "checked-bf16" if native_bf16() else "fp32"
    return precision


def onnx_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "paddle2onnx"))


def openvino_available() -> bool:
    return onnx_available() and importlib.util.find_spec("openvino") is not None


def open_exported(folder: str, backend: str, relative: bool = True, adapt_scale: bool = True,
                  precision: str = "fp32", threads: int | None = None, device: str = "cpu") -> ExportedAnimator:
    """An animator over an exported folder (``tools/export_model.py`` or the cache).

    Only the per-frame generator runs in bfloat16: keypoints and the source's
    encoding stay float32, since small keypoint errors move the whole face.
    """
    manifest = read_manifest(folder)
    precision = resolve_precision(backend, precision)
    if backend == "onnxruntime":
        from .backends.onnxruntime import OnnxRuntimeSession
        sessions = {p: OnnxRuntimeSession(folder, p, threads) for p in PARTS}
    elif backend == "openvino":
        sessions = _openvino_sessions(folder, precision, threads)
    elif backend == "paddle-inference":
        from .backends.paddle_inference import PaddleInferenceSession
        sessions = {p: PaddleInferenceSession(folder, p, threads, device) for p in PARTS}
    else:
        raise PpfomError(f"backend {backend!r} does not run exported models: use paddle-inference, onnxruntime "
                         "or openvino")
    return ExportedAnimator(sessions, manifest["spec"], relative, adapt_scale)


def _openvino_sessions(folder: str, precision: str, threads: int | None) -> dict:
    from .backends.openvino import CheckedBf16Session, OpenVinoSession

    sessions = {p: OpenVinoSession(folder, p, "fp32", threads) for p in PARTS if p != "generator"}
    if precision == "checked-bf16":
        sessions["generator"] = CheckedBf16Session(folder, "generator", threads)
    else:
        sessions["generator"] = OpenVinoSession(folder, "generator", precision, threads)
    return sessions
