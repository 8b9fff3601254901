"""MultiScaleDiscriminator: a PatchGAN per image scale, used only for training."""
from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn

from .geometry import kp2gaussian


def _scale_name(scale) -> str:
    """PaddleGAN's sublayer name for a scale: 1 -> '1', 0.5 -> '0-5' (dots are not allowed)."""
    return str(scale).replace(".", "-")


class DownBlock2d(nn.Layer):
    """Conv (optionally spectral-normalised), InstanceNorm, LeakyReLU, optional pooling."""

    def __init__(self, in_features: int, out_features: int, norm: bool = False, kernel_size: int = 4,
                 pool: bool = False, sn: bool = False):
        super().__init__()
        conv = nn.Conv2D(in_features, out_features, kernel_size)
        self.conv = nn.utils.spectral_norm(conv) if sn else conv
        self.norm = nn.InstanceNorm2D(out_features, epsilon=1e-5) if norm else None
        self.pool = pool

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        out = F.leaky_relu(out, 0.2)
        if self.pool:
            out = F.avg_pool2d(out, kernel_size=2, stride=2)
        return out


class Discriminator(nn.Layer):
    """Returns the feature maps (for feature matching) and a patch prediction map."""

    def __init__(self, num_channels: int = 3, block_expansion: int = 64, num_blocks: int = 4,
                 max_features: int = 512, sn: bool = False, use_kp: bool = False, num_kp: int = 10,
                 kp_variance: float = 0.01, **unused):
        super().__init__()

        def width(level: int) -> int:
            return min(max_features, block_expansion * (2 ** level))

        self.down_blocks = nn.LayerList([
            DownBlock2d(num_channels + num_kp * use_kp if i == 0 else width(i), width(i + 1),
                        norm=i != 0, kernel_size=4, pool=i != num_blocks - 1, sn=sn)
            for i in range(num_blocks)])
        conv = nn.Conv2D(width(num_blocks), 1, kernel_size=1)
        self.conv = nn.utils.spectral_norm(conv) if sn else conv
        self.use_kp = use_kp
        self.kp_variance = kp_variance

    def forward(self, x: paddle.Tensor, kp: dict | None = None) -> tuple[list[paddle.Tensor], paddle.Tensor]:
        out = x
        if self.use_kp:
            out = paddle.concat([out, kp2gaussian(kp["value"], x.shape[2:], self.kp_variance)], axis=1)
        feature_maps = []
        for block in self.down_blocks:
            out = block(out)
            feature_maps.append(out)
        return feature_maps, self.conv(out)


class MultiScaleDiscriminator(nn.Layer):
    """One :class:`Discriminator` per scale; input is a dict ``{'prediction_<scale>': image}``."""

    def __init__(self, scales=(), **kwargs):
        super().__init__()
        self.scales = list(scales)
        self.discs = nn.LayerList()
        for scale in self.scales:
            self.discs.add_sublayer(_scale_name(scale), Discriminator(**kwargs))

    def forward(self, x: dict, kp: dict | None = None) -> dict:
        out = {}
        for scale, disc in zip(self.scales, self.discs):
            feature_maps, prediction_map = disc(x[f"prediction_{scale}"], kp)
            out[f"feature_maps_{scale}"] = feature_maps
            out[f"prediction_map_{scale}"] = prediction_map
        return out
