"""Pictures of a demo run for the README: a strip of frames and an animated GIF.

    python tools/demo_strip.py samples/cartoon_source.png samples/cartoon_driving.mp4 output/result.mp4 \\
        --out docs/imgs/cartoon_demo --times 0 0.2 0.4 0.6 0.8 1

writes ``<out>.png`` (top row: the driving frames at each time; bottom row: the source, then the
result at the same times; a row per time for a wide group photo) and, unless ``--no-gif``, ``<out>.gif``
(source | driving | result, every frame).
Frames are enlarged with nearest-neighbour pixels so that nothing is added by the enlargement.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.image import read_image
from ppfom.video import VideoReader


def read_frames(path: str) -> np.ndarray:
    with VideoReader(path) as reader:
        return np.stack(list(reader))


def enlarge(frame: np.ndarray, size: int) -> np.ndarray:
    """``size`` pixels high, the width in proportion (a group photo stays wide)."""
    width = round(size * frame.shape[1] / frame.shape[0])
    return cv2.resize(frame, (width, size), interpolation=cv2.INTER_NEAREST)


def label(cell: np.ndarray, text: str) -> np.ndarray:
    """``text`` in a white band above ``cell``, so labels never hide the pixels."""
    band = np.full((22, cell.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, cell])


def strip(source: np.ndarray, driving: np.ndarray, result: np.ndarray, times: list[float],
          size: int) -> np.ndarray:
    """Two rows: driving frames at ``times`` (fractions of the video), and the source then the results.
    A wide result (several faces) gets a row per time instead: driving | result."""
    last = min(len(driving), len(result)) - 1
    index = [round(t * last) for t in times]
    if result.shape[2] > result.shape[1]:
        return _rows(source, driving, result, index, size)
    blank = np.full((size, size, 3), 255, np.uint8)
    top = [label(blank, "")] + [label(enlarge(driving[i], size), f"driving {i}") for i in index]
    bottom = [label(enlarge(source, size), "source")] + [label(enlarge(result[i], size), f"result {i}")
                                                         for i in index]
    return np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)


def _rows(source: np.ndarray, driving: np.ndarray, result: np.ndarray, index: list[int],
          size: int) -> np.ndarray:
    blank = np.full((size, size, 3), 255, np.uint8)
    rows = [np.concatenate([label(blank, ""), label(enlarge(source, size), "source")], 1)]
    rows += [np.concatenate([label(enlarge(driving[i], size), f"driving {i}"),
                             label(enlarge(result[i], size), f"result {i}")], 1) for i in index]
    return np.concatenate(rows, 0)


def gif_frames(source: np.ndarray, driving: np.ndarray, result: np.ndarray, size: int) -> list[np.ndarray]:
    still = label(enlarge(source, size), "source")
    return [np.concatenate([still, label(enlarge(d, size), "driving"), label(enlarge(r, size), "result")], 1)
            for d, r in zip(driving, result)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="the demo's --source_image")
    p.add_argument("driving", help="the demo's --driving_video")
    p.add_argument("result", help="the demo's output video")
    p.add_argument("--out", required=True, help="output path without extension (.png and .gif are written)")
    p.add_argument("--times", type=float, nargs="+", default=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
                   help="where the strip's frames are, as fractions of the video")
    p.add_argument("--size", type=int, default=128, help="pixels per frame in the pictures")
    p.add_argument("--fps", type=float, default=12.5, help="GIF frame rate")
    p.add_argument("--no-gif", action="store_true", help="write the strip only")
    args = p.parse_args(argv)
    driving, result = read_frames(args.driving), read_frames(args.result)
    source = cv2.resize(read_image(args.source), result.shape[2:0:-1], interpolation=cv2.INTER_AREA)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out + ".png", cv2.cvtColor(strip(source, driving, result, args.times, args.size),
                                                cv2.COLOR_RGB2BGR))
    if args.no_gif:
        print(f"wrote {args.out}.png")
        return 0
    import imageio.v2 as imageio

    imageio.mimsave(args.out + ".gif", gif_frames(source, driving, result, args.size), duration=1000 / args.fps,
                    loop=0)
    print(f"wrote {args.out}.png and {args.out}.gif")
    return 0


if __name__ == "__main__":
    sys.exit(main())
