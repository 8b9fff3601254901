"""Transfer of driving motion onto the source's keypoints (relative mode, adapt scale).

In relative mode the source keeps its own face shape and only the driving
video's *change* since its first frame is applied; ``adapt_movement_scale``
rescales that change by the ratio of the two faces' keypoint-hull sizes.
"""
from __future__ import annotations

import numpy as np
import paddle
from scipy.spatial import ConvexHull, QhullError

from .modules.geometry import inverse_2x2


def movement_scale(kp_source: dict, kp_driving_initial: dict) -> float:
    """sqrt(area ratio) of the keypoints' convex hulls, first item of each batch; 1 when either set
    of keypoints has no area (collinear, as on a blank image), where the ratio means nothing."""
    source_area = _hull_area(kp_source["value"][0])
    driving_area = _hull_area(kp_driving_initial["value"][0])
    if source_area <= 0 or driving_area <= 0:
        return 1.0
    return float(np.sqrt(source_area) / np.sqrt(driving_area))


def _hull_area(points) -> float:
    try:
        return float(ConvexHull(np.asarray(points.numpy(), np.float64)).volume)
    except QhullError:
        return 0.0


def normalize_kp(kp_source: dict, kp_driving: dict, kp_driving_initial: dict,
                 use_relative_movement: bool = False, use_relative_jacobian: bool = False,
                 adapt_movement_scale: bool | float = False) -> dict:
    """Driving keypoints to feed the generator, in PaddleGAN's conventions.

    ``adapt_movement_scale`` may also be a precomputed :func:`movement_scale`,
    so a video computes the hulls once rather than per batch.
    """
    if adapt_movement_scale is True:
        scale = movement_scale(kp_source, kp_driving_initial)
    elif adapt_movement_scale is False:
        scale = 1.0
    else:
        scale = float(adapt_movement_scale)
    kp_new = dict(kp_driving)
    if use_relative_movement:
        diff = kp_driving["value"] - kp_driving_initial["value"]
        kp_new["value"] = diff * scale + kp_source["value"]
        if use_relative_jacobian:
            change = paddle.matmul(kp_driving["jacobian"], inverse_2x2(kp_driving_initial["jacobian"]))
            kp_new["jacobian"] = paddle.matmul(change, kp_source["jacobian"])
    return kp_new
