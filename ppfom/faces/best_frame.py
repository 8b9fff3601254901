"""``--find_best_frame``: the driving frame whose face is posed most like the source's.

Relative motion is measured from a reference driving frame; starting from the
frame whose face matches the source's pose best keeps the animation from
inheriting a pose the source never had. Faces are compared by their five
landmarks after removing position and size (centred, divided by the square
root of their convex hull's area), as PaddleGAN does with 68 points.

Animating "backward and forward" from frame i, as PaddleGAN does, gives every
frame t the result of animating t relative to frame i: the model only sees the
source, frame t and the reference. So the predictor primes each animator with
frame i and then streams the video once, in order; nothing is held in memory
but the reference frame itself (the video is decoded twice instead).
"""
from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from .. import frames
from ..errors import PpfomError
from .detector import FaceDetector


def normalize_landmarks(points: np.ndarray) -> np.ndarray | None:
    """Landmarks without position and scale; None when they are degenerate (collinear)."""
    points = np.asarray(points, np.float64)
    centred = points - points.mean(axis=0, keepdims=True)
    hull = cv2.convexHull(centred.astype(np.float32))
    area = float(cv2.contourArea(hull))
    if area <= 1e-9:
        return None
    return centred / np.sqrt(area)


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Squared distance between two normalised landmark sets."""
    return float(((a - b) ** 2).sum())


def face_landmarks(detector: FaceDetector, image: np.ndarray) -> np.ndarray | None:
    """Normalised landmarks of the largest face in ``image``, None if there is none."""
    faces = [f for f in detector.detect(image) if f.landmarks is not None]
    if not faces:
        return None
    return normalize_landmarks(max(faces, key=lambda f: f.area).landmarks)


def find_best_frames(detector: FaceDetector, sources: list[np.ndarray], driving: Iterable[np.ndarray],
                     size: int) -> list[tuple[int, np.ndarray]]:
    """For each source crop, (index, frame) of the best-matching driving frame.

    Driving frames are compared after resizing to the model's ``size``, the
    geometry the model sees. A source without a detectable face, or a video
    without one, falls back to frame 0.
    """
    targets = [face_landmarks(detector, s) for s in sources]
    best = [(float("inf"), 0, None) for _ in sources]
    for index, frame in enumerate(driving):
        if index == 0:
            best = [(float("inf"), 0, frame.copy()) for _ in sources]
        if not any(t is not None for t in targets):
            break
        pose = face_landmarks(detector, frames.resize(frame, (size, size)))
        if pose is None:
            continue
        for k, target in enumerate(targets):
            if target is not None and (d := pose_distance(target, pose)) < best[k][0]:
                best[k] = (d, index, frame.copy())
    return [(index, frame) for _, index, frame in best]


def frame_at(driving: Iterable[np.ndarray], index: int, label: str = "driving video") -> np.ndarray:
    """Frame ``index`` of a stream, read up to it only."""
    count = 0
    for i, frame in enumerate(driving):
        if i == index:
            return frame.copy()
        count = i + 1
    raise PpfomError(f"--best_frame {index} is past the end of the {label} ({count} frames): "
                     f"use a number below {count}")
