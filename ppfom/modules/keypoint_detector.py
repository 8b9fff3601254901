"""KPDetector: ten keypoints and their local affine jacobians from one image."""
from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn

from .blocks import AntiAliasInterpolation2d, Hourglass
from .geometry import make_coordinate_grid


def _head(channels: int, out: int, pad: int, mobile_net: bool, kaiming: bool) -> nn.Layer:
    """A 7x7 conv, or for the mobile model three 3x3 convs (same receptive field)."""
    attr = nn.initializer.KaimingUniform() if kaiming else None
    if not mobile_net:
        return nn.Conv2D(channels, out, 7, padding=pad)
    return nn.Sequential(
        nn.Conv2D(channels, channels, 3, padding=pad, weight_attr=attr),
        nn.Conv2D(channels, channels, 3, padding=pad, weight_attr=attr),
        nn.Conv2D(channels, out, 3, padding=pad, weight_attr=attr),
    )


def soft_argmax(logits: paddle.Tensor, temperature: float) -> tuple[paddle.Tensor, paddle.Tensor]:
    """Keypoints (B, K, 2) as heatmap-weighted means of a [-1, 1] grid, and the heatmaps (B, K, HW)."""
    b, k, h, w = logits.shape
    heatmap = F.softmax(logits.reshape([b, k, h * w]) / temperature, axis=2)
    grid = make_coordinate_grid((h, w), heatmap.dtype).reshape([h * w, 2])
    return paddle.matmul(heatmap, grid), heatmap


class KPDetector(nn.Layer):
    """Keypoints as the softmax-weighted mean of heatmaps over a [-1, 1] grid.

    Returns ``{'value': (B, K, 2), 'jacobian': (B, K, 2, 2)}`` (jacobian only with
    ``estimate_jacobian``). Arguments are PaddleGAN's ``kp_detector_cfg`` keys
    plus ``common_params``.
    """

    def __init__(self, block_expansion: int, num_kp: int, num_channels: int, max_features: int,
                 num_blocks: int, temperature: float, estimate_jacobian: bool = False,
                 scale_factor: float = 1, single_jacobian_map: bool = False, pad: int = 0,
                 mobile_net: bool = False):
        super().__init__()
        self.predictor = Hourglass(block_expansion, in_features=num_channels,
                                   max_features=max_features, num_blocks=num_blocks,
                                   mobile_net=mobile_net)
        channels = self.predictor.out_filters
        self.kp = _head(channels, num_kp, pad, mobile_net, kaiming=True)
        self.num_kp = num_kp
        self.num_channels = num_channels
        if estimate_jacobian:
            self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
            self.jacobian = _head(channels, 4 * self.num_jacobian_maps, pad, mobile_net, kaiming=False)
            self._init_identity_jacobian()
        else:
            self.jacobian = None
        self.temperature = temperature
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, mobile_net=mobile_net)

    def _init_identity_jacobian(self) -> None:
        """Start every jacobian at the identity, so early training moves pure translations."""
        convs = list(self.jacobian) if isinstance(self.jacobian, nn.Sequential) else [self.jacobian]
        for conv in convs:
            conv.weight.set_value(paddle.zeros(conv.weight.shape, dtype="float32"))
        last = convs[-1]
        last.bias.set_value(paddle.to_tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps, dtype="float32"))

    def forward(self, x: paddle.Tensor) -> dict[str, paddle.Tensor]:
        if self.scale_factor != 1:
            x = self.down(x)
        features = self.predictor(x)
        logits = self.kp(features)
        b, k, h, w = logits.shape
        value, heatmap = soft_argmax(logits, self.temperature)
        out = {"value": value}
        if self.jacobian is not None:
            maps = self.jacobian(features).reshape([b, self.num_jacobian_maps, 4, h * w])
            jacobian = paddle.matmul(maps, heatmap.unsqueeze(-1))  # (B, K, 4, 1)
            out["jacobian"] = jacobian.reshape([b, k, 2, 2])
        return out
