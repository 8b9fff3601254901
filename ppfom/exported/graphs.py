"""Static export of the networks for Paddle Inference, ONNX and Paddle Lite.

A video needs three graphs, split like :class:`ppfom.animator.Animator`:
``kp_detector`` (every frame, and the source once), ``source_encoder`` (the
source once: generator features and the motion network's downsampled copy)
and ``generator`` (every frame: warp and decode, from the encoder's outputs and
the two keypoint sets). Recomputing the encoder per frame, as PaddleGAN's
exported generator does, costs a fifth of every frame.

The per-frame graph takes already normalized driving keypoints (relative
motion and adapt scale are a few 2x2 products, done by the caller), and it
contains no interpolate op at the released resolutions: oneDNN in Paddle
Inference 3.3 cannot run one.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import paddle
from paddle import nn
from paddle.static import InputSpec

from ..errors import PpfomError
from ..modules import KPDetector, OcclusionAwareGenerator
from ..modules.fast_decoder import fast_decoder
from ..modules.geometry import nearest_as_resize_op
from ..weights import load_networks  # noqa: F401  (ppfom.exported.graphs.load_networks, the exporters' entry)

PARTS = ("kp_detector", "source_encoder", "generator")
MANIFEST = "fom_export.json"


@dataclass(frozen=True)
class ExportSpec:
    """What the exported graphs are fixed to: image size, driving batch, keypoint layout."""

    image_size: tuple[int, int]
    batch_size: int
    num_kp: int
    jacobian: bool
    features: tuple[int, int, int]  # generator features (C, h, w) for one source
    motion_size: tuple[int, int]  # the motion network's (h, w)
    fast_layers: bool = False  # ONNX graphs' per-frame networks rewritten by ppfom.modules.fast_decoder


class _KeypointGraph(nn.Layer):
    """Tuple outputs (value[, jacobian]) so exported graphs have a fixed output order."""

    def __init__(self, kp_detector: KPDetector):
        super().__init__()
        self.kp_detector = kp_detector

    def forward(self, image):
        kp = self.kp_detector(image)
        return (kp["value"], kp["jacobian"]) if "jacobian" in kp else (kp["value"],)


class _SourceEncoderGraph(nn.Layer):
    def __init__(self, generator: OcclusionAwareGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, source):
        motion = self.generator.dense_motion_network
        down = motion.downsample(source) if motion is not None else source
        if down is source:  # a graph output that is its own input breaks Paddle Inference's name analysis
            down = paddle.assign(source)
        return self.generator.encode(source), down


class _FrameGraph(nn.Layer):
    """The generator's per-frame part: prediction only (``full_output=False``)."""

    def __init__(self, generator: OcclusionAwareGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, source_features, source_down, kp_source_value, kp_driving_value,
                kp_source_jacobian=None, kp_driving_jacobian=None):
        kp_source = {"value": kp_source_value}
        kp_driving = {"value": kp_driving_value}
        if kp_source_jacobian is not None:
            kp_source["jacobian"] = kp_source_jacobian
            kp_driving["jacobian"] = kp_driving_jacobian
        out = self.generator.animate(source_down, source_features, kp_driving, kp_source,
                                     source_down=source_down, full_output=False)
        return out["prediction"]


def input_names(spec: ExportSpec) -> dict[str, list[str]]:
    """Input names of each graph, in the order the graphs take them."""
    frame = ["source_features", "source_down", "kp_source_value", "kp_driving_value"]
    if spec.jacobian:
        frame += ["kp_source_jacobian", "kp_driving_jacobian"]
    return {"kp_detector": ["image"], "source_encoder": ["source"], "generator": frame}


def output_names(spec: ExportSpec) -> dict[str, list[str]]:
    kp = ["value", "jacobian"] if spec.jacobian else ["value"]
    return {"kp_detector": kp, "source_encoder": ["source_features", "source_down"],
            "generator": ["prediction"]}


def _input_specs(spec: ExportSpec) -> dict[str, list[InputSpec]]:
    h, w = spec.image_size
    b, k = spec.batch_size, spec.num_kp
    shapes = {
        "image": [b, 3, h, w], "source": [1, 3, h, w],
        "source_features": [1, *spec.features], "source_down": [1, 3, *spec.motion_size],
        "kp_source_value": [1, k, 2], "kp_driving_value": [b, k, 2],
        "kp_source_jacobian": [1, k, 2, 2], "kp_driving_jacobian": [b, k, 2, 2],
    }
    return {part: [InputSpec(shapes[n], "float32", n) for n in names]
            for part, names in input_names(spec).items()}


def make_spec(kp_detector: KPDetector, generator: OcclusionAwareGenerator,
              image_size: tuple[int, int], batch_size: int = 1, fast_layers: bool = True) -> ExportSpec:
    """Probe the networks once in dygraph for the shapes the graphs are fixed to.

    ``fast_layers``: the ONNX graphs get Winograd and transposed-convolution
    layers (``ppfom.modules.fast_decoder``), about 0.13 s less per vox-256 frame
    in onnxruntime; the Paddle graphs keep the plain layers.
    """
    h, w = int(image_size[0]), int(image_size[1])
    with paddle.no_grad():
        features, down = _SourceEncoderGraph(generator)(paddle.zeros([1, 3, h, w]))
    return ExportSpec(image_size=(h, w), batch_size=int(batch_size), num_kp=kp_detector.num_kp,
                      jacobian=kp_detector.jacobian is not None,
                      features=tuple(int(d) for d in features.shape[1:]),
                      motion_size=tuple(int(d) for d in down.shape[2:]), fast_layers=fast_layers)


def graphs(kp_detector: KPDetector, generator: OcclusionAwareGenerator,
           spec: ExportSpec | None = None) -> dict[str, nn.Layer]:
    """The three exportable layers, in eval mode (wrapper too: Paddle 2.6 needs it).

    With a ``spec`` whose ``fast_layers`` is set, the per-frame networks are
    rewritten copies (``fast_decoder``).
    """
    frame, keypoints = generator, kp_detector
    if spec is not None and spec.fast_layers:
        frame, keypoints = fast_decoder(generator, spec.features[1:]), fast_decoder(kp_detector)
    layers = {"kp_detector": _KeypointGraph(keypoints), "source_encoder": _SourceEncoderGraph(generator),
              "generator": _FrameGraph(frame)}
    for layer in layers.values():
        layer.eval()
    return layers


def save_static(kp_detector: KPDetector, generator: OcclusionAwareGenerator, spec: ExportSpec,
                folder: str, onnx: bool = False, paddle_graphs: bool = True) -> str:
    """Write the three graphs (``paddle.jit.save``) and a manifest into ``folder``.

    Files are written in a temporary folder beside ``folder`` and moved in,
    manifest last, so a folder with a manifest is always complete.
    ``onnx=True`` also converts each graph to ``<part>.onnx`` (with ``spec.fast_layers``, the
    rewrite that suits onnxruntime); ``paddle_graphs=False`` leaves the Paddle graphs out.
    """
    if not (onnx or paddle_graphs):
        raise ValueError("nothing to export: ask for the Paddle graphs, ONNX or both")
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".export.")
    try:
        with _quiet():
            _save_parts(kp_detector, generator, spec, tmp, onnx, paddle_graphs)
        _move_in(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _save_parts(kp_detector: KPDetector, generator: OcclusionAwareGenerator, spec: ExportSpec,
                tmp: str, onnx: bool, paddle_graphs: bool) -> None:
    specs = _input_specs(spec)
    if paddle_graphs:
        for part, layer in graphs(kp_detector, generator).items():
            _jit_save(layer, specs[part], os.path.join(tmp, part))
    if onnx:
        for part, layer in graphs(kp_detector, generator, spec).items():
            _save_onnx(layer, specs[part], tmp, part)
    formats = ["paddle"] * paddle_graphs + ["onnx"] * onnx
    manifest = {"spec": asdict(spec), "inputs": input_names(spec), "outputs": output_names(spec),
                "paddle": paddle.__version__, "formats": formats}
    with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hold back what Paddle's tracer and paddle2onnx print (C++ logs included), so that exporting
    on first use keeps the demo's output to its usual lines; shown only if the export fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as log, open(log.fileno(), "w", closefd=False) as text:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield
        except BaseException:
            text.flush()
            _restore(saved)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        else:
            _restore(saved)


def _restore(saved: list[int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, duplicate in zip((1, 2), saved, strict=True):
        os.dup2(duplicate, fd)
        os.close(duplicate)


def _jit_save(layer: nn.Layer, specs: list[InputSpec], prefix: str) -> None:
    static = paddle.jit.to_static(layer, input_spec=specs, full_graph=True)
    paddle.jit.save(static, prefix, input_spec=specs)


def _save_onnx(layer: nn.Layer, specs: list[InputSpec], folder: str, part: str) -> None:
    """``<part>.onnx``, traced again with resize ops for upsampling (faster in onnxruntime)."""
    from .onnx_convert import to_onnx

    prefix = os.path.join(folder, ".onnx_src", part)
    with nearest_as_resize_op():
        # A fresh copy: tracing the same layer a second time in one process sometimes crashed
        # Paddle 3.3's dy2static (garbage op call stacks, UnicodeDecodeError).
        _jit_save(copy.deepcopy(layer), specs, prefix)
    to_onnx(prefix, os.path.join(folder, part + ".onnx"))
    shutil.rmtree(os.path.dirname(prefix))


def _move_in(tmp: str, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    stale = os.path.join(folder, MANIFEST)
    if os.path.exists(stale):
        os.remove(stale)
    names = sorted(os.listdir(tmp), key=lambda n: n == MANIFEST)
    for name in names:
        os.replace(os.path.join(tmp, name), os.path.join(folder, name))


def read_manifest(folder: str) -> dict:
    """The manifest of an exported folder; a one-line error if the folder is not one."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        raise PpfomError(f"'{folder}' holds no exported ppfom model ({MANIFEST} missing): "
                         "export one with tools/export_model.py")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    s = manifest["spec"]
    manifest["spec"] = ExportSpec(image_size=tuple(s["image_size"]), batch_size=s["batch_size"],
                                  num_kp=s["num_kp"], jacobian=s["jacobian"], features=tuple(s["features"]),
                                  motion_size=tuple(s["motion_size"]), fast_layers=s.get("fast_layers", False))
    return manifest


def model_file(folder: str, part: str) -> str:
    """The program file of a part: PIR ``.json`` (Paddle 3) or legacy ``.pdmodel`` (Paddle 2.6)."""
    for ext in (".json", ".pdmodel"):
        if os.path.isfile(os.path.join(folder, part + ext)):
            return os.path.join(folder, part + ext)
    raise PpfomError(f"'{folder}' has no {part}.json or {part}.pdmodel: export the model again")
