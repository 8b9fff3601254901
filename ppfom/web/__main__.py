"""``python -m ppfom.web``: serve the pages (upload at /, live camera at /live) on this machine until Ctrl-C.

The upload page's model is loaded before the server starts, so that a missing or unfitting
checkpoint stops here with the CLI's one-line error instead of at the first upload.
``--demo`` uses the bundled 64x64 model instead (no download). The live page offers
the bundled model always, and mobile / vox-256 where their weights are on disk.
"""
from __future__ import annotations

import argparse
import signal
import sys

from ..errors import PpfomError
from ..exported import BACKENDS
from ..live import LiveModels
from ..live.models import ASSETS, default_entries
from .jobs import Options, Predictors
from .live_socket import LiveHub
from .server import create_server, is_loopback


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ppfom.web",
                                description="A local web page that animates a photo with a driving video.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; anything else "
                        "lets the network upload files and run jobs)")
    p.add_argument("--port", type=int, default=7860, help="port (0: any free one)")
    p.add_argument("--config", default=None, help="model config YAML (default: the released model's)")
    p.add_argument("--weight_path", default=None,
                   help="checkpoint .pdparams (default: download PaddleGAN's published weights)")
    p.add_argument("--image_size", type=int, default=256, help="model resolution: 256 or 512")
    p.add_argument("--mobile_net", action="store_true", help="use the compressed mobile model")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is available")
    p.add_argument("--face_detector", default=None, help="face detector (default: the bundled one)")
    p.add_argument("--face_detector_weights", default=None, help="the face detector's weights")
    p.add_argument("--face_enhancement_weights", default=None,
                   help="GPEN weights for the page's face enhancement option")
    p.add_argument("--demo", action="store_true",
                   help="use the bundled 64x64 demo model for uploads (no download; cartoon faces only)")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the live page's runtime (auto: the fastest here, as the CLI's --backend)")
    p.add_argument("--max_upload_mb", type=float, default=200,
                   help="largest upload (photo and video together) in MB")
    p.add_argument("--keep_minutes", type=float, default=60,
                   help="minutes a finished job's files are kept for download")
    return p


def live_entries(args: argparse.Namespace):
    """The live page's models: the bundled demo, mobile and vox-256 from $PPFOM_HOME, and the upload
    model's weights where they are one of those (or a custom config: "the server's model")."""
    if args.weight_path is None or args.demo:
        return default_entries()
    if args.config is not None:
        return default_entries(custom=(args.config, args.weight_path, args.image_size))
    if args.mobile_net:
        return default_entries(mobile_weights=args.weight_path)
    if args.image_size == 256:
        return default_entries(vox_weights=args.weight_path)
    return default_entries()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..predictor import set_device

    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone who can reach it can upload files and use "
              "this machine's CPU", file=sys.stderr)
    set_device(args.cpu)
    if args.demo:
        args.config, args.weight_path = str(ASSETS / "synthetic64.yaml"), str(ASSETS / "synthetic64.pdparams")
        args.image_size = 64
    predictors = Predictors(config=args.config, weight_path=args.weight_path, image_size=args.image_size,
                            mobile_net=args.mobile_net, face_detector=args.face_detector,
                            face_detector_weights=args.face_detector_weights,
                            face_enhancement_weights=args.face_enhancement_weights)
    try:
        predictors(Options())
        live_models = LiveModels(live_entries(args), backend=args.backend)
        server = create_server(predictors, args.host, args.port, args.max_upload_mb, args.keep_minutes * 60,
                               live=LiveHub(live_models))
    except PpfomError as err:
        offline = " (offline: --demo serves the bundled cartoon model)" if args.weight_path is None else ""
        print(f"error: {err}{offline}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror}: choose another --port",
              file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C, deleting the uploads
    warming = live_models.warm()  # the default live model loads while the page is opened
    print(f"ppfom web page: {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped; uploads and results deleted", file=sys.stderr)
    finally:
        server.server_close()
        warming.join()  # paddle aborts the process if it exits while a thread is still loading a model
    return 0


if __name__ == "__main__":
    sys.exit(main())
