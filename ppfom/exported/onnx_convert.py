"""Conversion of an exported Paddle graph to ONNX with paddle2onnx.

paddle2onnx needs opset 16 for grid_sample, and its default optimizer
pip-installs packages at run time, so it is switched off.
"""
from __future__ import annotations

import os

from ..errors import PpfomError

OPSET = 16


def to_onnx(prefix: str, target: str) -> str:
    """Convert ``prefix.json``/``.pdmodel`` + ``prefix.pdiparams`` to ``target`` (an .onnx file)."""
    try:
        import paddle2onnx
    except ImportError:
        raise PpfomError("ONNX export needs paddle2onnx: pip install paddle2onnx onnxruntime") from None
    program = prefix + ".json" if os.path.isfile(prefix + ".json") else prefix + ".pdmodel"
    paddle2onnx.export(program, prefix + ".pdiparams", save_file=target, opset_version=OPSET,
                       enable_onnx_checker=True, optimize_tool=None, verbose=False)
    return target
