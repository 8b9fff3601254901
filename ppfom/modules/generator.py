"""OcclusionAwareGenerator: warps the source's features by the dense motion and decodes a frame.

The work splits into :meth:`encode` (once per source image, about a fifth of the
cost) and :meth:`animate` (per driving frame); ``forward`` runs both, as
PaddleGAN's generator does.

``pixel_skip`` (not in FOM, off for PaddleGAN's weights): the output blends the
warped source image itself with the decoded frame, by a mask the decoder
predicts. A small decoder re-draws what the warp already got right (still
background, the source's own texture) less exactly than the warp: on the demo
model the warped source alone was closer to the true frames (L1 0.0254) than
the decoded one (0.0279). The source rides along with the features as three
extra channels, so every exported graph carries it without a new input.

``stretch_input`` (not in FOM): the decoder also sees how the warp stretches each place
(the deformation's local jacobian minus the identity, four channels, added to the warped
features through a 1x1 convolution that starts at zero). Warped features alone look the same
whether the source's lips were moved or pulled apart; the stretch tells an opening mouth, whose
inside the source does not show, from a moved closed one.
"""
from __future__ import annotations

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from ..errors import PpfomError
from .blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d
from .dense_motion import DenseMotionNetwork
from .geometry import make_coordinate_grid, resize_bilinear

BORDER = 5  # pixels at the frame edge that the inference fix keeps from the source


def border_weights(h: int, w: int, border: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights for PaddleGAN's ``inference=True`` border fix, as (H, W) float32 arrays.

    The flow is faded to the identity near the edges (a blurred box), and the
    occlusion map is forced to 1 on a ``border``-pixel frame (5 in PaddleGAN):
    both hide the smeared borders the warp otherwise produces.
    """
    box = np.zeros((h, w), np.float32)
    box[border:h - border, border:w - border] = 1.0
    flow = cv2.GaussianBlur(box, (9, 9), 0.0, borderType=cv2.BORDER_ISOLATED)
    return flow.astype(np.float32), box


def _mobile_final(channels: int, out: int) -> nn.Layer:
    attr = nn.initializer.KaimingUniform()
    return nn.Sequential(
        nn.Conv2D(channels, channels, 3, padding=1, weight_attr=attr), nn.ReLU(),
        nn.Conv2D(channels, channels, 3, padding=1, weight_attr=attr), nn.ReLU(),
        nn.Conv2D(channels, out, 3, padding=1, weight_attr=attr),
    )


def _difference_kernel() -> np.ndarray:
    """(4, 1, 3, 3) central differences across and down, for each of the flow's two channels (groups=2)."""
    across = np.zeros((3, 3), np.float32)
    across[1, 0], across[1, 2] = -0.5, 0.5
    return np.stack([across, across.T, across, across.T])[:, None]


class OcclusionAwareGenerator(nn.Layer):
    """Arguments are PaddleGAN's ``generator_cfg`` keys plus ``common_params``.

    ``inference=True`` enables PaddleGAN's border fix (used by its predictor,
    not in training) on an ``inference_border``-pixel frame of the feature map:
    PaddleGAN's 5 suits its 64x64 and 128x128 feature maps, but would freeze most
    of a small model's 16x16 one; 0 turns the fix off (inference as trained).
    """

    def __init__(self, num_channels: int, num_kp: int, block_expansion: int, max_features: int,
                 num_down_blocks: int, num_bottleneck_blocks: int,
                 estimate_occlusion_map: bool = False, dense_motion_params: dict | None = None,
                 estimate_jacobian: bool = False, inference: bool = False, mobile_net: bool = False,
                 inference_border: int = BORDER, pixel_skip: bool = False, stretch_input: bool = False):
        super().__init__()
        if pixel_skip and num_down_blocks:
            raise PpfomError(f"generator_cfg.pixel_skip needs num_down_blocks: 0 (got {num_down_blocks}): the "
                             "source image is carried at the features' resolution; turn one of them off")
        if dense_motion_params is not None:
            self.dense_motion_network = DenseMotionNetwork(
                num_kp=num_kp, num_channels=num_channels,
                estimate_occlusion_map=estimate_occlusion_map, mobile_net=mobile_net,
                **dense_motion_params)
        else:
            self.dense_motion_network = None

        if mobile_net:
            self.first = nn.Sequential(
                SameBlock2d(num_channels, num_channels, 3, 1, mobile_net=True),
                SameBlock2d(num_channels, num_channels, 3, 1, mobile_net=True),
                SameBlock2d(num_channels, block_expansion, 3, 1, mobile_net=True))
        else:
            self.first = SameBlock2d(num_channels, block_expansion, 7, 3)

        def width(level: int) -> int:
            return min(max_features, block_expansion * (2 ** level))

        self.down_blocks = nn.LayerList([
            DownBlock2d(width(i), width(i + 1), mobile_net=mobile_net) for i in range(num_down_blocks)])
        self.up_blocks = nn.LayerList([
            UpBlock2d(width(num_down_blocks - i), width(num_down_blocks - i - 1), mobile_net=mobile_net)
            for i in range(num_down_blocks)])
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_sublayer(f"r{i}", ResBlock2d(width(num_down_blocks), 3, 1, mobile_net=mobile_net))
        if mobile_net:
            self.final = _mobile_final(block_expansion, num_channels)
        else:
            self.final = nn.Conv2D(block_expansion, num_channels, 7, padding=3)
        self.pixel_skip = bool(pixel_skip)
        self.num_features = width(num_down_blocks)
        if self.pixel_skip:  # zero weights: the blend starts at one half everywhere, then learns where
            self.skip_mask = nn.Conv2D(block_expansion, 1, 3, padding=1,
                                       weight_attr=nn.initializer.Constant(0.0),
                                       bias_attr=nn.initializer.Constant(0.0))

        self.stretch_in = None
        if stretch_input:  # zero weights: the model it extends is unchanged until training uses it
            self.stretch_in = nn.Conv2D(4, self.num_features, 1, weight_attr=nn.initializer.Constant(0.0),
                                        bias_attr=nn.initializer.Constant(0.0))
            self.register_buffer("difference_kernel", paddle.to_tensor(_difference_kernel()), persistable=False)

        self.estimate_occlusion_map = estimate_occlusion_map
        self.num_channels = num_channels
        self.inference = inference and inference_border > 0
        self.inference_border = int(inference_border)
        self.mobile_net = mobile_net
        self._border_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _border(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        if (h, w) not in self._border_cache:
            self._border_cache[(h, w)] = border_weights(h, w, self.inference_border)
        return self._border_cache[(h, w)]

    def deform_input(self, inp: paddle.Tensor, deformation: paddle.Tensor) -> paddle.Tensor:
        """Backward-warp ``inp`` (B, C, H, W) by a flow (B, h, w, 2) resized to H x W."""
        _, h_old, w_old, _ = deformation.shape
        _, _, h, w = inp.shape
        if (h_old, w_old) != (h, w):
            deformation = resize_bilinear(deformation.transpose([0, 3, 1, 2]), (h, w)).transpose([0, 2, 3, 1])
        if self.inference:
            fade = paddle.to_tensor(self._border(h, w)[0]).reshape([1, h, w, 1])
            identity = make_coordinate_grid((h, w), inp.dtype).reshape([1, h, w, 2])
            deformation = fade * deformation + (1 - fade) * identity
        return F.grid_sample(inp, deformation, mode="bilinear", padding_mode="zeros", align_corners=True)

    def encode(self, source_image: paddle.Tensor) -> paddle.Tensor:
        """Source features before warping (with ``pixel_skip``, the source appended); independent of the
        driving frame."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        return paddle.concat([out, source_image], axis=1) if self.pixel_skip else out

    def split_skip(self, encoded: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor | None]:
        """(features, source image) of an :meth:`encode` output; the image is None without ``pixel_skip``."""
        if not self.pixel_skip:
            return encoded, None
        features, image = paddle.split(encoded, [self.num_features, self.num_channels], axis=1)
        return features, image

    def decode(self, encoded: paddle.Tensor) -> paddle.Tensor:
        return self.decode_parts(encoded)[0]

    def decode_parts(self, encoded: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor | None]:
        """(prediction, the decoder's own image before the ``pixel_skip`` blend, or None without it)."""
        features, image = self.split_skip(encoded)
        out = self.bottleneck(features)
        for block in self.up_blocks:
            out = block(out)
        decoded = F.sigmoid(self.final(out))
        if image is None:
            return decoded, None
        mask = F.sigmoid(self.skip_mask(out))
        return decoded + mask * (image - decoded), decoded

    def stretch(self, deformation: paddle.Tensor) -> paddle.Tensor:
        """(B, 4, h, w): d(sampled x, y)/d(x, y) - identity, in pixels, of a flow (B, h, w, 2).

        Near 0 where the warp only moves the source; -0.5 down where it pulls it to twice its height.
        """
        _, h, w, _ = deformation.shape
        identity = make_coordinate_grid((h, w), deformation.dtype).reshape([1, h, w, 2])
        displacement = (deformation - identity).transpose([0, 3, 1, 2])
        scale = paddle.to_tensor(np.array([w - 1, h - 1, w - 1, h - 1], np.float32).reshape(1, 4, 1, 1) / 2)
        return F.conv2d(displacement, self.difference_kernel, padding=1, groups=2) * scale

    def _add_stretch(self, warped: paddle.Tensor, deformation: paddle.Tensor) -> paddle.Tensor:
        features, image = self.split_skip(warped)
        stretch = self.stretch(deformation)
        if tuple(stretch.shape[2:]) != tuple(features.shape[2:]):
            stretch = resize_bilinear(stretch, tuple(features.shape[2:]))
        features = features + self.stretch_in(stretch)
        return features if image is None else paddle.concat([features, image], axis=1)

    def _occlude(self, features: paddle.Tensor, occlusion_map: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        h, w = features.shape[2:]
        if tuple(occlusion_map.shape[2:]) != (h, w):
            occlusion_map = resize_bilinear(occlusion_map, (h, w))
        if self.inference and not self.mobile_net:
            keep = paddle.to_tensor(self._border(h, w)[1]).reshape([1, 1, h, w])
            occlusion_map = occlusion_map * keep + (1 - keep)
        features, image = self.split_skip(features)
        occluded = features * occlusion_map
        if image is not None:  # the warped image stays whole: the skip mask decides where to trust it
            occluded = paddle.concat([occluded, image], axis=1)
        return occluded, occlusion_map

    def animate(self, source_image: paddle.Tensor, source_features: paddle.Tensor, kp_driving: dict,
                kp_source: dict, source_down: paddle.Tensor | None = None,
                full_output: bool = True) -> dict[str, paddle.Tensor]:
        """The per-frame part. ``source_down`` is the dense-motion-resolution source, if cached.

        ``full_output=False`` skips the warped source image (``deformed``) and, with ``pixel_skip``,
        the decoder's image before the blend (``decoded``), which only visualisation and training need.
        """
        b = kp_driving["value"].shape[0]
        if source_features.shape[0] != b:
            source_features = source_features.expand([b] + list(source_features.shape[1:]))
        out = source_features
        output = {}
        if self.dense_motion_network is not None:
            motion_source = source_image if source_down is None else source_down
            motion = self.dense_motion_network(motion_source, kp_driving, kp_source,
                                               downsampled=source_down is not None)
            output["mask"] = motion["mask"]
            output["sparse_deformed"] = motion["sparse_deformed"]
            deformation = motion["deformation"]
            out = self.deform_input(out, deformation)
            if "occlusion_map" in motion:
                out, output["occlusion_map"] = self._occlude(out, motion["occlusion_map"])
                if full_output:
                    output["occlusion_logits"] = motion["occlusion_logits"]
            if self.stretch_in is not None:
                out = self._add_stretch(out, deformation)
            if full_output:
                if source_image.shape[0] != b:
                    source_image = source_image.expand([b] + list(source_image.shape[1:]))
                output["deformed"] = self.deform_input(source_image, deformation)
        output["prediction"], decoded = self.decode_parts(out)
        if full_output and decoded is not None:
            output["decoded"] = decoded
        return output

    def forward(self, source_image: paddle.Tensor, kp_driving: dict, kp_source: dict) -> dict[str, paddle.Tensor]:
        return self.animate(source_image, self.encode(source_image), kp_driving, kp_source)
