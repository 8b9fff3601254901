"""Live animation's sustained frames/s and latency, the way a webcam would feed it.

    python benchmarks/bench_live.py                     # mobile and vox-256, 300 frames each at 30 fps
    python benchmarks/bench_live.py --models mobile --frames 150 --fps 25

A clip (the astronaut's head turning, 640x480) is written to a file and played
as a camera at its own frame rate (``ppfom.live.camera.FileCamera``) into the
live engine (``ppfom.live``: face square, latest-frame-wins slot, one worker),
exactly as ``tools/live.py --driving_video`` does. Frames that arrive while one
is being animated are dropped, so the rate animated is the sustained rate and
latency (camera frame handed out -> animated frame ready) stays bounded.
Weights are seeded random: the architecture, not the values, sets the speed.
The backend is what ``--backend auto`` picks here (export cached on disk, done
before timing). Targets on an AMX CPU: mobile >= 25 frames/s, vox-256 >= 12
frames/s, median latency <= 150 ms. The load average says how busy the machine was.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import cv2
import numpy as np
import paddle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_animate import MODELS, seeded_networks
from machine import cpu_line

from ppfom.exported import resolve_backend
from ppfom.faces.detector import create_detector
from ppfom.live import LiveRunner, LiveSession, Result
from ppfom.live.camera import FileCamera
from ppfom.live.models import LoadedModel, ModelEntry
from ppfom.video import VideoWriter


def turning_head_clip(path: str, frames: int, fps: float) -> str:
    """A 640x480 clip of the astronaut's face turning and nodding (what a webcam sees, roughly)."""
    from skimage import data

    face = cv2.resize(data.astronaut()[20:380, 80:440], (300, 300), interpolation=cv2.INTER_AREA)
    with VideoWriter(path, fps) as writer:
        for i in range(frames):
            t = 2 * np.pi * i / 60
            turn = cv2.getRotationMatrix2D((150, 150), 15 * np.sin(t), 1.0 + 0.05 * np.cos(t))
            frame = np.full((480, 640, 3), 70, np.uint8)
            frame[90:390, 170:470] = cv2.warpAffine(face, turn, (300, 300), borderMode=cv2.BORDER_REFLECT)
            writer.write(frame)
    return path


def seeded_model(name: str, backend: str = "auto") -> LoadedModel:
    cfg, kp, gen = seeded_networks(name)
    entry = ModelEntry(name, name, str(ROOT / "configs" / MODELS[name]), "(seeded)", 256)
    return LoadedModel(entry, cfg, kp, gen, backend=backend)


def run(model: LoadedModel, clip: str, frames: int) -> dict:
    """Play ``clip`` into a live session; the stream's numbers."""
    from skimage import data

    session = LiveSession(model, detector=create_detector("retinaface"))  # exports (cached) here
    session.set_photo(data.astronaut())
    for _ in range(3):  # warm-up, untimed
        session.animate(data.astronaut())
    session.set_reference()
    results: list[Result] = []
    runner = LiveRunner(session, results.append)
    camera = FileCamera(clip, limit=frames)
    start = time.monotonic()
    for frame in camera:
        runner.submit(frame)
    while runner.animated + runner.dropped + runner.errors < runner.received:
        time.sleep(0.005)
    runner.close()
    latencies = sorted(1000 * r.latency for r in results)
    seconds = results[-1].done - start
    return {"camera": runner.received + camera.skipped, "animated": runner.animated, "dropped": runner.dropped,
            "skipped": camera.skipped, "fps": runner.animated / seconds,
            "median": statistics.median(latencies), "p95": latencies[int(0.95 * (len(latencies) - 1))],
            "networks_ms": 1000 * session.seconds["networks"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["mobile", "vox256"], choices=["mobile", "vox256"])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--backend", default="auto", help="auto (what the live page uses), onnxruntime, openvino, ...")
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    print(cpu_line())
    print(f"# backend {args.backend} -> {resolve_backend(args.backend)}, paddle {paddle.__version__}, "
          f"load average at start {os.getloadavg()[0]:.2f}", flush=True)
    print("| model | camera frames | animated | dropped (busy) | skipped (reader late) | sustained frames/s | "
          "median latency (ms) | p95 latency (ms) | networks (ms, last frame) | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        clip = turning_head_clip(os.path.join(tmp, "camera.mp4"), args.frames, args.fps)
        for name in args.models:
            r = run(seeded_model(name, args.backend), clip, args.frames)
            print(f"| {name} | {r['camera']} | {r['animated']} | {r['dropped']} | {r['skipped']} | {r['fps']:.1f} | "
                  f"{r['median']:.0f} | {r['p95']:.0f} | {r['networks_ms']:.0f} | {os.getloadavg()[0]:.2f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
