"""Autoencoding warm-up: the generator first learns to reproduce frames, with no motion at all.

Not in FOM. A small generator trained on (source, driving) pairs from the start hedges with a
blur long before its keypoints are good, and then cannot even reproduce a clip's first frame
(identity motion). Encoding and decoding a frame skip the keypoint detector, the motion
network, the equivariance and perceptual terms, so a step costs a fraction of a full one and
thousands of them fit in minutes; the full training then starts from a generator that already
passes through what the warp gives it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

import paddle

from ..modules import OcclusionAwareGenerator
from . import distributed as dist
from .trunk import trunk_parameters

log = logging.getLogger("ppfom.training")


def reconstruction_loss(generator: OcclusionAwareGenerator, frames: paddle.Tensor) -> paddle.Tensor:
    """Mean absolute pixel error of decoding the frames' own features."""
    return (generator.decode(generator.encode(frames)) - frames).abs().mean()


def autoencode(generator: OcclusionAwareGenerator, batches: Iterator[dict], iters: int, lr: float,
               betas: tuple[float, float], log_every: int = 50) -> list[float]:
    """Train the generator's trunk to reproduce ``batches``' driving frames; returns the losses."""
    params = trunk_parameters(generator)
    optimizer = paddle.optimizer.Adam(lr, beta1=betas[0], beta2=betas[1], parameters=params)
    history = []
    for step in range(1, iters + 1):
        loss = reconstruction_loss(generator, next(batches)["driving"])
        loss.backward()
        dist.average_gradients(params)
        optimizer.step()
        optimizer.clear_grad()
        history.append(float(loss))
        if step % log_every == 0 or step == iters:
            recent = history[-log_every:]
            log.info("autoencoding warm-up %d/%d: L1 %.4f", step, iters, sum(recent) / len(recent))
    return history
