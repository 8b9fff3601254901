"""The Animator interface over exported graphs (Paddle Inference or onnxruntime).

Same split as :class:`ppfom.animator.Animator`: keypoints and encoder once per
source, then keypoints and the per-frame generator per driving batch. The
graphs have a fixed batch; a shorter last batch is padded and trimmed.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import paddle

from ..motion_transfer import movement_scale, normalize_kp
from .graphs import ExportSpec


class Session(Protocol):
    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]: ...


class ExportedAnimator:
    """``set_source`` / ``reset_driving`` / ``__call__`` on numpy NCHW float32, like the dygraph one."""

    def __init__(self, sessions: dict[str, Session], spec: ExportSpec, relative: bool = True,
                 adapt_scale: bool = True):
        self.sessions = sessions
        self.spec = spec
        self.relative = relative
        self.adapt_scale = adapt_scale
        self._source = None

    def _keypoints(self, images: np.ndarray) -> dict[str, np.ndarray]:
        n = images.shape[0]
        outputs = self.sessions["kp_detector"].run([_pad(images, self.spec.batch_size)])
        names = ("value", "jacobian")[:len(outputs)]
        return {k: v[:n] for k, v in zip(names, outputs, strict=True)}

    def set_source(self, source: np.ndarray) -> None:
        """``source`` is (1, 3, H, W) float32 in [0, 1]; resets the driving reference."""
        features, down = self.sessions["source_encoder"].run([source])
        self._source = {"kp": self._keypoints(source), "features": features, "down": down}
        self._initial = None
        self._scale = 1.0

    def reset_driving(self) -> None:
        self._initial = None

    def keypoints(self, driving: np.ndarray) -> dict[str, np.ndarray]:
        """Keypoints of driving frames, to share between animators of the same video (several faces)."""
        b = self.spec.batch_size
        parts = [self._keypoints(driving[i:i + b]) for i in range(0, len(driving), b)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def __call__(self, driving: np.ndarray, kp_driving: dict | None = None) -> np.ndarray:
        """Driving frames (N, 3, H, W) -> predicted frames (N, 3, H, W), float32 in [0, 1].

        ``kp_driving``: :meth:`keypoints` of ``driving``, when another animator already found them.
        """
        if self._source is None:
            raise RuntimeError("set_source() must be called before animating")
        b = self.spec.batch_size
        kp = kp_driving if kp_driving is not None else self.keypoints(driving)
        return np.concatenate([self._animate(driving[i:i + b], {k: v[i:i + b] for k, v in kp.items()})
                               for i in range(0, len(driving), b)])

    def _animate(self, driving: np.ndarray, kp_driving: dict[str, np.ndarray]) -> np.ndarray:
        kp_source = _tensors(self._source["kp"])
        kp_driving = _tensors(kp_driving)
        if self._initial is None:
            self._initial = {k: v[:1] for k, v in kp_driving.items()}
            if self.adapt_scale and self.relative:
                self._scale = movement_scale(kp_source, self._initial)
        kp_norm = normalize_kp(kp_source, kp_driving, self._initial, use_relative_movement=self.relative,
                               use_relative_jacobian=self.relative, adapt_movement_scale=self._scale)
        inputs = [self._source["features"], self._source["down"], self._source["kp"]["value"],
                  _pad(kp_norm["value"].numpy(), self.spec.batch_size)]
        if self.spec.jacobian:
            inputs += [self._source["kp"]["jacobian"], _pad(kp_norm["jacobian"].numpy(), self.spec.batch_size)]
        return self.sessions["generator"].run(inputs)[0][:len(driving)]


def _tensors(kp: dict[str, np.ndarray]) -> dict[str, paddle.Tensor]:
    return {k: paddle.to_tensor(v) for k, v in kp.items()}


def _pad(array: np.ndarray, batch: int) -> np.ndarray:
    """Repeat the last item up to the graph's fixed batch size."""
    if len(array) == batch:
        return array
    return np.concatenate([array, np.repeat(array[-1:], batch - len(array), axis=0)])
