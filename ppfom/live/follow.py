"""Which square of a camera frame the model sees.

FOM wants a square clip with the face filling about half of it. A webcam frame
is wide and the head moves, so the face is looked for every ``every`` frames
(RetinaFace, on a frame shrunk to at most 320 pixels: a few milliseconds) and the
square around it (``faces.track.square_box``, the driving video's framing) is
smoothed, so that detector jitter does not read as head motion. Between
detections the last square is kept. Until a face has been seen, and when no
detector is given, the centre square is used.
"""
from __future__ import annotations

import numpy as np

from ..faces.crop import centre_square
from ..faces.detector import FaceDetector
from ..faces.track import FACE_SHARE, square_box

DETECT_SIDE = 320
SMOOTHING = 0.7  # share of the previous square kept at each detection


class FaceFollower:
    """``box(frame)`` -> (x1, y1, x2, y2): a square of the frame, following the largest face."""

    def __init__(self, detector: FaceDetector | None, every: int = 5, smoothing: float = SMOOTHING):
        self.detector = detector
        self.every = max(1, int(every))
        self.smoothing = smoothing
        self._count = 0
        self._square: np.ndarray | None = None  # centre x, centre y, side (floats)
        self._size: tuple[int, int] | None = None

    def reset(self) -> None:
        self._count, self._square = 0, None

    def box(self, frame: np.ndarray) -> tuple[int, int, int, int]:
        height, width = frame.shape[:2]
        if self._size != (width, height):  # a new camera or resolution: start over
            self.reset()
            self._size = (width, height)
        if self.detector is not None and self._count % self.every == 0:
            self._update(frame)
        self._count += 1
        if self._square is None:
            return centre_square(frame.shape)
        return _fit(self._square, width, height)

    def _update(self, frame: np.ndarray) -> None:
        small, scale = _shrunk_view(frame)
        faces = self.detector.detect(small)
        if not faces:
            return
        face = max(faces, key=lambda f: f.area)
        x1, y1, x2, y2 = (v / scale for v in face.box)
        box = square_box((x1, y1, x2, y2), (frame.shape[1], frame.shape[0]),
                         min_side=FACE_SHARE * max(x2 - x1, y2 - y1))
        found = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0]], np.float64)
        if self._square is None:
            self._square = found
        else:
            self._square = self.smoothing * self._square + (1 - self.smoothing) * found


def _shrunk_view(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame at most DETECT_SIDE pixels long, and its scale (shrunk over full)."""
    import cv2

    scale = min(1.0, DETECT_SIDE / max(frame.shape[:2]))
    if scale == 1.0:
        return frame, 1.0
    size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), scale


def _fit(square: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The smoothed square as integer pixels, moved (not cut) inside the frame."""
    cx, cy, side = (float(v) for v in square)
    side = round(min(side, width, height))
    left = round(min(max(cx - side / 2, 0), width - side))
    top = round(min(max(cy - side / 2, 0), height - side))
    return left, top, left + side, top + side
