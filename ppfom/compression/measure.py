"""What a compressed model costs and loses: file size, parameters, reconstruction L1, frames per second.

All four are measured on the networks that animate a video (keypoint detector
and generator), the same way for teacher and students, so rows compare.
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import paddle
from paddle import nn

from .. import frames as fr
from ..training.dataset import find_split, read_video
from ..training.evaluation import reconstruct
from .prune import count_parameters


def size_mb(kp_detector: nn.Layer, generator: nn.Layer) -> float:
    """Size of the float32 weights file (``kp_detector`` + ``generator``) in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "weights.pdparams")
        paddle.save({"kp_detector": kp_detector.state_dict(), "generator": generator.state_dict()}, path)
        return os.path.getsize(path) / 2 ** 20


def parameters(kp_detector: nn.Layer, generator: nn.Layer) -> int:
    return count_parameters(kp_detector) + count_parameters(generator)


def reconstruction_l1(kp_detector: nn.Layer, generator: nn.Layer, dataroot: str, frame_shape,
                      max_videos: int | None = None) -> float:
    """Mean |generated - real| in [0, 1] over the test videos, each driven from its first frame."""
    return _l1(lambda video: reconstruct(kp_detector, generator, video), dataroot, frame_shape, max_videos)


def no_motion_l1(dataroot: str, frame_shape, max_videos: int | None = None) -> float:
    """The same L1 for copying the first frame: a model that does not beat it has not learned motion."""
    return _l1(lambda video: np.repeat(video[:1], len(video), 0), dataroot, frame_shape, max_videos)


def _l1(make, dataroot: str, frame_shape, max_videos: int | None) -> float:
    total, frames = 0.0, 0
    for path in find_split(dataroot, "test")[:max_videos]:
        video = fr.to_nchw(np.stack(read_video(path, frame_shape)))
        total += float(np.abs(make(video) - video).mean(axis=(1, 2, 3)).sum())
        frames += len(video)
    return total / max(frames, 1)


@paddle.no_grad()
def frames_per_second(kp_detector: nn.Layer, generator: nn.Layer, size: int, frames: int = 10,
                      warmup: int = 2) -> float:
    """Driving frames per second at batch 1 in dygraph, the source encoded once (as ppfom animates)."""
    rng = np.random.default_rng(0)
    source = paddle.to_tensor(rng.random((1, 3, size, size), dtype=np.float32))
    driving = paddle.to_tensor(rng.random((1, 3, size, size), dtype=np.float32))
    kp_source = kp_detector(source)
    features = generator.encode(source)
    for i in range(warmup + frames):
        if i == warmup:
            start = time.perf_counter()
        kp_driving = kp_detector(driving)
        generator.animate(source, features, kp_driving, kp_source, full_output=False)["prediction"].numpy()
    return frames / (time.perf_counter() - start)
