"""``tools/export_model.py``: PaddleGAN's export command, writing ppfom's three graphs.

PaddleGAN's flags are kept (``--config-file``, ``--load``, ``--inputs_size``,
``--output_dir``, and ``--export_model`` as its docs spell the last). The
graphs go to ``<output_dir>/fom_dy2st/`` as PaddleGAN's do. Unlike PaddleGAN,
a checkpoint that does not fit the config is refused instead of exporting
random weights.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..config import load_config
from ..errors import PpfomError
from .graphs import load_networks, make_spec, save_static

DEFAULT_INPUTS = "1,3,256,256;1,3,256,256;1,10,2;1,10,2,2"


def parse_inputs_size(text: str, num_kp: int) -> tuple[tuple[int, int], int]:
    """PaddleGAN's ``source;driving;kp value;kp jacobian`` shapes -> ((H, W), driving batch).

    Only the source and driving shapes carry information; the keypoint shapes
    are checked against them and the config.
    """
    try:
        shapes = [[int(d) for d in group.split(",")] for group in text.split(";") if group.strip()]
    except ValueError:
        shapes = []
    images = shapes[:2]
    if not images or any(len(s) != 4 or s[1] != 3 or min(s) < 1 for s in images):
        raise PpfomError(f"--inputs_size '{text}' is not 'N,3,H,W;N,3,H,W;N,K,2;N,K,2,2': "
                         f"use e.g. '{DEFAULT_INPUTS}'")
    source, driving = images[0], images[-1]
    if source[2:] != driving[2:]:
        raise PpfomError(f"--inputs_size '{text}': source and driving sizes differ: give both the same H,W")
    batch = driving[0]
    for shape in shapes[2:]:
        if len(shape) < 3 or shape[0] != batch or shape[1] != num_kp:
            raise PpfomError(f"--inputs_size '{text}': keypoint shape {','.join(map(str, shape))} does not "
                             f"match batch {batch} and the config's {num_kp} keypoints: use {batch},{num_kp},2")
    return (source[2], source[3]), batch


def export_checkpoint(config: str, weights: str, output_dir: str, inputs_size: str = DEFAULT_INPUTS,
                      onnx: bool = False, onnx_for: str = "onnxruntime") -> str:
    """Export a checkpoint's networks; returns the folder written. ``onnx_for`` openvino writes the
    plain ONNX graphs (OpenVINO's bfloat16 runs them faster than onnxruntime's rewrite)."""
    cfg = load_config(config)
    num_kp = int(cfg["model"]["common_params"]["num_kp"])
    image_size, batch = parse_inputs_size(inputs_size, num_kp)
    if min(image_size) < 64 or image_size[0] % 64 or image_size[1] % 64:
        raise PpfomError(f"--inputs_size: image size {image_size} must be multiples of 64 (256 or 512 released)")
    kp_detector, generator = load_networks(cfg, weights)
    spec = make_spec(kp_detector, generator, image_size, batch, fast_layers=onnx_for == "onnxruntime")
    return save_static(kp_detector, generator, spec, os.path.join(output_dir, "fom_dy2st"), onnx=onnx)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="export_model.py", description=(
        "Export a First Order Motion checkpoint for Paddle Inference (and ONNX): keypoint detector, "
        "source encoder and per-frame generator as separate static graphs."))
    p.add_argument("-c", "--config-file", required=True, help="model config YAML (configs/*.yaml)")
    p.add_argument("--load", required=True, help="checkpoint .pdparams to export")
    p.add_argument("-s", "--inputs_size", default=DEFAULT_INPUTS,
                   help=f"shapes 'source;driving;kp value;kp jacobian' (default {DEFAULT_INPUTS})")
    p.add_argument("--output_dir", "--export_model", dest="output_dir", default="inference_model",
                   help="folder; the graphs go to <output_dir>/fom_dy2st/")
    p.add_argument("--onnx", action="store_true", help="also write <part>.onnx")
    p.add_argument("--onnx_for", default="onnxruntime", choices=("onnxruntime", "openvino"),
                   help="the runtime the ONNX graphs are shaped for (fom_infer.py runs either in both)")
    p.add_argument("-o", "--opt", nargs="+", help="PaddleGAN's config overrides: not supported")
    p.add_argument("--export_serving_model", default=False, help="PaddleGAN's serving export: not supported")
    p.add_argument("--model_name", default=None, help="accepted for compatibility; ignored")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.opt:
            raise PpfomError("-o/--opt overrides are not supported: edit a copy of the config file")
        if args.export_serving_model not in (False, "False", "false", "0"):
            raise PpfomError("--export_serving_model is not supported: serve the Paddle Inference files")
        folder = export_checkpoint(args.config_file, args.load, args.output_dir, args.inputs_size, args.onnx,
                                   args.onnx_for)
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"exported kp_detector, source_encoder and generator to {folder}")
    return 0
