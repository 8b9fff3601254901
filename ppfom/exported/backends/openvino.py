"""Running one exported ONNX graph with OpenVINO on the CPU, in float32 or bfloat16.

OpenVINO reads the plain ONNX graphs (its bfloat16 kernels are fastest on
ordinary convolutions; the Winograd rewrite made for onnxruntime is 3x slower
there). Its default precision hint on a CPU with bfloat16 units is already
bfloat16, so the precision is always set explicitly. Compiled models are cached
under ``$PPFOM_HOME/openvino`` so a second run compiles in a fraction of the time.
"""
from __future__ import annotations

import importlib.util
import os
import warnings
from functools import lru_cache

import numpy as np

from ...checkpoint import default_cache_dir
from ...errors import PpfomError, PpfomWarning

HINTS = {"fp32": "f32", "bf16": "bf16"}
MIN_PSNR = 45.0  # dB of bf16 against fp32 on the user's own frames below which bf16 is refused


@lru_cache(maxsize=1)
def _core():
    """One OpenVINO runtime per process, kept: freeing the last one unloads the CPU plugin, after
    which a SIGTERM delivered to the process crashed it (seen with openvino 2026.4)."""
    try:
        import openvino
    except ImportError as err:
        interrupt = _interrupt_in(err)  # Ctrl-C or SIGTERM during the import comes out as an ImportError
        if interrupt is not None:
            raise interrupt from None
        if importlib.util.find_spec("openvino") is None:
            raise PpfomError("--backend openvino needs OpenVINO: pip install openvino") from None
        raise PpfomError(f"OpenVINO is installed but does not import ({err}): reinstall it "
                         "(pip install --force-reinstall openvino) or choose another --backend") from None
    return openvino.Core()


def _interrupt_in(error: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (or the demo's SIGTERM subclass) among the causes of ``error``, if any:
    re-raised as it was, so Ctrl-C exits 130 and SIGTERM 143."""
    seen = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _compile(path: str, precision: str, threads: int | None):
    core = _core()
    cache = os.path.join(default_cache_dir(), "openvino")
    os.makedirs(cache, exist_ok=True)
    config = {"INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_NUM_THREADS": int(threads or os.cpu_count() or 1), "CACHE_DIR": cache}
    return core.compile_model(core.read_model(path), "CPU", config)


class OpenVinoSession:
    """``<part>.onnx`` of an exported folder; ``run`` takes and returns numpy arrays in graph order."""

    def __init__(self, folder: str, part: str, precision: str = "fp32", threads: int | None = None):
        path = os.path.join(folder, part + ".onnx")
        if not os.path.isfile(path):
            raise PpfomError(f"'{folder}' has no {part}.onnx: export with --onnx (tools/export_model.py)")
        self.path, self.threads, self.precision = path, threads, precision
        self._model = _compile(path, precision, threads)
        self._request = self._model.create_infer_request()

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        feed = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
        results = self._request.infer(feed)
        return [np.array(results[out]) for out in self._model.outputs]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1] (inf when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


class CheckedBf16Session:
    """bfloat16 after a check: the first call runs both precisions on the user's own inputs (source
    and first driving frames) and keeps bfloat16 only if its frames are within ``MIN_PSNR`` of
    float32; otherwise it says so once and stays float32."""

    def __init__(self, folder: str, part: str, threads: int | None = None, min_psnr: float | None = None):
        self.fast: OpenVinoSession | None = OpenVinoSession(folder, part, "bf16", threads)
        self.exact: OpenVinoSession | None = OpenVinoSession(folder, part, "fp32", threads)
        self.min_psnr = MIN_PSNR if min_psnr is None else min_psnr
        self.measured: float | None = None

    @property
    def precision(self) -> str:
        return "fp32" if self.fast is None else "bf16"

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if self.exact is None:
            return self.fast.run(arrays)
        if self.fast is None:
            return self.exact.run(arrays)
        exact = self.exact.run(arrays)
        self.measured = min(psnr(e, f) for e, f in zip(exact, self.fast.run(arrays), strict=True))
        if self.measured < self.min_psnr:
            warnings.warn(f"bfloat16 frames are {self.measured:.1f} dB from float32 on these inputs (under "
                          f"{self.min_psnr:.0f} dB): running in float32", PpfomWarning, stacklevel=3)
            self.fast = None
        else:
            self.exact = None
        return exact
