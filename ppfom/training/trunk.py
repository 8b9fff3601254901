"""The generator's trunk (encoder, residual blocks, decoder: all but the motion network).

A near-identity start (``train_params.trunk_init: identity``, not in FOM): a small generator
trained from random weights on (source, driving) pairs learns to blur long before it learns to
reproduce a frame, so even a clip's first frame (identity motion) comes out soft. Started as a
copy machine instead, the trunk reproduces any frame from the first step (L1 about 0.01 on the
cartoon faces), training only has to learn motion and occlusion around it, and a low learning
rate on the trunk (``train_params.trunk_lr_scale``) keeps it from being shaken out of that.

The identity needs full-resolution features (``num_down_blocks: 0``) and the plain blocks:
``first`` makes thresholded copies of each colour, ReLU(x - t) for a few thresholds t;
the residual blocks start as identities (their last convolution zero); ``final`` sums the
copies into a piecewise-linear logit, so that its sigmoid gives the colour back.
"""
from __future__ import annotations

import numpy as np

from ..errors import PpfomError
from ..modules import OcclusionAwareGenerator

THRESHOLDS = (0.0, 0.1, 0.3, 0.7, 0.9)
CLIP = 0.01  # logit(0) is -inf: colours are reproduced within [CLIP, 1 - CLIP]
DECODER = ("stretch_in.", "bottleneck.", "up_blocks.", "final.")  # after the warp: what paints the frame


def named_trunk_parameters(generator: OcclusionAwareGenerator) -> list:
    """(name, weight) of the encoder/decoder: everything but the motion network."""
    return [(name, p) for name, p in generator.named_parameters() if not name.startswith("dense_motion_network.")]


def trunk_parameters(generator: OcclusionAwareGenerator) -> list:
    """The encoder/decoder weights: everything but the motion network."""
    return [p for _, p in named_trunk_parameters(generator)]


def _set(param, value: np.ndarray) -> None:
    param.set_value(value.astype(np.float32).reshape(param.shape))


def _check(generator: OcclusionAwareGenerator) -> None:
    needed = generator.num_channels * len(THRESHOLDS)
    if generator.mobile_net or len(generator.down_blocks) or generator.first.conv.weight.shape[0] < needed:
        raise PpfomError("model.train_params.trunk_init: identity needs the plain generator with num_down_blocks: 0 "
                         f"and block_expansion >= {needed}: change the "
                         "generator config or remove trunk_init")


def identity_init(generator: OcclusionAwareGenerator) -> None:
    """Set the trunk so that ``decode(encode(x))`` reproduces x (within ~0.01) before any training."""
    _check(generator)
    conv, norm = generator.first.conv, generator.first.norm
    colours, steps = generator.num_channels, len(THRESHOLDS)
    weight, bias = np.zeros(conv.weight.shape), np.zeros(conv.weight.shape[0])
    centre = conv.weight.shape[2] // 2
    for c in range(colours):
        for i, t in enumerate(THRESHOLDS):
            weight[c * steps + i, c, centre, centre] = 1.0
            bias[c * steps + i] = -t
    _set(conv.weight, weight)
    _set(conv.bias, bias)
    for param, value in ((norm._mean, 0.0), (norm._variance, 1.0), (norm.weight, 1.0), (norm.bias, 0.0)):
        _set(param, np.full(param.shape, value))
    for block in generator.bottleneck.children():
        _set(block.conv2.weight, np.zeros(block.conv2.weight.shape))
        _set(block.conv2.bias, np.zeros(block.conv2.bias.shape))
    knots = np.array((*THRESHOLDS, 1.0))
    logits = np.log(np.clip(knots, CLIP, 1 - CLIP) / (1 - np.clip(knots, CLIP, 1 - CLIP)))
    slopes = np.diff(logits) / np.diff(knots)
    gains = np.concatenate([slopes[:1], np.diff(slopes)])  # each ReLU(x - t) adds its change of slope
    final = np.zeros(generator.final.weight.shape)
    centre = final.shape[2] // 2
    for c in range(colours):
        final[c, c * steps:(c + 1) * steps, centre, centre] = gains
    _set(generator.final.weight, final)
    _set(generator.final.bias, np.full(colours, logits[0]))


def _check_scale(key: str, scale: float) -> None:
    if not 0 < scale <= 1:
        raise PpfomError(f"model.train_params.{key} is {scale:g}: use a factor in (0, 1]")


def scale_trunk_lr(generator: OcclusionAwareGenerator, scale: float, skip_mask_scale: float | None = None,
                   decoder_scale: float | None = None) -> None:
    """Multiply the trunk's learning rate by ``scale`` (the motion network keeps the generator's).

    ``skip_mask_scale`` gives the ``pixel_skip`` mask layer its own factor: at the trunk's slow
    rate the mask barely leaves its start (a blend of one half everywhere), so the model can
    neither show the warped source where it is right nor the decoder where it is not.
    ``decoder_scale`` does the same for the layers after the warp (residual blocks, ``final``):
    at the trunk's rate they stay a copy of the warped source and cannot paint what the source
    does not show (an open mouth); with the mask trained, the copy no longer depends on them.
    """
    _check_scale("trunk_lr_scale", scale)
    if skip_mask_scale is not None:
        _check_scale("skip_mask_lr_scale", skip_mask_scale)
        if getattr(generator, "skip_mask", None) is None:
            raise PpfomError("model.train_params.skip_mask_lr_scale needs generator_cfg.pixel_skip: True: "
                             "turn pixel_skip on or remove skip_mask_lr_scale")
    if decoder_scale is not None:
        _check_scale("decoder_lr_scale", decoder_scale)
    for name, param in named_trunk_parameters(generator):
        rate = scale
        if name.startswith("skip_mask.") and skip_mask_scale is not None:
            rate = skip_mask_scale
        elif name.startswith(DECODER) and decoder_scale is not None:
            rate = decoder_scale
        param.optimize_attr["learning_rate"] = float(rate)
