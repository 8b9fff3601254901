"""Building blocks shared by the keypoint detector, dense motion network and generator.

Each block takes ``mobile_net``: the compressed model swaps a full convolution
for a depthwise + pointwise pair (same block, same sublayer names as
PaddleGAN's Mobile* blocks, so both published checkpoints load).
Sublayers are created in PaddleGAN's order because state-dict order follows it.
"""
from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .geometry import upsample_nearest_2x


def batch_norm(num_features: int) -> nn.Layer:
    """BatchNorm as PaddleGAN's checkpoints name it (weight, bias, _mean, _variance).

    Multi-device training converts these with ``nn.SyncBatchNorm.convert_sync_batchnorm``.
    """
    return nn.BatchNorm2D(num_features)


def _conv(cin: int, cout: int, k, p, groups: int = 1, bias: bool = True, kaiming: bool = False) -> nn.Conv2D:
    weight_attr = nn.initializer.KaimingUniform() if kaiming else None
    return nn.Conv2D(cin, cout, k, padding=p, groups=groups,
                     weight_attr=weight_attr, bias_attr=None if bias else False)


class DownBlock2d(nn.Layer):
    """Conv, BN, ReLU, then 2x2 average pooling (encoder step)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1,
                 mobile_net: bool = False):
        super().__init__()
        self.mobile_net = mobile_net
        if mobile_net:
            self.conv = _conv(in_features, in_features, kernel_size, padding, groups=in_features, bias=False)
            self.norm = batch_norm(in_features)
        else:
            self.conv = _conv(in_features, out_features, kernel_size, padding)
            self.norm = batch_norm(out_features)
        self.pool = nn.AvgPool2D(kernel_size=2)
        if mobile_net:
            self.conv1 = _conv(in_features, out_features, 1, 0, bias=False)
            self.norm1 = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.relu(self.norm(self.conv(x)))
        if self.mobile_net:
            out = F.relu(self.norm1(self.conv1(out)))
        return self.pool(out)


class UpBlock2d(nn.Layer):
    """Nearest x2 upsampling, then conv, BN, ReLU (decoder step)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1,
                 mobile_net: bool = False):
        super().__init__()
        self.mobile_net = mobile_net
        if mobile_net:
            self.conv = _conv(in_features, in_features, kernel_size, padding, groups=in_features, bias=False)
            self.conv1 = _conv(in_features, out_features, 1, 0, bias=False)
            self.norm = batch_norm(in_features)
            self.norm1 = batch_norm(out_features)
        else:
            self.conv = _conv(in_features, out_features, kernel_size, padding)
            self.norm = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if not getattr(self.conv, "upsample", False):  # an export-time UpsampleConv2D upsamples itself
            x = upsample_nearest_2x(x)
        out = F.relu(self.norm(self.conv(x)))
        if self.mobile_net:
            out = F.relu(self.norm1(self.conv1(out)))
        return out


class SameBlock2d(nn.Layer):
    """Conv, BN, ReLU at constant resolution (the generator's first layer)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1,
                 mobile_net: bool = False):
        super().__init__()
        self.conv = _conv(in_features, out_features, kernel_size, padding,
                          bias=not mobile_net, kaiming=True)
        self.norm = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.norm(self.conv(x)))


class ResBlock2d(nn.Layer):
    """Pre-activation residual block; the mobile form is an inverted residual (x2 expansion)."""

    def __init__(self, in_features: int, kernel_size=3, padding=1, mobile_net: bool = False):
        super().__init__()
        self.mobile_net = mobile_net
        if mobile_net:
            wide = in_features * 2
            self.conv_pw = _conv(in_features, wide, 1, 0, bias=False)
            self.conv_dw = _conv(wide, wide, kernel_size, padding, groups=wide, bias=False)
            self.conv_pw_linear = _conv(wide, in_features, 1, 0, bias=False)
            self.norm1 = batch_norm(in_features)
            self.norm_pw = batch_norm(wide)
            self.norm_dw = batch_norm(wide)
            self.norm_pw_linear = batch_norm(in_features)
        else:
            self.conv1 = _conv(in_features, in_features, kernel_size, padding)
            self.conv2 = _conv(in_features, in_features, kernel_size, padding)
            self.norm1 = batch_norm(in_features)
            self.norm2 = batch_norm(in_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.relu(self.norm1(x))
        if self.mobile_net:
            out = self.norm_pw(self.conv_pw(out))
            out = F.relu(self.norm_dw(self.conv_dw(out)))
            out = self.norm_pw_linear(self.conv_pw_linear(out))
        else:
            out = self.conv1(out)
            out = self.conv2(F.relu(self.norm2(out)))
        return out + x


def _width(block_expansion: int, max_features: int, level: int) -> int:
    return min(max_features, block_expansion * (2 ** level))


class Encoder(nn.Layer):
    """Hourglass encoder; returns the input and every level's features for the skips."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3,
                 max_features: int = 256, mobile_net: bool = False):
        super().__init__()
        self.down_blocks = nn.LayerList([
            DownBlock2d(in_features if i == 0 else _width(block_expansion, max_features, i),
                        _width(block_expansion, max_features, i + 1), mobile_net=mobile_net)
            for i in range(num_blocks)
        ])

    def forward(self, x: paddle.Tensor) -> list[paddle.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Layer):
    """Hourglass decoder; each level is concatenated with the encoder's skip."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3,
                 max_features: int = 256, mobile_net: bool = False):
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            skip = 1 if i == num_blocks - 1 else 2
            blocks.append(UpBlock2d(skip * _width(block_expansion, max_features, i + 1),
                                    _width(block_expansion, max_features, i), mobile_net=mobile_net))
        self.up_blocks = nn.LayerList(blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, features: list[paddle.Tensor]) -> paddle.Tensor:
        out = features[-1]
        for i, block in enumerate(self.up_blocks):
            out = paddle.concat([block(out), features[-2 - i]], axis=1)
        return out


class Hourglass(nn.Layer):
    """U-Net style encoder-decoder used by the keypoint detector and dense motion network."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3,
                 max_features: int = 256, mobile_net: bool = False):
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features, mobile_net)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features, mobile_net)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.decoder(self.encoder(x))


def gaussian_kernel(channels: int, scale: float, mobile_net: bool = False) -> np.ndarray:
    """Depthwise blur weights (C, 1, k, k) that band-limit an image before subsampling."""
    if mobile_net:
        sigma, size = 0.25, 3
    else:
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
    coords = np.arange(size, dtype=np.float32) - (size - 1) / 2
    g = np.exp(-coords * coords / (2 * sigma * sigma + 1e-9)).astype(np.float32)
    kernel = np.outer(g, g)
    kernel = kernel / kernel.sum()
    return np.tile(kernel[None, None], (channels, 1, 1, 1)).astype(np.float32)


class AntiAliasInterpolation2d(nn.Layer):
    """Gaussian blur, then keep every (1/scale)-th pixel: downsampling without aliasing.

    The blur pads inside the convolution instead of with ``F.pad``, which
    paddle2onnx and Paddle Lite mishandle; the result is identical.
    """

    def __init__(self, channels: int, scale: float, mobile_net: bool = False):
        super().__init__()
        kernel = gaussian_kernel(channels, scale, mobile_net)
        self.register_buffer("weight", paddle.to_tensor(kernel))
        self.groups = channels
        self.scale = scale
        self.padding = kernel.shape[-1] // 2
        self.step = round(1 / scale)
        if not math.isclose(1 / scale, self.step):
            raise ValueError(f"scale {scale} must be 1/n for an integer n")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.scale == 1.0:
            return x
        out = F.conv2d(x, self.weight, padding=self.padding, groups=self.groups)
        return out[:, :, ::self.step, ::self.step]
