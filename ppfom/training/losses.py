"""The FOM objective's parts: image pyramid, perceptual, equivariance and LSGAN terms.

Formulas follow the paper and the original code (Siarohin et al. 2019):
losses are means of absolute differences; LSGAN uses squared distances to
1 (real) and 0 (fake). The random affine + thin-plate-spline transform of the
equivariance constraint is drawn from a numpy generator, so a resumed run
draws the same transforms as an uninterrupted one.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from ..modules.blocks import AntiAliasInterpolation2d
from ..modules.geometry import inverse_2x2, make_coordinate_grid


def scale_key(scale) -> str:
    return f"prediction_{scale}"


class ImagePyramid(nn.Layer):
    """The image at each of ``scales``, anti-aliased: ``{'prediction_<scale>': NCHW}``."""

    def __init__(self, scales: Sequence[float], num_channels: int = 3):
        super().__init__()
        self.scales = list(scales)
        self.downs = nn.LayerList([AntiAliasInterpolation2d(num_channels, float(s)) for s in self.scales])

    def forward(self, x: paddle.Tensor) -> dict[str, paddle.Tensor]:
        return {scale_key(s): down(x) for s, down in zip(self.scales, self.downs)}


def perceptual_loss(features: nn.Layer, generated: dict, real: dict, weights: Sequence[float]) -> paddle.Tensor:
    """Sum over scales and layers of weight * mean |f(generated) - f(real)|; real features are constants."""
    total = paddle.zeros([1])
    for key, image in generated.items():
        fake_f = features(image)
        with paddle.no_grad():
            real_f = features(real[key])
        for weight, a, b in zip(weights, fake_f, real_f):
            if weight:
                total = total + float(weight) * paddle.abs(a - b.detach()).mean()
    return total


def darkness(image: paddle.Tensor, threshold: float = 0.25, width: float = 0.1) -> paddle.Tensor:
    """Bx1xHxW, 1 where an RGB image in [0, 1] is darker than ``threshold - width`` in luminance, 0 above
    ``threshold``, linear between: an open mouth's inside, a pupil, a lash line."""
    luma = 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
    return paddle.clip((threshold - luma) / width, 0.0, 1.0)


def pixel_loss(generated: dict, real: dict, source: dict | None = None, change_weight: float = 0.0,
               regions: paddle.Tensor | None = None, region_weight: float = 0.0,
               dark_weight: float = 0.0) -> paddle.Tensor:
    """Mean |generated - real| summed over the pyramid's scales.

    With ``change_weight`` k > 0 (not in FOM) each pixel's error is weighted by 1 + k |real - source|
    (mean over channels): what the motion changed (an opening mouth, a moved outline) outweighs the
    still background, which is most of a frame and easy to copy. With ``region_weight`` r > 0 and a
    Bx1xHxW 0/1 mask ``regions`` (eyes and mouth, :mod:`.regions`) it is also weighted by 1 + r there
    (the mask averaged down to each scale). With ``dark_weight`` d > 0 the dark pixels of ``real``
    inside the regions (:func:`darkness`) weigh 1 + r + d: the hole of an opening mouth, which the
    source does not show and the warp cannot make, is priced above the lips' outline around it."""
    terms = []
    for key, image in generated.items():
        error = paddle.abs(image - real[key].detach())
        if change_weight and source is not None:
            change = paddle.abs(real[key] - source[key]).mean(axis=1, keepdim=True).detach()
            error = error * (1 + change_weight * change)
        if (region_weight or dark_weight) and regions is not None:
            mask = regions if regions.shape[2:] == image.shape[2:] else F.adaptive_avg_pool2d(regions, image.shape[2:])
            weight = 1 + region_weight * mask
            if dark_weight:
                weight = weight + dark_weight * mask * darkness(real[key].detach())
            error = error * weight
        terms.append(error.mean().reshape([1]))
    return paddle.add_n(terms)


def occlusion_target(deformed: paddle.Tensor, driving: paddle.Tensor, low: float = 0.1,
                     high: float = 0.25) -> paddle.Tensor:
    """Bx1xHxW: where the warped source explains the driving frame (1) and where it cannot (0).

    The error is the channel mean of |deformed - driving| averaged over 3x3 pixels, so a warp one
    pixel off along an edge stays near 1 while a patch the source does not show (an opening mouth's
    hole, uncovered background) falls to 0; linear between ``low`` and ``high``."""
    error = paddle.abs(deformed - driving).mean(axis=1, keepdim=True)
    error = F.avg_pool2d(error, 3, stride=1, padding=1, exclusive=True)
    return paddle.clip((high - error) / (high - low), 0.0, 1.0)


def occlusion_loss(occlusion_logits: paddle.Tensor, deformed: paddle.Tensor, driving: paddle.Tensor,
                   balance: float = 0.0) -> paddle.Tensor:
    """Binary cross-entropy of the occlusion map's logits against :func:`occlusion_target` (not in
    FOM). FOM learns occlusion only through the decoder's features, and a model whose output is
    mostly its warp leaves the map at 1 everywhere, its sigmoid so saturated that no gradient
    passes; told where its warp fails, the dense motion network learns to predict that from the
    keypoints, and the decoder gets cleared features exactly where it has to paint.

    ``balance`` weights the pixels the warp cannot explain by 1 + balance: they are under 1% of a
    frame, so unweighted the best map stays above one half even where the model can tell them apart."""
    target = occlusion_target(deformed.detach(), driving.detach())
    if target.shape[2:] != occlusion_logits.shape[2:]:
        target = F.adaptive_avg_pool2d(target, occlusion_logits.shape[2:])
    # softplus(l) - l t is the cross-entropy; paddle's binary_cross_entropy_with_logits has a wrong
    # gradient at a logit of exactly 0 (-t - 0.5 there, not sigmoid(0) - t)
    entropy = F.softplus(occlusion_logits) - occlusion_logits * target
    weight = 1 + balance * (1 - target)  # all ones without balance: the plain mean
    return ((entropy * weight).sum() / weight.sum()).reshape([1])


class RandomTransform:
    """A random affine + TPS warp of the plane [-1, 1]^2, one per batch element (paper, Sec. 3.4)."""

    def __init__(self, batch: int, rng: np.random.Generator, sigma_affine: float, sigma_tps: float | None = None,
                 points_tps: int | None = None):
        theta = rng.normal(0.0, sigma_affine, (batch, 2, 3)) + np.eye(2, 3)
        self.theta = paddle.to_tensor(theta.astype(np.float32))
        self.batch = batch
        self.tps = sigma_tps is not None and points_tps is not None
        if self.tps:
            grid = make_coordinate_grid((points_tps, points_tps)).reshape([1, 1, -1, 2])
            self.control_points = grid
            params = rng.normal(0.0, sigma_tps, (batch, 1, points_tps * points_tps))
            self.control_params = paddle.to_tensor(params.astype(np.float32))

    def _tps_parts(self, coords: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        """Per control point: signed offsets (B, N, P, 2) and L1 distances d (B, N, P)."""
        diff = coords.unsqueeze(2) - self.control_points
        return diff, paddle.abs(diff).sum(-1)

    def warp_coordinates(self, coords: paddle.Tensor) -> paddle.Tensor:
        """(B, N, 2) -> (B, N, 2): affine part plus the same TPS offset added to x and y."""
        affine = self.theta[:, :, :2]
        out = paddle.matmul(coords, affine, transpose_y=True) + self.theta[:, :, 2].unsqueeze(1)
        if self.tps:
            _, d = self._tps_parts(coords)
            offset = (d * d * paddle.log(d + 1e-6) * self.control_params).sum(-1, keepdim=True)
            out = out + offset
        return out

    def jacobian(self, coords: paddle.Tensor) -> paddle.Tensor:
        """d warp / d coords at ``coords``, (B, N, 2, 2), in closed form (no double backward)."""
        b, n = coords.shape[0], coords.shape[1]
        jac = self.theta[:, :, :2].unsqueeze(1).expand([b, n, 2, 2])
        if self.tps:
            diff, d = self._tps_parts(coords)
            slope = (2 * d * paddle.log(d + 1e-6) + d * d / (d + 1e-6)) * self.control_params
            grad = (slope.unsqueeze(-1) * paddle.sign(diff)).sum(2)  # (B, N, 2): d offset / d (x, y)
            jac = jac + grad.unsqueeze(2)
        return jac

    def transform_frame(self, frame: paddle.Tensor) -> paddle.Tensor:
        h, w = frame.shape[2], frame.shape[3]
        grid = make_coordinate_grid((h, w)).reshape([1, h * w, 2]).expand([self.batch, h * w, 2])
        grid = self.warp_coordinates(grid).reshape([self.batch, h, w, 2])
        return F.grid_sample(frame, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def equivariance_value(kp_driving: dict, kp_transformed: dict, transform: RandomTransform) -> paddle.Tensor:
    """Keypoints of a warped frame, warped back, must land on the frame's keypoints."""
    return paddle.abs(kp_driving["value"] - transform.warp_coordinates(kp_transformed["value"])).mean()


def equivariance_jacobian(kp_driving: dict, kp_transformed: dict, transform: RandomTransform) -> paddle.Tensor:
    """The warp's jacobian times the warped frame's jacobians must undo the frame's: J_d^-1 (T' J_t) = I."""
    transformed = paddle.matmul(transform.jacobian(kp_transformed["value"]), kp_transformed["jacobian"])
    value = paddle.matmul(inverse_2x2(kp_driving["jacobian"]), transformed)
    eye = paddle.eye(2, dtype=value.dtype).reshape([1, 1, 2, 2])
    return paddle.abs(eye - value).mean()


def keypoint_separation(kp: dict, distance: float) -> paddle.Tensor:
    """Not in FOM (face-vid2vid's keypoint prior): pairs of keypoints closer than ``distance`` (in
    [-1, 1] units) are pushed apart, so that they spread over the parts that move on their own
    (eyes, mouth) instead of clustering where the whole head's motion is easiest to read."""
    value = kp["value"]  # (batch, K, 2)
    diff = value.unsqueeze(2) - value.unsqueeze(1)
    squared = (diff * diff).sum(-1)  # (batch, K, K); the diagonal is 0 and adds a constant
    num_kp = value.shape[1]
    off_diagonal = 1 - paddle.eye(num_kp, dtype=value.dtype)
    return (F.relu(distance * distance - squared) * off_diagonal).sum([1, 2]).mean() / 2


def keypoint_ownership(mask: paddle.Tensor, kp_value: paddle.Tensor, indices: Sequence[int],
                       sigma: float, reach: float | None = None) -> paddle.Tensor:
    """Not in FOM: how far keypoints ``indices`` are from owning the motion mask near them, and only there.

    The mask (B, K+1, H, W; channel 0 is the background) is weighed by a Gaussian of ``sigma``
    ([-1, 1] units) around each listed keypoint's (detached) position: the share the keypoint does
    not get there is the first part. With ``reach``, the area it holds farther away (weighed by
    ``1 - exp(-d^2 / 2 reach^2)``), in units of the near Gaussian's area, is added: a small patch
    of forehead fully held is small in a mean over the frame but tears as much as a large one.
    A keypoint placed on an eye learns a blink only through the share of the mask it is given, and
    only if that share is the eye: without the first part the mask hands the eyes back to a steadier
    neighbour; without the second, an eye keypoint that also holds the forehead tears it whenever it
    narrows the eye, and the error says "do not blink".
    """
    b, _, h, w = mask.shape
    ys = paddle.linspace(-1, 1, h, dtype=mask.dtype).reshape([1, 1, h, 1])
    xs = paddle.linspace(-1, 1, w, dtype=mask.dtype).reshape([1, 1, 1, w])
    chosen = paddle.to_tensor([int(i) for i in indices], dtype="int64")
    centres = paddle.index_select(kp_value.detach(), chosen, axis=1)  # (B, n, 2) as (x, y)
    dx = xs - centres[:, :, 0].reshape([b, -1, 1, 1])
    dy = ys - centres[:, :, 1].reshape([b, -1, 1, 1])
    squared = dx * dx + dy * dy  # (B, n, H, W)
    near = paddle.exp(-squared / (2 * sigma * sigma))
    owned = paddle.index_select(mask, chosen + 1, axis=1)
    loss = (near * (1 - owned)).sum([2, 3]) / near.sum([2, 3])
    if reach:
        far = 1 - paddle.exp(-squared / (2 * reach * reach))
        loss = loss + (far * owned).sum([2, 3]) / near.sum([2, 3])
    return loss.mean()


def eye_jacobian(kp_source: dict, kp_driving: dict, indices: Sequence[int], target: paddle.Tensor) -> paddle.Tensor:
    """Not in FOM: keypoints ``indices`` (ones whose mask share holds the eyes) made to follow their true motion.

    ``target`` (B, 2, 2) is the eyes' local map from source to driving (``regions.eye_motion``);
    the keypoints' relative jacobian ``J_d inv(J_s)`` is pulled to it. Reconstruction alone never
    asks an eye keypoint to narrow: while its share of the motion mask also holds the brows,
    narrowing tears them and costs more than the blink gains, and the mask never lets go of the
    brows while the keypoint does not narrow. This breaks the circle from the keypoints' side.
    """
    chosen = paddle.to_tensor([int(i) for i in indices], dtype="int64")
    j_s = paddle.index_select(kp_source["jacobian"], chosen, axis=1)  # (B, n, 2, 2)
    j_d = paddle.index_select(kp_driving["jacobian"], chosen, axis=1)
    return paddle.abs(paddle.matmul(j_d, inverse_2x2(j_s)) - target.unsqueeze(1)).mean()


def generator_gan_loss(fake_maps: dict, scales: Sequence) -> paddle.Tensor:
    return sum(((1 - fake_maps[f"prediction_map_{s}"]) ** 2).mean() for s in scales)


def discriminator_gan_loss(real_maps: dict, fake_maps: dict, scales: Sequence) -> paddle.Tensor:
    return sum(((1 - real_maps[f"prediction_map_{s}"]) ** 2 + fake_maps[f"prediction_map_{s}"] ** 2).mean()
               for s in scales)


def feature_matching_loss(real_maps: dict, fake_maps: dict, scales: Sequence,
                          weights: Sequence[float]) -> paddle.Tensor:
    total = paddle.zeros([1])
    for s in scales:
        for weight, a, b in zip(weights, real_maps[f"feature_maps_{s}"], fake_maps[f"feature_maps_{s}"]):
            if weight:
                total = total + float(weight) * paddle.abs(a.detach() - b).mean()
    return total
