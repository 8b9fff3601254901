"""Exported graphs made on first use, cached by what they are a function of.

``--backend onnxruntime`` then works from a .pdparams alone. The key hashes
the weights as loaded, the model config, the fixed shapes, the sources of the
networks and the exporter, and the Paddle and ppfom versions; a folder counts
only once its manifest exists, so an interrupted export is redone, never
half-used.

Hashing the weights needs them loaded, which for vox-256 takes seconds (building
the layers and setting 60M parameters), so the digest of a checkpoint file is
remembered by its path, size and modification time: a warm start then finds its
graphs without building the dygraph networks at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import paddle

from ..atomic import publish, temporary_beside
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


def export_folder(digest: str, cfg: dict, image_size: tuple[int, int], batch_size: int, backend: str,
                  inference: bool = True, cache_dir: str | None = None) -> str:
    """Where the graphs of networks with weights ``digest`` are cached for ``backend``."""
    from .. import __version__

    key = json.dumps({"weights": digest, "code": code_digest(),
                      "model": cfg.get("model"), "size": list(image_size), "batch": int(batch_size),
                      **GRAPHS[backend], "inference": inference, "paddle": paddle.__version__, "ppfom": __version__},
                     sort_keys=True, default=str)
    name = hashlib.sha256(key.encode()).hexdigest()[:20]
    return os.path.join(cache_dir or default_cache_dir(), "exported", name)


def cached_export(kp_detector: KPDetector, generator: OcclusionAwareGenerator, cfg: dict,
                  image_size: tuple[int, int], batch_size: int = 1, backend: str = "paddle-inference",
                  cache_dir: str | None = None, weight_file: str | None = None) -> str:
    """The folder of the graphs ``backend`` runs for these networks, exporting only those if needed
    (with one progress line: the first use of a model takes seconds). ``weight_file``: the
    checkpoint the networks were loaded from, whose digest is remembered for the next start."""
    digest = weights_digest(kp_detector, generator)
    folder = export_folder(digest, cfg, image_size, batch_size, backend, generator.inference, cache_dir)
    if not os.path.isfile(os.path.join(folder, MANIFEST)):
        print(f"exporting the networks for {backend} (first use of this model only; cached in {folder})",
              file=sys.stderr, flush=True)
        kind = GRAPHS[backend]
        spec = make_spec(kp_detector, generator, image_size, batch_size, fast_layers=kind["fast_layers"])
        save_static(kp_detector, generator, spec, folder, onnx=kind["onnx"], paddle_graphs=not kind["onnx"])
    if weight_file is not None:
        remember_digest(weight_file, cfg, digest, cache_dir)
    return folder


def exported_folder_of_file(weight_file: str, cfg: dict, image_size: tuple[int, int], batch_size: int,
                            backend: str, cache_dir: str | None = None) -> str | None:
    """The cached graphs of the inference networks in ``weight_file`` if they exist and the file has
    not changed since they were made; None otherwise (then load the networks and export)."""
    digest = _digests(cache_dir).get(_file_key(weight_file, cfg))
    if digest is None:
        return None
    folder = export_folder(digest, cfg, image_size, batch_size, backend, True, cache_dir)
    return folder if os.path.isfile(os.path.join(folder, MANIFEST)) else None


DIGESTS = "weight_digests.json"


def remember_digest(weight_file: str, cfg: dict, digest: str, cache_dir: str | None = None) -> None:
    """Record the networks' digest for this state of ``weight_file`` (atomically; best effort)."""
    key = _file_key(weight_file, cfg)
    digests = _digests(cache_dir)
    if key is None or digests.get(key) == digest:
        return
    digests[key] = digest
    path = os.path.join(cache_dir or default_cache_dir(), "exported", DIGESTS)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with temporary_beside(path) as tmp:
            with open(tmp, "w") as f:
                json.dump(digests, f, indent=0, sort_keys=True)
            publish(tmp, path)
    except OSError:
        pass  # a read-only cache only costs the next start its seconds


def _file_key(weight_file: str, cfg: dict) -> str | None:
    """Path, size and modification time of the file, and the model config it is read with."""
    try:
        stat = os.stat(weight_file)
    except OSError:
        return None
    ident = [os.path.realpath(weight_file), stat.st_size, stat.st_mtime_ns, cfg.get("model")]
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def _digests(cache_dir: str | None) -> dict[str, str]:
    path = os.path.join(cache_dir or default_cache_dir(), "exported", DIGESTS)
    try:
        with open(path) as f:
            found = json.load(f)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
