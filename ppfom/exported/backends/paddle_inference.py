"""Running one exported graph with Paddle Inference (oneDNN on the CPU, or a GPU)."""
from __future__ import annotations

import os

import numpy as np

from ..graphs import model_file


class PaddleInferenceSession:
    """One graph of an exported folder; ``run`` takes and returns numpy arrays in graph order.

    float32 only: oneDNN's bfloat16 mode was slower than OpenVINO's bfloat16 and than
    onnxruntime's float32 on every CPU measured, and further from float32.
    """

    def __init__(self, folder: str, part: str, threads: int | None = None, device: str = "cpu"):
        import paddle.inference as paddle_infer

        program = model_file(folder, part)
        config = paddle_infer.Config(program, os.path.join(folder, part + ".pdiparams"))
        config.disable_glog_info()
        if device.startswith("gpu"):
            config.enable_use_gpu(256, int(device.split(":")[1]) if ":" in device else 0)
        else:
            config.disable_gpu()
            _call(config, "enable_onednn", "enable_mkldnn")
            config.set_cpu_math_library_num_threads(threads or os.cpu_count() or 1)
        self._predictor = paddle_infer.create_predictor(config)
        self._inputs = [self._predictor.get_input_handle(n) for n in self._predictor.get_input_names()]
        self._outputs = [self._predictor.get_output_handle(n) for n in self._predictor.get_output_names()]

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        for handle, array in zip(self._inputs, arrays, strict=True):
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(np.ascontiguousarray(array, dtype=np.float32))
        self._predictor.run()
        return [handle.copy_to_cpu() for handle in self._outputs]


def _call(config, name: str, legacy: str) -> None:
    """Paddle 3 renamed the oneDNN switches (``enable_mkldnn*`` in 2.6)."""
    (getattr(config, name, None) or getattr(config, legacy))()
