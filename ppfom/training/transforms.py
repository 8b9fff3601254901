"""Augmentations applied identically to both frames of a training pair.

The source and driving frames must stay consistent (same flip, same colour
shift), otherwise the model would learn to explain augmentation as motion.
Names and arguments are PaddleGAN's ``dataset.train.transforms`` entries.
Frames are HxWx3 uint8 RGB; every random choice comes from the ``rng``
passed in, so a sample is reproducible from its seed. Masks (HxW uint8, such
as the eye and mouth boxes of :mod:`.regions`) follow the geometric transforms
and skip the photometric ones.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import PpfomError


class PairedRandomHorizontalFlip:
    geometric = True

    def __init__(self, prob: float = 0.5, keys=None):
        self.prob = float(prob)

    def __call__(self, frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        if rng.random() < self.prob:
            return [np.ascontiguousarray(f[:, ::-1]) for f in frames]
        return frames


class PairedColorJitter:
    """Brightness, contrast, saturation and hue factors drawn once for all frames."""

    geometric = False

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0, keys=None):
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)

    def __call__(self, frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        b = rng.uniform(1 - self.brightness, 1 + self.brightness)
        c = rng.uniform(1 - self.contrast, 1 + self.contrast)
        s = rng.uniform(1 - self.saturation, 1 + self.saturation)
        h = rng.uniform(-self.hue, self.hue)
        return [self._jitter(f, b, c, s, h) for f in frames]

    @staticmethod
    def _jitter(frame: np.ndarray, b: float, c: float, s: float, h: float) -> np.ndarray:
        out = frame.astype(np.float32) * b
        grey = out.mean()
        out = np.clip((out - grey) * c + grey, 0, 255)
        hsv = cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + h * 180.0) % 180.0
        hsv[..., 1] = np.clip(hsv[..., 1] * s, 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


TRANSFORMS = {cls.__name__: cls for cls in (PairedRandomHorizontalFlip, PairedColorJitter)}


class Compose:
    """A list of transforms read from the config's ``transforms`` entries."""

    def __init__(self, specs: Sequence[dict] | None):
        self.steps = []
        for spec in specs or []:
            spec = dict(spec)
            name = spec.pop("name", None)
            if name not in TRANSFORMS:
                raise PpfomError(f"dataset transform '{name}' is not known: use one of {', '.join(TRANSFORMS)}")
            self.steps.append(TRANSFORMS[name](**spec))

    def __call__(self, frames: list[np.ndarray], rng: np.random.Generator,
                 masks: Sequence[np.ndarray] = ()) -> list[np.ndarray]:
        """The frames transformed, followed by the masks moved as the frames were (if any)."""
        frames, masks, n = list(frames), list(masks), len(frames)
        for step in self.steps:
            if step.geometric and masks:
                moved = step(frames + masks, rng)
                frames, masks = moved[:n], moved[n:]
            else:
                frames = step(frames, rng)
        return frames + masks
