"""``tools/fom_infer.py``: animate with exported graphs only (no dygraph networks).

PaddleGAN's flags (``--model_path``, ``--source_path``, ``--driving_path``,
``--output_path``, ``--batch_size``, ``--device``) plus ``--backend``,
``--precision`` and the demo's ``--crop_driving`` (the driving video read through
a box around its face). The frames match the demo's ``--backend`` of the same name.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from .. import frames
from ..errors import PpfomError
from ..faces.driving_crop import MODES, choose_driving_box, describe
from ..image import read_image
from ..video import VideoReader, VideoWriter
from .choose import open_exported
from .graphs import MANIFEST


def model_folder(path: str) -> str:
    """Accept the export's ``--output_dir`` as well as its ``fom_dy2st`` folder."""
    nested = os.path.join(path, "fom_dy2st")
    return nested if not os.path.isfile(os.path.join(path, MANIFEST)) and os.path.isdir(nested) else path


def animate_file(animator, size: tuple[int, int], source_path: str, driving_path: str, output: str,
                 batch_size: int, crop_driving: str = "auto") -> str:
    """Whole photo resized to the model's size, animated by every driving frame (read through a box
    around its face unless ``crop_driving`` is off), written atomically."""
    source = read_image(source_path)
    animator.set_source(frames.to_nchw(frames.resize(source, size)))
    with VideoReader(driving_path) as whole:
        choice = choose_driving_box(whole, mode=crop_driving)
        if crop_driving != "off":
            print(describe(choice, whole.frame_size))
        _animate_video(animator, size, whole.view(crop=choice.box), output, batch_size, driving_path)
    return output


def _animate_video(animator, size: tuple[int, int], reader: VideoReader, output: str, batch_size: int,
                   audio_from: str) -> None:
    with VideoWriter(output, reader.fps, audio_from=audio_from) as writer:
        for batch in reader.batches(batch_size):
            driving = np.stack([frames.resize(frame, size) for frame in batch])
            writer.write(frames.to_uint8(animator(frames.to_nchw(driving))))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fom_infer.py", description="Animate a photo with exported FOM graphs.")
    p.add_argument("--model_path", required=True, help="folder written by tools/export_model.py")
    p.add_argument("--source_path", required=True, help="photo to animate")
    p.add_argument("--driving_path", required=True, help="driving video, or a folder of videos")
    p.add_argument("--output_path", default="infer_output/fom/", help="output folder")
    p.add_argument("--batch_size", type=int, default=1, help="driving frames read per step")
    p.add_argument("--device", default="cpu", help="cpu or gpu (paddle-inference only)")
    p.add_argument("--backend", default="paddle-inference", choices=("paddle-inference", "onnxruntime", "openvino"))
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="bf16 and auto (bfloat16 where the CPU has it, checked against float32): openvino only")
    p.add_argument("--no_relative", action="store_true", help="use the driving keypoints' absolute positions")
    p.add_argument("--adapt_scale", action="store_true", help="scale motion by the faces' size ratio")
    p.add_argument("--crop_driving", default="auto", choices=MODES,
                   help="auto: read the driving video through one square box around its face, as the demo; "
                        "off: whole frames")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.batch_size < 1:
            raise PpfomError(f"--batch_size {args.batch_size} must be at least 1")
        folder = model_folder(args.model_path)
        animator = open_exported(folder, args.backend, not args.no_relative, args.adapt_scale,
                                 precision=args.precision, device=args.device)
        driving = Path(args.driving_path)
        videos = sorted(p for p in driving.iterdir() if p.is_file()) if driving.is_dir() else [driving]
        for video in videos:
            out = os.path.join(args.output_path, video.stem + ".mp4")
            animate_file(animator, animator.spec.image_size, args.source_path, str(video), out, args.batch_size,
                         args.crop_driving)
            print(f"wrote {out}")
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
