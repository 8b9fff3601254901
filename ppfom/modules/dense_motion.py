"""DenseMotionNetwork: from sparse keypoint motions to a dense backward flow and occlusion map.

Shapes follow the paper: K keypoints plus one background "keypoint" with the
identity motion. Grids are kept as separate x/y 4-D tensors so that no 5-D
reduction reaches an exported graph.
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn

from .blocks import AntiAliasInterpolation2d, Hourglass
from .geometry import inverse_2x2, kp2gaussian, make_coordinate_grid


def _head(channels: int, out: int, mobile_net: bool) -> nn.Layer:
    """A 7x7 conv, or for the mobile model three 3x3 convs with ReLUs."""
    if not mobile_net:
        return nn.Conv2D(channels, out, 7, padding=3)
    attr = nn.initializer.KaimingUniform()
    return nn.Sequential(
        nn.Conv2D(channels, channels, 3, padding=1, weight_attr=attr), nn.ReLU(),
        nn.Conv2D(channels, channels, 3, padding=1, weight_attr=attr), nn.ReLU(),
        nn.Conv2D(channels, out, 3, padding=1, weight_attr=attr),
    )


class DenseMotionNetwork(nn.Layer):
    """Predicts ``deformation`` (B, h, w, 2), ``mask`` and ``occlusion_map`` at ``scale_factor``."""

    def __init__(self, block_expansion: int, num_blocks: int, max_features: int, num_kp: int,
                 num_channels: int, estimate_occlusion_map: bool = False, scale_factor: float = 1,
                 kp_variance: float = 0.01, mobile_net: bool = False):
        super().__init__()
        self.hourglass = Hourglass(block_expansion, in_features=(num_kp + 1) * (num_channels + 1),
                                   max_features=max_features, num_blocks=num_blocks,
                                   mobile_net=mobile_net)
        channels = self.hourglass.out_filters
        self.mask = _head(channels, num_kp + 1, mobile_net)
        self.occlusion = _head(channels, 1, mobile_net) if estimate_occlusion_map else None
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, mobile_net=mobile_net)

    def downsample(self, source_image: paddle.Tensor) -> paddle.Tensor:
        """The source at the motion network's resolution; callers may compute it once per source."""
        return self.down(source_image) if self.scale_factor != 1 else source_image

    def heatmap_difference(self, shape, kp_driving, kp_source) -> paddle.Tensor:
        """Eq. 6: driving minus source Gaussians, with a zero background map first (B, K+1, h, w)."""
        b, h, w = shape
        heatmap = (kp2gaussian(kp_driving["value"], (h, w), self.kp_variance)
                   - kp2gaussian(kp_source["value"], (h, w), self.kp_variance))
        zeros = paddle.zeros([b, 1, h, w], dtype=heatmap.dtype)
        return paddle.concat([zeros, heatmap], axis=1)

    def sparse_motions(self, shape, kp_driving, kp_source) -> tuple[paddle.Tensor, paddle.Tensor]:
        """Eq. 4: for each keypoint, where each driving pixel comes from in the source.

        Returns x and y coordinates, each (B, K+1, h, w); index 0 is the identity.
        """
        b, h, w = shape
        k = self.num_kp
        grid = make_coordinate_grid((h, w), kp_source["value"].dtype)
        gx = grid[:, :, 0].reshape([1, 1, h, w])
        gy = grid[:, :, 1].reshape([1, 1, h, w])
        kd = kp_driving["value"].reshape([b, k, 2, 1, 1])
        ks = kp_source["value"].reshape([-1, k, 2, 1, 1])
        dx, dy = gx - kd[:, :, 0], gy - kd[:, :, 1]
        if "jacobian" in kp_driving:
            jac = paddle.matmul(kp_source["jacobian"], inverse_2x2(kp_driving["jacobian"]))
            jac = jac.reshape([b, k, 4, 1, 1])
            dx, dy = (jac[:, :, 0] * dx + jac[:, :, 1] * dy,
                      jac[:, :, 2] * dx + jac[:, :, 3] * dy)
        sx = paddle.concat([gx.expand([b, 1, h, w]), dx + ks[:, :, 0]], axis=1)
        sy = paddle.concat([gy.expand([b, 1, h, w]), dy + ks[:, :, 1]], axis=1)
        return sx, sy

    def deformed_sources(self, source_image, sx, sy) -> paddle.Tensor:
        """Eq. 7: the source warped by each keypoint's motion, (B*(K+1), C, h, w)."""
        b, c, h, w = source_image.shape
        n = self.num_kp + 1
        repeated = source_image.unsqueeze(1).expand([b, n, c, h, w]).reshape([b * n, c, h, w])
        grid = paddle.stack([sx, sy], axis=-1).reshape([b * n, h, w, 2])
        return F.grid_sample(repeated, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    def forward(self, source_image: paddle.Tensor, kp_driving: dict, kp_source: dict,
                downsampled: bool = False) -> dict[str, paddle.Tensor]:
        """``downsampled=True`` says ``source_image`` already went through :meth:`downsample`."""
        if not downsampled:
            source_image = self.downsample(source_image)
        b = kp_driving["value"].shape[0]
        if source_image.shape[0] != b:
            source_image = source_image.expand([b] + list(source_image.shape[1:]))
        _, c, h, w = source_image.shape
        n = self.num_kp + 1
        heatmap = self.heatmap_difference((b, h, w), kp_driving, kp_source)
        sx, sy = self.sparse_motions((b, h, w), kp_driving, kp_source)
        deformed = self.deformed_sources(source_image, sx, sy)
        features = paddle.concat([heatmap.reshape([b * n, 1, h, w]), deformed], axis=1)
        prediction = self.hourglass(features.reshape([b, n * (c + 1), h, w]))

        mask = F.softmax(self.mask(prediction), axis=1)
        deformation = paddle.stack([(sx * mask).sum(axis=1), (sy * mask).sum(axis=1)], axis=-1)
        out = {"sparse_deformed": deformed.reshape([b, n, c, h, w]), "mask": mask,
               "deformation": deformation}
        if self.occlusion is not None:
            logits = self.occlusion(prediction)
            out["occlusion_map"] = F.sigmoid(logits)
            out["occlusion_logits"] = logits  # for training: a saturated sigmoid passes no gradient
        return out
