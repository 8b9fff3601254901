"""The networks as static graphs, and the runtimes that run them.

Layout, in the order a frame meets it:

- ``graphs.py``: the three graphs (``kp_detector``, ``source_encoder``, ``generator``), their
  fixed shapes and manifest, written with ``paddle.jit.save``; ``onnx_convert.py`` turns them into
  ONNX (paddle2onnx).
- ``cache.py``: graphs made on first use, keyed by weights, config and code, only those the chosen
  backend reads.
- ``choose.py``: ``--backend`` and ``--precision``: which runtime, which precision, measured per
  kind of CPU (``cpu.py`` reads its flags); ``open_exported`` builds an animator over a folder.
- ``animator.py``: :class:`ExportedAnimator`, the dygraph Animator's interface over any runtime.
- ``backends/``: one file per runtime, side by side, each a session whose ``run`` takes and
  returns numpy arrays: ``paddle_inference.py``, ``onnxruntime.py``, ``openvino.py``.
- ``export_cli.py`` (``tools/export_model.py``) and ``infer_cli.py`` (``tools/fom_infer.py``).
"""
from .animator import ExportedAnimator
from .choose import BACKENDS, PRECISIONS, open_exported, resolve_backend, resolve_precision

__all__ = ["BACKENDS", "PRECISIONS", "ExportedAnimator", "open_exported", "resolve_backend", "resolve_precision"]
