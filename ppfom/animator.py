"""Animation of one source image by a stream of driving frames.

Everything that depends only on the source (its keypoints, the generator's
encoding, its downsampled copy for the motion network) is computed once in
:meth:`Animator.set_source`; each driving batch then costs one keypoint pass
and the generator's per-frame part.
"""
from __future__ import annotations

import warnings

import numpy as np
import paddle

from .errors import PpfomWarning
from .exported import (  # noqa: F401 - re-exported
    BACKENDS,
    ExportedAnimator,
    open_exported,
    resolve_backend,
    resolve_precision,
)
from .exported.cache import cached_export
from .modules import KPDetector, OcclusionAwareGenerator
from .motion_transfer import movement_scale, normalize_kp
from .signals import signals_deferred


class Animator:
    """Stateful per video: the first driving frame seen is the reference of relative motion.

    The interface every backend keeps (dygraph here; exported models elsewhere):
    ``set_source(NCHW float32)``, ``reset_driving()``, ``keypoints(NCHW)``,
    ``__call__(NCHW, kp_driving=None) -> NCHW``,
    numpy arrays in [0, 1] in and out.
    """

    def __init__(self, kp_detector: KPDetector, generator: OcclusionAwareGenerator,
                 relative: bool = True, adapt_scale: bool = True):
        self.kp_detector = kp_detector
        self.generator = generator
        self.relative = relative
        self.adapt_scale = adapt_scale
        self._source = None

    @paddle.no_grad()
    def set_source(self, source: np.ndarray) -> None:
        """``source`` is (1, 3, H, W) float32 in [0, 1]; resets the driving reference."""
        source = paddle.to_tensor(source)
        motion = self.generator.dense_motion_network
        self._source = {
            "image": source,
            "kp": self.kp_detector(source),
            "features": self.generator.encode(source),
            "down": motion.downsample(source) if motion is not None else None,
        }
        self._initial = None
        self._scale = 1.0

    def reset_driving(self) -> None:
        """Make the next batch's first frame the new reference (e.g. when playing backwards)."""
        self._initial = None

    @paddle.no_grad()
    def keypoints(self, driving: np.ndarray) -> dict[str, paddle.Tensor]:
        """Keypoints of driving frames, to share between animators of the same video (several faces)."""
        return self.kp_detector(paddle.to_tensor(driving))

    @paddle.no_grad()
    def __call__(self, driving: np.ndarray, kp_driving: dict | None = None) -> np.ndarray:
        """Driving frames (N, 3, H, W) -> predicted frames (N, 3, H, W), float32 in [0, 1].

        ``kp_driving``: :meth:`keypoints` of ``driving``, when another animator already found them.
        """
        if self._source is None:
            raise RuntimeError("set_source() must be called before animating")
        src = self._source
        if kp_driving is None:
            kp_driving = self.keypoints(driving)
        if self._initial is None:
            self._initial = {k: v[:1] for k, v in kp_driving.items()}
            if self.adapt_scale and self.relative:
                self._scale = movement_scale(src["kp"], self._initial)
        kp_norm = normalize_kp(src["kp"], kp_driving, self._initial,
                               use_relative_movement=self.relative,
                               use_relative_jacobian=self.relative,
                               adapt_movement_scale=self._scale)
        out = self.generator.animate(src["image"], src["features"], kp_norm, src["kp"],
                                     source_down=src["down"], full_output=False)
        return out["prediction"].numpy()


def create_animator(backend: str, kp_detector: KPDetector, generator: OcclusionAwareGenerator,
                    relative: bool, adapt_scale: bool, *, cfg: dict | None = None,
                    image_size: tuple[int, int] | None = None, batch_size: int = 1,
                    precision: str = "auto", device: str = "cpu",
                    weight_file: str | None = None) -> Animator | ExportedAnimator:
    """The animator of a backend name (``--backend``); dygraph runs the Paddle layers directly.

    The other backends export the loaded networks on first use into a cache
    keyed by their weights and config (``ppfom.exported.cache``), only the graphs
    that backend reads; ``image_size`` and ``batch_size`` fix the exported shapes.
    ``weight_file`` (where the networks came from) lets the next start skip loading them.
    """
    chosen = backend == "auto"
    backend = resolve_backend(backend, device, precision)
    if backend == "dygraph":
        resolve_precision(backend, precision)  # bf16 is refused here
        return Animator(kp_detector, generator, relative, adapt_scale)
    if image_size is None:
        raise ValueError(f"backend {backend} needs image_size to export the networks")
    resolve_precision(backend, precision)  # before minutes of export
    try:
        with signals_deferred():
            folder = cached_export(kp_detector, generator, cfg or {}, image_size, batch_size, backend=backend,
                                       weight_file=weight_file)
    except Exception as err:
        if not chosen:
            raise
        # Paddle 3.3's tracer fails now and then on a first export; the run need not fail with it.
        warnings.warn(f"could not export the networks for {backend} ({type(err).__name__}); running them "
                      "in dygraph, which is slower", PpfomWarning, stacklevel=2)
        return Animator(kp_detector, generator, relative, adapt_scale)
    return open_exported(folder, backend, relative, adapt_scale, precision=precision, device=device)
