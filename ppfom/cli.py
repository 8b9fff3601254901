"""The demo's command line: PaddleGAN's flags and defaults, one-line errors.

``applications/tools/first-order-demo.py`` is a thin wrapper over :func:`main`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Callable

from .errors import PpfomError, PpfomWarning


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="first-order-demo.py",
        description="Animate the face in a photo with the motion of a driving video (First Order Motion Model).")
    p.add_argument("--config", default=None, help="model config YAML (default: the released model's)")
    p.add_argument("--weight_path", default=None,
                   help="checkpoint .pdparams (default: download PaddleGAN's published weights)")
    p.add_argument("--source_image", required=True, help="photo to animate")
    p.add_argument("--driving_video", required=True, help="video whose motion drives the photo")
    p.add_argument("--output", default="output", help="output folder")
    p.add_argument("--filename", default="result.mp4", help="output file name")
    p.add_argument("--relative", action="store_true",
                   help="transfer relative keypoint motion (recommended); default: absolute positions")
    p.add_argument("--adapt_scale", action="store_true",
                   help="scale the motion by the keypoints' convex-hull size ratio")
    p.add_argument("--find_best_frame", action="store_true",
                   help="start from the driving frame most like the source")
    p.add_argument("--best_frame", type=int, default=None, help="start from this driving frame")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is available")
    p.add_argument("--ratio", type=float, default=0.4,
                   help="with several faces (--multi_person), the radius of the circle each is pasted back through, "
                        "relative to its crop's height (0.4-0.5); one face is pasted back with its whole crop")
    p.add_argument("--face_detector", default=None,
                   help="retinaface (default, built in), sfd or blazeface (PaddleGAN's; download their weights)")
    p.add_argument("--face_detector_weights", default=None,
                   help="weights of --face_detector sfd/blazeface (s3fd_paddle.pdparams, blazeface.pdparams) "
                        "instead of downloading them")
    p.add_argument("--crop_driving", default="auto", choices=("auto", "off"),
                   help="auto: read the driving video through one square box around its face (found in one "
                        "extra pass; left whole when the face already fills the frame); off: whole frames")
    p.add_argument("--multi_person", action="store_true", help="animate every face in the photo")
    p.add_argument("--image_size", type=int, default=256, help="model resolution: 256 or 512")
    p.add_argument("--batch_size", type=int, default=1, help="driving frames per network call")
    p.add_argument("--face_enhancement", action="store_true",
                   help="restore detail in the animated faces with GPEN-512 (downloads its weights)")
    p.add_argument("--face_enhancement_weights", default=None,
                   help="GPEN-512.pdparams for --face_enhancement instead of downloading it")
    p.add_argument("--mobile_net", action="store_true", help="use the compressed mobile model")
    p.add_argument("--backend", default="auto",
                   help="how the networks run: auto (the fastest correct one for this machine), dygraph, "
                        "paddle-inference, onnxruntime, openvino")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="auto: bfloat16 (OpenVINO) on CPUs with bfloat16 units, kept only if within 45 dB PSNR "
                        "of float32 on your own frames, float32 elsewhere; fp32: exact; bf16: bfloat16 unchecked")
    return p


def run(args: argparse.Namespace) -> str:
    from .predictor import FirstOrderPredictor, set_device

    set_device(args.cpu)
    predictor = FirstOrderPredictor(
        output=args.output, weight_path=args.weight_path, config=args.config,
        relative=args.relative, adapt_scale=args.adapt_scale, find_best_frame=args.find_best_frame,
        best_frame=args.best_frame, ratio=args.ratio, filename=args.filename,
        face_detector=args.face_detector, multi_person=args.multi_person, image_size=args.image_size,
        face_enhancement=args.face_enhancement, batch_size=args.batch_size, mobile_net=args.mobile_net,
        face_detector_weights=args.face_detector_weights,
        face_enhancement_weights=args.face_enhancement_weights,
        backend=args.backend, precision=args.precision, crop_driving=args.crop_driving)
    return predictor.run(args.source_image, args.driving_video)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every ``finally`` and writer clean-up runs."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """ppfom's own warnings as one line, like its errors; others keep Python's format."""
    if issubclass(category, PpfomWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)


def guarded(work: Callable[[], str | None]) -> int:
    """Run ``work`` as a command: ppfom warnings and errors as one line each, Ctrl-C and SIGTERM
    reported as a clean stop; prints ``wrote PATH`` with the path ``work`` returns (if any)."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            path = work()
    except PpfomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        name = "terminated" if isinstance(err, Terminated) else "interrupted"
        print(f"{name}: stopped before the end, no output was written; run the command again to redo it",
              file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if path:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args))
