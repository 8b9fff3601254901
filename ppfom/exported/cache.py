"""Exported graphs made on first use, cached by what they are a function of.

``--backend onnxruntime`` then works from a .pdparams alone. The key hashes
the weights as loaded, the model config, the fixed shapes, the sources of the
networks and the exporter, and the Paddle and ppfom versions; a folder counts
only once its manifest exists, so an interrupted export is redone, never
half-used.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import paddle

from ..checkpoint import default_cache_dir
from ..modules import KPDetector, OcclusionAwareGenerator
from .graphs import MANIFEST, make_spec, save_static


def weights_digest(*networks: paddle.nn.Layer) -> str:
    """sha256 of every parameter and buffer, in state-dict order."""
    digest = hashlib.sha256()
    for net in networks:
        for name, value in net.state_dict().items():
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(value.numpy()).tobytes())
    return digest.hexdigest()


def code_digest() -> str:
    """sha256 of the sources that shape the graphs, so a changed network or exporter re-exports."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*here.parent.glob("modules/*.py"), here / "graphs.py", here / "onnx_convert.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


# What each backend reads: Paddle graphs, or ONNX with or without the onnxruntime rewrite
# (OpenVINO's bfloat16 kernels run the plain convolutions 3x faster than the Winograd ones).
GRAPHS = {"paddle-inference": {"onnx": False, "fast_layers": False},
          "onnxruntime": {"onnx": True, "fast_layers": True},
          "openvino": {"onnx": True, "fast_layers": False}}


def cached_export(kp_detector: KPDetector, generator: OcclusionAwareGenerator, cfg: dict,
                  image_size: tuple[int, int], batch_size: int = 1, backend: str = "paddle-inference",
                  cache_dir: str | None = None) -> str:
    """The folder of the graphs ``backend`` runs for these networks, exporting only those if needed
    (with one progress line: the first use of a model takes seconds)."""
    from .. import __version__

    kind = GRAPHS[backend]
    key = json.dumps({"weights": weights_digest(kp_detector, generator), "code": code_digest(),
                      "model": cfg.get("model"), "size": list(image_size), "batch": int(batch_size), **kind,
                      "inference": generator.inference, "paddle": paddle.__version__, "ppfom": __version__},
                     sort_keys=True, default=str)
    name = hashlib.sha256(key.encode()).hexdigest()[:20]
    folder = os.path.join(cache_dir or default_cache_dir(), "exported", name)
    if not os.path.isfile(os.path.join(folder, MANIFEST)):
        print(f"exporting the networks for {backend} (first use of this model only; cached in {folder})",
              file=sys.stderr, flush=True)
        spec = make_spec(kp_detector, generator, image_size, batch_size, fast_layers=kind["fast_layers"])
        save_static(kp_detector, generator, spec, folder, onnx=kind["onnx"], paddle_graphs=not kind["onnx"])
    return folder
