"""GPEN (Yang et al., CVPR 2021): a StyleGAN2 decoder fed by an encoder of the blurry face.

Laid out like PaddleGAN's ``GPEN`` so that its ``GPEN-512.pdparams`` loads
unchanged: ``ecd0..ecdN`` encode the face down to 4x4, ``final_linear`` maps
that to the latent, and each encoder map is concatenated into the decoder at
its resolution (where StyleGAN2 injects noise).
"""
from __future__ import annotations

import math

import paddle
from paddle import nn

from .stylegan import ConvLayer, EqualLinear, StyleGAN2Generator, channel_table

GPEN_512 = {"size": 512, "style_dim": 512, "n_mlp": 8}


class GPEN(nn.Layer):
    def __init__(self, size: int = 512, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2,
                 lr_mlp: float = 0.01, max_channels: int = 512):
        super().__init__()
        self.size = size
        self.log_size = int(math.log2(size))
        if 2 ** self.log_size != size or size < 8:
            raise ValueError(f"GPEN size must be a power of two >= 8, got {size}")
        channels = channel_table(channel_multiplier, max_channels)
        self.generator = StyleGAN2Generator(size, style_dim, n_mlp, channel_multiplier, lr_mlp, max_channels)
        self.ecd0 = nn.Sequential(ConvLayer(3, channels[size], 1))
        in_channels = channels[size]
        for k, i in enumerate(range(self.log_size, 2, -1), start=1):
            out_channels = channels[2 ** (i - 1)]
            setattr(self, f"ecd{k}", nn.Sequential(ConvLayer(in_channels, out_channels, 3, downsample=True)))
            in_channels = out_channels
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 16, style_dim, activate=True))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """(N, 3, size, size) RGB in [-1, 1] -> restored faces, same layout."""
        features = []
        for k in range(self.log_size - 1):
            x = getattr(self, f"ecd{k}")(x)
            features.append(x)
        latent = self.final_linear(x.reshape([x.shape[0], -1]))
        return self.generator(latent, features[::-1])
