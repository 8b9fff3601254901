"""One live animation: a photo, a model, a reference pose; a camera frame in, an animated frame out.

Everything about the photo (its face crop, keypoints and encoding) is computed
once in :meth:`LiveSession.set_photo`. The reference pose is the driving frame
relative motion is measured from: the first frame after the photo, the model or
the relative setting changes, or after :meth:`set_reference` ("set the reference
pose now"). The output is the animated face crop (the model's square), not the
photo pasted back: pasting costs time a live stream does not have.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import frames
from ..errors import PpfomError
from ..faces.crop import Crop, centre_square, choose_crops, cut
from ..faces.detector import FaceDetector
from .follow import FaceFollower
from .models import LoadedModel

MIN_PHOTO_SIDE = 32


class LiveSession:
    """Not thread-safe: one worker (``runner.LiveRunner``) calls it, controls included."""

    def __init__(self, model: LoadedModel, relative: bool = True, adapt_scale: bool = True,
                 detector: FaceDetector | None = None, detect_every: int = 5):
        self.model = model
        self.relative = relative
        self.adapt_scale = adapt_scale
        self.detector = detector
        self.follower = FaceFollower(detector, detect_every)
        self.animator = model.animator(relative, adapt_scale)
        self.photo: np.ndarray | None = None
        self.face: np.ndarray | None = None  # the photo's crop at the model's size
        self.seconds: dict[str, float] = {}  # the last frame's stages, for the page's timing line

    def set_photo(self, photo: np.ndarray) -> None:
        """``photo`` HxWx3 RGB uint8: its largest face (or centre square) becomes the source."""
        if photo.ndim != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < MIN_PHOTO_SIDE:
            raise PpfomError(f"the photo is {photo.shape[1]}x{photo.shape[0]}: use an RGB photo at least "
                             f"{MIN_PHOTO_SIDE} pixels on each side")
        self.photo = photo
        self.face = cut(photo, self._photo_crop(photo), self.model.image_size)
        self.animator.set_source(frames.to_nchw(self.face))

    def _photo_crop(self, photo: np.ndarray) -> Crop:
        faces = self.detector.detect(photo) if self.detector is not None else []
        crops = choose_crops(faces, photo.shape, multi_person=False)
        return crops[0] if crops else Crop(centre_square(photo.shape))

    def set_model(self, model: LoadedModel) -> None:
        """Another model: a new animator on the same photo, and a new reference pose."""
        self.model = model
        self.animator = model.animator(self.relative, self.adapt_scale)
        if self.photo is not None:
            self.set_photo(self.photo)

    def set_relative(self, relative: bool) -> None:
        """Relative motion (the photo keeps its face shape) or absolute (the driving keypoints as they are)."""
        self.relative = self.animator.relative = bool(relative)
        self.set_reference()

    def set_reference(self) -> None:
        """The next driving frame becomes the reference pose of relative motion."""
        self.animator.reset_driving()

    def animate(self, frame: np.ndarray) -> np.ndarray:
        """A camera frame (HxWx3 RGB uint8) -> the animated photo (S x S x 3 uint8)."""
        if self.face is None:
            raise PpfomError("choose a photo first")
        start = time.perf_counter()
        x1, y1, x2, y2 = self.follower.box(frame)
        size = (self.model.image_size,) * 2
        driving = frames.to_nchw(frames.resize(frame[y1:y2, x1:x2], size))
        crop_done = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a bf16 check or similar must not print per frame
            out = frames.to_uint8(self.animator(driving))[0]
        self.seconds = {"crop": crop_done - start, "networks": time.perf_counter() - crop_done}
        return out
