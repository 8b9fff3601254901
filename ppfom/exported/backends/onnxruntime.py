"""Running one exported graph (converted to ONNX) with onnxruntime on the CPU."""
from __future__ import annotations

import os

import numpy as np

from ...errors import PpfomError


class OnnxRuntimeSession:
    """``<part>.onnx`` of an exported folder; ``run`` takes and returns numpy arrays in graph order."""

    def __init__(self, folder: str, part: str, threads: int | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise PpfomError("--backend onnxruntime needs onnxruntime: pip install paddle2onnx onnxruntime") from None
        path = os.path.join(folder, part + ".onnx")
        if not os.path.isfile(path):
            raise PpfomError(f"'{folder}' has no {part}.onnx: export with --onnx (tools/export_model.py)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # paddle2onnx leaves unused initializers that ORT warns about
        # Spinning worker threads win on an idle machine and lose badly on a shared one.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        feed = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in zip(self._inputs, arrays, strict=True)}
        return self._session.run(None, feed)
