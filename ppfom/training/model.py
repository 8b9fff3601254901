"""The networks joined with their losses, as FOM trains them.

``GeneratorFull`` runs keypoint detector + generator on a (source, driving)
pair and returns the weighted loss terms of the generator step;
``DiscriminatorFull`` returns the LSGAN discriminator loss on the same pair.
A term whose weight is zero is not computed at all.
"""
from __future__ import annotations

import numpy as np
import paddle
from paddle import nn

from ..errors import PpfomError
from ..modules import KPDetector, MultiScaleDiscriminator, OcclusionAwareGenerator
from . import losses


def _detach_kp(kp: dict) -> dict:
    return {k: v.detach() for k, v in kp.items()}


def _weights(value) -> list[float]:
    return [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]


class GeneratorFull(nn.Layer):
    def __init__(self, kp_detector: KPDetector, generator: OcclusionAwareGenerator,
                 discriminator: MultiScaleDiscriminator, perceptual: nn.Layer, train_params: dict):
        super().__init__()
        self.kp_extractor = kp_detector
        self.generator = generator
        self.discriminator = discriminator
        self.perceptual = perceptual
        self.train_params = train_params
        self.weights = train_params["loss_weights"]
        self.pyramid = losses.ImagePyramid(train_params["scales"], generator.num_channels)
        self.disc_scales = discriminator.scales
        if float(self.weights.get("decoded_pixel", 0)) and not generator.pixel_skip:
            raise PpfomError("model.train_params.loss_weights.decoded_pixel needs generator_cfg.pixel_skip: True: "
                             "turn pixel_skip on or remove decoded_pixel")
        if float(self.weights.get("occlusion", 0)) and not generator.estimate_occlusion_map:
            raise PpfomError("model.train_params.loss_weights.occlusion needs generator_cfg.estimate_occlusion_map: "
                             "True: turn it on or remove the occlusion weight")

    def forward(self, source: paddle.Tensor, driving: paddle.Tensor, rng: np.random.Generator,
                regions: paddle.Tensor | None = None, eye_motion: paddle.Tensor | None = None
                ) -> tuple[dict[str, paddle.Tensor], dict]:
        """``regions``: Bx1xHxW eye and mouth boxes of the driving frames, for ``region_weight``;
        ``eye_motion``: (B, 2, 2) the eyes' true local map (``regions.eye_motion``), for ``eye_jacobian``."""
        w = self.weights
        # grid_sample's backward needs the warped image to take gradients when its grid does.
        source.stop_gradient = False
        kp_source = self.kp_extractor(source)
        kp_driving = self.kp_extractor(driving)
        generated = self.generator(source, kp_driving=kp_driving, kp_source=kp_source)
        generated.update(kp_source=kp_source, kp_driving=kp_driving)
        out: dict[str, paddle.Tensor] = {}
        real = self.pyramid(driving)
        fake = self.pyramid(generated["prediction"])
        perceptual_weights = _weights(w.get("perceptual", 0))
        if sum(perceptual_weights):
            out["perceptual"] = losses.perceptual_loss(self.perceptual, fake, real, perceptual_weights)
        if float(w.get("pixel", 0)):  # not in FOM: helps edge-tuned or missing VGG weights keep colours
            change_weight = float(self.train_params.get("pixel_change_weight", 0))
            source_pyramid = self.pyramid(source.detach()) if change_weight else None
            dark_weight = float(self.train_params.get("region_dark_weight", 0))
            out["pixel"] = float(w["pixel"]) * losses.pixel_loss(fake, real, source_pyramid, change_weight,
                                                                 regions, self._region_weight(regions), dark_weight)
        if float(w.get("decoded_pixel", 0)):  # not in FOM: see _decoded_pixel_term
            out["decoded_pixel"] = self._decoded_pixel_term(generated, real, regions)
        if float(w.get("warp_pixel", 0)):  # not in FOM: see _warp_pixel_term
            out["warp_pixel"] = self._warp_pixel_term(generated, real, regions)
        if float(w.get("occlusion", 0)):  # not in FOM: see losses.occlusion_loss
            out["occlusion"] = float(w["occlusion"]) * losses.occlusion_loss(
                generated["occlusion_logits"], generated["deformed"], driving,
                float(self.train_params.get("occlusion_balance", 0)))
        if float(w.get("generator_gan", 0)):
            out.update(self._gan_terms(real, fake, kp_driving))
        if float(w.get("equivariance_value", 0)) or float(w.get("equivariance_jacobian", 0)):
            out.update(self._equivariance_terms(driving, kp_driving, rng))
        if float(w.get("keypoint_separation", 0)):  # not in FOM: see losses.keypoint_separation
            distance = float(self.train_params.get("keypoint_distance", 0.2))
            out["keypoint_separation"] = float(w["keypoint_separation"]) * losses.keypoint_separation(
                kp_driving, distance)
        if float(w.get("keypoint_ownership", 0)):  # not in FOM: see losses.keypoint_ownership
            out["keypoint_ownership"] = self._ownership_term(generated, kp_driving)
        if float(w.get("eye_jacobian", 0)):  # not in FOM: see losses.eye_jacobian
            out["eye_jacobian"] = self._eye_term(kp_source, kp_driving, eye_motion)
        return out, generated

    def _eye_term(self, kp_source: dict, kp_driving: dict, eye_motion: paddle.Tensor | None) -> paddle.Tensor:
        """``train_params.eye_keypoints`` (ones holding the eyes) made to follow the eyes' true motion."""
        indices = self.train_params.get("eye_keypoints") or []
        num_kp = kp_driving["value"].shape[1]
        if not indices or not all(0 <= int(i) < num_kp for i in indices):
            raise PpfomError(f"model.train_params.loss_weights.eye_jacobian needs train_params.eye_keypoints: "
                             f"a list of keypoint indices below {num_kp}, got {indices!r}")
        if "jacobian" not in kp_driving or eye_motion is None:
            raise PpfomError("model.train_params.loss_weights.eye_jacobian needs estimate_jacobian: True and a "
                             "synthetic dataset with eye frames (tools/make_synthetic_dataset.py): "
                             "remove eye_jacobian otherwise")
        return float(self.weights["eye_jacobian"]) * losses.eye_jacobian(kp_source, kp_driving, indices,
                                                                         eye_motion)

    def _ownership_term(self, generated: dict, kp_driving: dict) -> paddle.Tensor:
        """``train_params.owned_keypoints`` (e.g. ones placed on the eyes) made to own the mask around them."""
        indices = self.train_params.get("owned_keypoints") or []
        num_kp = kp_driving["value"].shape[1]
        if not indices or not all(0 <= int(i) < num_kp for i in indices):
            raise PpfomError(f"model.train_params.loss_weights.keypoint_ownership needs "
                             f"train_params.owned_keypoints: a list of keypoint indices below {num_kp}, "
                             f"got {indices!r}")
        if "mask" not in generated:
            raise PpfomError("model.train_params.loss_weights.keypoint_ownership needs the generator's "
                             "dense_motion_params: add them or remove keypoint_ownership")
        sigma = float(self.train_params.get("ownership_sigma", 0.08))
        reach = self.train_params.get("ownership_reach")
        return float(self.weights["keypoint_ownership"]) * losses.keypoint_ownership(
            generated["mask"], kp_driving["value"], indices, sigma, float(reach) if reach else None)

    def _decoded_pixel_term(self, generated: dict, real: dict, regions: paddle.Tensor | None) -> paddle.Tensor:
        """The pixel loss on the decoder's own image, before the ``pixel_skip`` blend.

        Through the blend the decoder only learns where the mask already hands it the frame, and
        the mask only hands it what it already paints: an open mouth the source does not show
        stays the warped closed one. Asked to reproduce the whole frame by itself, the decoder
        learns to paint it, and the mask can then choose it where it is better.
        """
        return float(self.weights["decoded_pixel"]) * losses.pixel_loss(
            self.pyramid(generated["decoded"]), real, regions=regions, region_weight=self._region_weight(regions))

    def _warp_pixel_term(self, generated: dict, real: dict, regions: paddle.Tensor | None) -> paddle.Tensor:
        """The pixel loss on the warped source image alone (``deformed``), before any decoder.

        Through the prediction the motion learns only what the decoder cannot patch: on the demo
        model the mouth keypoint read an opening as a 2.1x vertical stretch, the motion mask gave
        it 0.72 of the mouth, and the warped lips thickened instead of opening. Asked to explain the
        driving frame by moving the source's own pixels, keypoints, jacobians and mask are trained
        by the eyes and mouth directly (weighted by ``region_weight``).
        """
        return float(self.weights["warp_pixel"]) * losses.pixel_loss(
            self.pyramid(generated["deformed"]), real, regions=regions, region_weight=self._region_weight(regions))

    def _region_weight(self, regions: paddle.Tensor | None) -> float:
        return float(self.train_params.get("region_weight", 0)) if regions is not None else 0.0

    def _gan_terms(self, real: dict, fake: dict, kp_driving: dict) -> dict[str, paddle.Tensor]:
        w = self.weights
        kp = _detach_kp(kp_driving)
        fake_maps = self.discriminator(fake, kp=kp)
        with paddle.no_grad():
            real_maps = self.discriminator(real, kp=kp)
        out = {"gen_gan": float(w["generator_gan"]) * losses.generator_gan_loss(fake_maps, self.disc_scales)}
        fm = _weights(w.get("feature_matching", 0))
        if sum(fm):
            out["feature_matching"] = losses.feature_matching_loss(real_maps, fake_maps, self.disc_scales, fm)
        return out

    def _equivariance_terms(self, driving: paddle.Tensor, kp_driving: dict,
                            rng: np.random.Generator) -> dict[str, paddle.Tensor]:
        w = self.weights
        transform = losses.RandomTransform(driving.shape[0], rng, **self.train_params["transform_params"])
        kp_transformed = self.kp_extractor(transform.transform_frame(driving))
        out = {}
        if float(w.get("equivariance_value", 0)):
            out["equivariance_value"] = float(w["equivariance_value"]) * losses.equivariance_value(
                kp_driving, kp_transformed, transform)
        if float(w.get("equivariance_jacobian", 0)) and "jacobian" in kp_driving:
            out["equivariance_jacobian"] = float(w["equivariance_jacobian"]) * losses.equivariance_jacobian(
                kp_driving, kp_transformed, transform)
        return out


class DiscriminatorFull(nn.Layer):
    def __init__(self, discriminator: MultiScaleDiscriminator, train_params: dict):
        super().__init__()
        self.discriminator = discriminator
        self.pyramid = losses.ImagePyramid(train_params["scales"])
        self.weight = float(train_params["loss_weights"].get("discriminator_gan", 1))

    def forward(self, driving: paddle.Tensor, generated: dict) -> dict[str, paddle.Tensor]:
        kp = _detach_kp(generated["kp_driving"])
        fake = self.discriminator(self.pyramid(generated["prediction"].detach()), kp=kp)
        real = self.discriminator(self.pyramid(driving), kp=kp)
        return {"disc_gan": self.weight * losses.discriminator_gan_loss(real, fake, self.discriminator.scales)}
