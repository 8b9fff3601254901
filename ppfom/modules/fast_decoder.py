"""The per-frame networks rewritten for exported CPU graphs: same function, fewer multiplications.

Applied to a copy at export time (``ppfom.exported.graphs``): the generator's
bottleneck convolutions become Winograd F(4x4,3x3) layers and every up block's
upsample + convolution a transposed convolution. This took vox-256 frames in
onnxruntime from 0.475 to about 0.35 s, outputs within about 2e-5 of the
plain networks.
"""
from __future__ import annotations

import copy

from paddle import nn

from .blocks import ResBlock2d, UpBlock2d
from .upsample_conv import UpsampleConv2D
from .winograd import M, WinogradConv2D


def fast_decoder(network: nn.Layer, feature_size: tuple[int, int] | None = None) -> nn.Layer:
    """A copy of ``network`` (generator or keypoint detector) with the rewrites that apply.

    ``feature_size`` is the generator's bottleneck (h, w); Winograd needs both
    sides to be multiples of 4 and is skipped otherwise (or when it is None).
    """
    network = copy.deepcopy(network)
    for layer in network.sublayers(include_self=True):
        if isinstance(layer, UpBlock2d) and not layer.mobile_net:
            layer.conv = UpsampleConv2D(layer.conv)
    bottleneck = getattr(network, "bottleneck", None)
    if bottleneck is not None and feature_size is not None and not any(d % M for d in feature_size):
        for block in bottleneck.children():
            if isinstance(block, ResBlock2d) and not block.mobile_net:
                block.conv1, block.conv2 = WinogradConv2D(block.conv1), WinogradConv2D(block.conv2)
    return network
