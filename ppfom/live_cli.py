"""``tools/live.py``: a camera (or a video file standing in for one) drives a photo, live.

The loop is the web page's (``ppfom.live``): the newest camera frame is animated
while later ones wait in a one-place slot, so a slow model drops frames instead of
falling behind. Animated frames go to any of: a preview window (OpenCV with a GUI),
a virtual camera (``pyvirtualcam``, for video calls), a video file (``--output``,
recorded at the camera's rate, each tick showing the newest animated frame).
Ctrl-C (or ``q`` in the preview) stops and finishes the file; ``r`` in the preview makes the
next frame the reference pose.
"""
from __future__ import annotations

import argparse
import queue
import statistics
import sys
import time

import numpy as np

from .cli import guarded
from .errors import PpfomError, require_file
from .exported import BACKENDS
from .live import LiveModels, LiveRunner, LiveSession, Result
from .live.camera import DeviceCamera, FileCamera
from .live.models import DEMO, default_entries


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="live.py", description="Animate a photo live from a camera or a video file.")
    p.add_argument("--source_image", required=True, help="photo to animate")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=0, help="camera index (default 0)")
    src.add_argument("--driving_video", default=None, help="a video file played as a camera, at its own frame rate")
    p.add_argument("--output", default=None, help="also write the animated stream to this video file")
    p.add_argument("--virtual_camera", action="store_true", help="send the animated stream to a virtual camera "
                                                                 "(pip install pyvirtualcam; v4l2loopback on Linux)")
    p.add_argument("--no_preview", action="store_true", help="no preview window")
    p.add_argument("--config", default=None, help="model config YAML (with --weight_path)")
    p.add_argument("--weight_path", default=None,
                   help="checkpoint .pdparams (default: vox-cpk.pdparams / vox-mobile.pdparams in $PPFOM_HOME)")
    p.add_argument("--image_size", type=int, default=256, help="resolution of a --config model")
    p.add_argument("--mobile_net", action="store_true", help="the mobile model (about 3x faster)")
    p.add_argument("--demo", action="store_true", help="the bundled 64x64 demo model (cartoon faces; no download)")
    p.add_argument("--relative", action=argparse.BooleanOptionalAction, default=True,
                   help="relative motion from the first frame (default; --no-relative: absolute)")
    p.add_argument("--adapt_scale", action=argparse.BooleanOptionalAction, default=True,
                   help="scale the motion by the faces' size ratio")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="how the networks run (auto: the fastest here)")
    p.add_argument("--frames", type=int, default=None, help="stop after this many camera frames")
    return p


def model_name(args: argparse.Namespace) -> tuple[str, list]:
    """The catalog entry the flags choose, and the catalog."""
    if args.demo:
        return DEMO, default_entries()
    if args.config is not None:
        if args.weight_path is None:
            raise PpfomError("--config needs --weight_path: the checkpoint trained with that config")
        return "custom", default_entries(custom=(args.config, args.weight_path, args.image_size))
    if args.mobile_net:
        return "mobile", default_entries(mobile_weights=args.weight_path)
    return "vox256", default_entries(vox_weights=args.weight_path)


class Sinks:
    """Where animated frames go: preview window, virtual camera, video file."""

    def __init__(self, args: argparse.Namespace, size: int, fps: float):
        self.window = None if args.no_preview else _window()
        self.virtual = _virtual_camera(size, fps) if args.virtual_camera else None
        self.writer = None
        if args.output:
            from .video import VideoWriter
            self.writer = VideoWriter(args.output, fps)
        if not (self.window or self.virtual or self.writer):
            raise PpfomError("no display for a preview window: use --virtual_camera or --output file.mp4")
        self.quit = False
        self.reference = False  # "r" in the preview: the next frame becomes the reference pose

    def show(self, image: np.ndarray) -> None:
        if self.window:
            import cv2
            cv2.imshow(self.window, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            key = cv2.waitKey(1) & 0xFF
            self.quit = key == ord("q")
            self.reference = self.reference or key == ord("r")
        if self.virtual is not None:
            self.virtual.send(image)

    def tick(self, image: np.ndarray | None) -> None:
        """One camera frame's time: the file gets the newest animated frame."""
        if self.writer is not None and image is not None:
            self.writer.write(image)

    def close(self, ok: bool) -> None:
        if self.writer is not None:
            self.writer.close() if ok else self.writer.abort()
        if self.virtual is not None:
            self.virtual.close()
        if self.window:
            import cv2
            cv2.destroyAllWindows()


def _window() -> str | None:
    """A preview window's name, or None where OpenCV has no GUI (opencv-python-headless) or no display."""
    import cv2

    try:
        cv2.namedWindow("ppfom live", cv2.WINDOW_NORMAL)
    except cv2.error:
        return None
    return "ppfom live"


def _virtual_camera(size: int, fps: float):
    try:
        import pyvirtualcam
    except ImportError:
        raise PpfomError("--virtual_camera needs pyvirtualcam: pip install pyvirtualcam "
                         "(and v4l2loopback on Linux, OBS on Windows/macOS)") from None
    try:
        return pyvirtualcam.Camera(width=size, height=size, fps=fps)
    except RuntimeError as err:
        raise PpfomError(f"no virtual camera device ({str(err).splitlines()[0]}): install v4l2loopback "
                         "or OBS's virtual camera") from None


def open_camera(args: argparse.Namespace):
    if args.driving_video is not None:
        require_file(args.driving_video, "driving video", "--driving_video", "a video")
        return FileCamera(args.driving_video, limit=args.frames)
    return DeviceCamera(args.camera)


def run(args: argparse.Namespace) -> str | None:
    from .faces.detector import create_detector
    from .predictor import read_source

    require_file(args.source_image, "source image", "--source_image", "an image")
    photo = read_source(args.source_image)
    name, entries = model_name(args)
    model = LiveModels(entries, backend=args.backend).load(name)
    camera = open_camera(args)
    session = LiveSession(model, args.relative, args.adapt_scale, detector=create_detector("retinaface"))
    session.set_photo(photo)
    sinks = Sinks(args, model.image_size, camera.fps)
    results: queue.Queue[Result] = queue.Queue()
    runner = LiveRunner(session, results.put, lambda message: print(f"warning: {message}", file=sys.stderr))
    latencies, ok = [], False
    try:
        _loop(camera, runner, results, sinks, latencies, args.frames)
        ok = True
    finally:
        runner.close()
        sinks.close(ok)
    _report(runner, latencies, camera.skipped)
    return args.output


def _loop(camera, runner: LiveRunner, results: queue.Queue, sinks: Sinks, latencies: list, limit: int | None) -> None:
    newest, count = None, 0
    try:
        for frame in camera:
            runner.submit(frame, tag=count)
            count += 1
            newest = _drain(results, sinks, latencies, newest)
            sinks.tick(newest)
            if sinks.reference:
                sinks.reference = False
                runner.control(lambda r: r.session.set_reference())
            if sinks.quit or (limit is not None and count >= limit):
                break
        deadline = time.monotonic() + 30  # the last frame in the slot still gets animated
        while runner.animated + runner.dropped + runner.errors < runner.received and time.monotonic() < deadline:
            time.sleep(0.01)
        _drain(results, sinks, latencies, newest)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)


def _drain(results: queue.Queue, sinks: Sinks, latencies: list, newest):
    while True:
        try:
            result = results.get_nowait()
        except queue.Empty:
            return newest
        latencies.append(result.latency)
        sinks.show(result.image)
        newest = result.image


def _report(runner: LiveRunner, latencies: list[float], skipped: int) -> None:
    if not latencies:
        print(f"no frame was animated ({runner.received} received)", file=sys.stderr)
        return
    median = 1000 * statistics.median(latencies)
    print(f"animated {runner.animated} of {runner.received} camera frames ({runner.dropped} dropped while busy, "
          f"{skipped} skipped by the reader), median latency {median:.0f} ms", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args))
