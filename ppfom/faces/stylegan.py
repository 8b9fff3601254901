"""StyleGAN2 building blocks, as PaddleGAN lays them out (names and shapes of its
state dicts), for the GPEN face enhancer. Inference only.

Equalised learning rate: weights are stored unscaled and multiplied by
1/sqrt(fan_in) at run time, so PaddleGAN's weights load unchanged.
"""
from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

BLUR_KERNEL = (1, 3, 3, 1)


def fused_leaky_relu(x: paddle.Tensor, bias: paddle.Tensor | None = None) -> paddle.Tensor:
    """Bias, leaky ReLU (0.2), then gain sqrt(2) to keep the activations' variance."""
    if bias is not None:
        x = x + bias.reshape([1, -1] + [1] * (x.ndim - 2))
    return F.leaky_relu(x, negative_slope=0.2) * math.sqrt(2.0)


def make_kernel(taps=BLUR_KERNEL, gain: float = 1.0) -> np.ndarray:
    """Separable FIR taps -> normalised 2-D kernel (times ``gain``)."""
    k = np.asarray(taps, np.float32)
    k = np.outer(k, k)
    return (k / k.sum() * gain).astype(np.float32)


def upfirdn2d(x: paddle.Tensor, kernel: paddle.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> paddle.Tensor:
    """Upsample by zero insertion, pad, filter with ``kernel``, keep every ``down``-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape([n, c, h, 1, w, 1])
        x = paddle.concat([x, paddle.zeros([n, c, h, 1, w, up - 1], x.dtype)], axis=5)
        x = paddle.concat([x, paddle.zeros([n, c, h, up - 1, w, up], x.dtype)], axis=3)
        x = x.reshape([n, c, h * up, w * up])
    p0, p1 = pad
    x = F.pad(x, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0):x.shape[2] - max(-p1, 0), max(-p0, 0):x.shape[3] - max(-p1, 0)]
    kh, kw = kernel.shape
    weight = paddle.flip(kernel, [0, 1]).reshape([1, 1, kh, kw])
    hh, ww = x.shape[2], x.shape[3]
    out = F.conv2d(x.reshape([n * c, 1, hh, ww]), weight, stride=down)
    return out.reshape([n, c, out.shape[2], out.shape[3]])


class Blur(nn.Layer):
    """FIR low-pass around resampling (the kernel is not part of the state dict)."""

    def __init__(self, pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", paddle.to_tensor(make_kernel(gain=gain)), persistable=False)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Layer):
    """2x FIR upsampling of the RGB skip path (its kernel is a saved buffer in PaddleGAN's files)."""

    def __init__(self, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", paddle.to_tensor(make_kernel(gain=factor * factor)))
        p = len(BLUR_KERNEL) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class FusedLeakyReLU(nn.Layer):
    def __init__(self, channels: int, bias: bool = True):
        super().__init__()
        self.bias = self.create_parameter([channels], default_initializer=nn.initializer.Constant(0.0)) \
            if bias else None

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class EqualConv2D(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size],
                                            default_initializer=nn.initializer.Normal())
        self.bias = self.create_parameter([out_channels], default_initializer=nn.initializer.Constant(0.0)) \
            if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Layer):
    """Linear layer with weights stored (in, out) and an optional fused leaky ReLU."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activate: bool = False):
        super().__init__()
        self.weight = self.create_parameter([in_dim, out_dim], default_initializer=nn.initializer.Normal())
        self.bias = self.create_parameter([out_dim], default_initializer=nn.initializer.Constant(bias_init))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x):
        out = F.linear(x, self.weight * self.scale)
        if self.activate:
            return fused_leaky_relu(out, self.bias * self.lr_mul)
        return out + self.bias * self.lr_mul


class ConvLayer(nn.Sequential):
    """Encoder convolution: [blur,] equalised conv [, fused leaky ReLU]; PaddleGAN's child numbering."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False):
        layers = []
        if downsample:
            p = len(BLUR_KERNEL) - 2 + kernel_size - 1
            layers.append(Blur(((p + 1) // 2, p // 2)))
        layers.append(EqualConv2D(in_channels, out_channels, kernel_size, stride=2 if downsample else 1,
                                  padding=0 if downsample else kernel_size // 2, bias=False))
        layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class ModulatedConv2D(nn.Layer):
    """Convolution whose weights are scaled per sample by a style (and renormalised)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.weight = self.create_parameter([1, out_channels, in_channels, kernel_size, kernel_size],
                                            default_initializer=nn.initializer.Normal())
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            p = len(BLUR_KERNEL) - 2 - (kernel_size - 1)
            self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

    def forward(self, x, w):
        batch, _, height, width = x.shape
        k = self.kernel_size
        style = self.modulation(w).reshape([batch, 1, self.in_channels, 1, 1])
        weight = self.scale * self.weight * style
        if self.demodulate:
            demod = paddle.rsqrt((weight * weight).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.reshape([batch, self.out_channels, 1, 1, 1])
        x = x.reshape([1, batch * self.in_channels, height, width])
        if self.upsample:
            weight = weight.transpose([0, 2, 1, 3, 4]).reshape([batch * self.in_channels, self.out_channels, k, k])
            out = F.conv2d_transpose(x, weight, stride=2, padding=0, groups=batch)
            out = out.reshape([batch, self.out_channels, out.shape[2], out.shape[3]])
            return self.blur(out)
        weight = weight.reshape([batch * self.out_channels, self.in_channels, k, k])
        out = F.conv2d(x, weight, padding=k // 2, groups=batch)
        return out.reshape([batch, self.out_channels, out.shape[2], out.shape[3]])


class NoiseInjection(nn.Layer):
    """GPEN's variant: the 'noise' is the encoder's feature map, appended as channels."""

    def __init__(self):
        super().__init__()
        self.weight = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x, noise):
        return paddle.concat([x, self.weight * noise], axis=1)


class StyledConv(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2D(in_channels, out_channels, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels * 2)

    def forward(self, x, w, noise):
        return self.activate(self.noise(self.conv(x, w), noise))


class ToRGB(nn.Layer):
    def __init__(self, in_channels: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2D(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = self.create_parameter([1, 3, 1, 1], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x, w, skip=None):
        out = self.conv(x, w) + self.bias
        return out if skip is None else out + self.upsample(skip)


class PixelNorm(nn.Layer):
    def forward(self, x):
        return x * paddle.rsqrt(paddle.mean(x * x, axis=1, keepdim=True) + 1e-8)


class ConstantInput(nn.Layer):
    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = self.create_parameter([1, channels, size, size], default_initializer=nn.initializer.Normal())

    def forward(self, batch: int):
        return paddle.tile(self.input, [batch, 1, 1, 1])


def channel_table(channel_multiplier: int = 2, max_channels: int = 512) -> dict[int, int]:
    """Feature channels per resolution (StyleGAN2's table; ``max_channels`` < 512 only for tests)."""
    return {2 ** i: min(max_channels, 16384 * channel_multiplier // 2 ** i) for i in range(2, 11)}


class StyleGAN2Generator(nn.Layer):
    """The synthesis network with GPEN's concatenated 'noise' (encoder features)."""

    def __init__(self, size: int, style_dim: int, n_mlp: int, channel_multiplier: int = 2,
                 lr_mlp: float = 0.01, max_channels: int = 512):
        super().__init__()
        self.log_size = int(math.log2(size))
        channels = channel_table(channel_multiplier, max_channels)
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activate=True)
                                                  for _ in range(n_mlp)])
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], style_dim)
        self.to_rgb1 = ToRGB(channels[4] * 2, style_dim, upsample=False)
        self.convs = nn.LayerList()
        self.to_rgbs = nn.LayerList()
        self.noises = nn.Layer()
        for i in range((self.log_size - 2) * 2 + 1):  # unused by GPEN, kept for the state dict
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", paddle.zeros([1, 1, res, res]))
        in_channels = channels[4]
        for i in range(3, self.log_size + 1):
            out_channels = channels[2 ** i]
            self.convs.append(StyledConv(in_channels * 2, out_channels, style_dim, upsample=True))
            self.convs.append(StyledConv(out_channels * 2, out_channels, style_dim))
            self.to_rgbs.append(ToRGB(out_channels * 2, style_dim))
            in_channels = out_channels

    def forward(self, latent, features: list[paddle.Tensor]) -> paddle.Tensor:
        """``features``: encoder maps from 4x4 up to full size; returns RGB in about [-1, 1]."""
        w = self.style(latent)
        out = self.conv1(self.input(latent.shape[0]), w, features[0])
        skip = self.to_rgb1(out, w)
        for level, to_rgb in enumerate(self.to_rgbs, start=1):
            out = self.convs[2 * level - 2](out, w, features[level])
            out = self.convs[2 * level - 1](out, w, features[level])
            skip = to_rgb(out, w, skip)
        return skip
