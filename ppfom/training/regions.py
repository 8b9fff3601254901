"""Eye and mouth boxes from a dataset's landmark files, to weight the pixel loss there, and the
eyes' local motion from the synthetic data's eye-frame files, for ``loss_weights.eye_jacobian``.

Not in FOM. Blinks and an opening mouth change a few percent of a frame, so an
error over the whole frame barely sees them: a model that keeps the mouth shut
loses little. ``train_params.region_weight`` k weights each pixel's error by
1 + k inside these boxes. The landmarks are the five points face detectors
report (eyes, nose tip, mouth corners), one ``(frames, 5, 2)`` array of pixel
positions per video at ``<dataroot>/landmarks/<phase>/<video name>.npy``;
``tools/make_synthetic_dataset.py`` writes them.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import PpfomError
from ..synthetic import EYE_FRAMES


class MissingLandmarks(PpfomError):
    """A set-up error (the dataset lacks landmark files), not a bad video to skip."""


def landmark_file(root: str, phase: str, video: str) -> str:
    """Where a video's landmarks are kept: a frame folder's own name, a file's name without extension."""
    name = os.path.basename(video) if os.path.isdir(video) else os.path.splitext(os.path.basename(video))[0]
    return os.path.join(root, "landmarks", phase, name + ".npy")


def load_landmarks(root: str, phase: str, video: str) -> np.ndarray:
    """The ``(frames, 5, 2)`` landmarks of one video; a clear error when they are missing."""
    path = landmark_file(root, phase, video)
    if not os.path.isfile(path):
        raise MissingLandmarks(f"model.train_params.region_weight and region_dark_weight need landmarks, and "
                               f"'{path}' does not exist: set both to 0 or add (frames, 5, 2) landmark files")
    marks = np.load(path)
    if marks.ndim != 3 or marks.shape[1:] != (5, 2):
        raise MissingLandmarks(f"landmark file '{path}' holds shape {marks.shape}, not (frames, 5, 2)")
    return marks


def region_mask(marks: np.ndarray, shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """An ``(H, W)`` uint8 mask (255 inside) of boxes around both eyes and the mouth.

    ``marks`` are one frame's five landmarks in pixels of a frame ``scale`` times
    smaller than ``shape`` (the landmark files keep the size the video was made at).
    Box sizes follow the face: a quarter of the eye distance around each eye, the
    mouth's width around its centre (an open mouth is about as tall as it is wide).
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    marks = np.asarray(marks, np.float64) * scale
    if not np.isfinite(marks).all():
        return mask
    eye_half = 0.25 * np.linalg.norm(marks[1] - marks[0]) + 1
    mouth = (marks[3] + marks[4]) / 2
    mouth_half = 0.5 * np.linalg.norm(marks[4] - marks[3]) + 1
    for centre, half in ((marks[0], eye_half), (marks[1], eye_half), (mouth, mouth_half)):
        x0, x1 = int(np.floor(centre[0] - half)), int(np.ceil(centre[0] + half)) + 1
        y0, y1 = int(np.floor(centre[1] - half)), int(np.ceil(centre[1] + half)) + 1
        mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 255
    return mask


def load_eye_frames(root: str, phase: str, video: str) -> np.ndarray:
    """The ``(frames, 2, 2)`` eye frames of one synthetic video (``synthetic.eye_frame``)."""
    path = landmark_file(root, phase, video)[:-len(".npy")] + EYE_FRAMES
    if not os.path.isfile(path):
        raise MissingLandmarks(f"model.train_params.loss_weights.eye_jacobian needs the eyes' frames, and "
                               f"'{path}' does not exist: remake the synthetic dataset "
                               "(tools/make_synthetic_dataset.py writes them) or remove eye_jacobian")
    frames = np.load(path)
    if frames.ndim != 3 or frames.shape[1:] != (2, 2):
        raise MissingLandmarks(f"eye-frame file '{path}' holds shape {frames.shape}, not (frames, 2, 2)")
    return frames


def eye_motion(frame_from: np.ndarray, frame_to: np.ndarray, mirrored: bool = False) -> np.ndarray:
    """The eyes' local map from one frame to the other, ``A_to @ inv(A_from)`` (2, 2), as the
    keypoints' relative jacobian ``J_to @ inv(J_from)`` should be; ``mirrored``: both frames were
    flipped horizontally, which conjugates it by ``diag(-1, 1)`` (the off-diagonal changes sign)."""
    motion = frame_to @ np.linalg.inv(frame_from)
    if mirrored:
        motion = motion * np.array([[1.0, -1.0], [-1.0, 1.0]])
    return motion.astype(np.float32)
