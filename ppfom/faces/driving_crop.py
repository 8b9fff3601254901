"""``--crop_driving``: read the driving video through one square box around its face.

:func:`choose_driving_box` makes the pass of :mod:`ppfom.faces.track` over the
video and says, in one line each, what it decided: no face (whole frames), a
face that leaves the frame or a shot change (the box is kept), or a face that
already fills the frame (read as it is). The predictor and
``tools/crop_video.py`` then read the video through ``reader.view(crop=box)``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from ..errors import PpfomError, PpfomWarning
from ..video import VideoReader
from .detector import FaceDetector, create_detector
from .track import DETECT_SIDE, FACE_SHARE, FaceTrack, detect_every, fills_frame, follow, square_box

MODES = ("auto", "off")
MIN_GAP_SAMPLES = 2  # a single missed detection is the detector blinking, not the face leaving


@dataclass(frozen=True)
class DrivingBox:
    """The decision: ``box`` (x1, y1, x2, y2 in the file's frames) or None for whole frames."""

    box: tuple[int, int, int, int] | None
    face: tuple[float, float, float, float] | None  # union of the followed face's boxes
    reason: str


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise PpfomError(f"--crop_driving {mode} is not one of {', '.join(MODES)}")
    return mode


def choose_driving_box(reader: VideoReader, detector: FaceDetector | None = None,
                       mode: str = "auto", label: str = "driving video") -> DrivingBox:
    """Follow the face of ``reader``'s video (one decode) and choose the box to read it through."""
    if check_mode(mode) == "off":
        return DrivingBox(None, None, "--crop_driving off")
    detector = detector or create_detector("retinaface")
    width, height = reader.frame_size
    scale = max(1.0, max(width, height) / DETECT_SIDE)
    small = reader.view(size=(max(2, round(width / scale)), max(2, round(height / scale))))
    found = follow(small, detector, detect_every(reader.fps), scale=scale)
    if found.track is None:
        warnings.warn(f"no face found in the {label}: animating with its whole frames "
                      "(crop it around the face for good results)", PpfomWarning, stacklevel=2)
        return DrivingBox(None, None, "no face")
    _warn_gaps(found, label)
    face = found.track.union()
    box = square_box(face, (width, height), min_side=FACE_SHARE * found.track.face_side)
    if fills_frame(box, (width, height)):
        return DrivingBox(None, face, "the face fills the frame")
    return DrivingBox(box, face, "cropped around the face")


def _warn_gaps(found: FaceTrack, label: str) -> None:
    runs = _runs(found.unseen(), found.every)
    runs = [(a, b) for a, b, count in runs if count >= MIN_GAP_SAMPLES]
    if runs:
        where = ", ".join(f"{a}-{b}" for a, b in runs[:3]) + (", ..." if len(runs) > 3 else "")
        warnings.warn(f"the face of the {label} is not seen in frames {where} (it left the frame or the "
                      "shot changed): keeping one crop box for the whole video", PpfomWarning, stacklevel=3)


def _runs(indices: list[int], every: int) -> list[tuple[int, int, int]]:
    """Consecutive sampled indices grouped as (first, last, count)."""
    runs: list[tuple[int, int, int]] = []
    for i in indices:
        if runs and i - runs[-1][1] <= every:
            first, _, count = runs[-1]
            runs[-1] = (first, i, count + 1)
        else:
            runs.append((i, i, 1))
    return runs


def describe(choice: DrivingBox, frame_size: tuple[int, int], label: str = "driving video") -> str:
    """One line for the user: what part of the video the animation reads."""
    width, height = frame_size
    if choice.box is None:
        return f"{label}: whole {width}x{height} frames ({choice.reason})"
    x1, y1, x2, y2 = choice.box
    return (f"{label}: cropped to the face, box x={x1} y={y1} {x2 - x1}x{y2 - y1} of the {width}x{height} "
            "frames (--crop_driving off reads whole frames)")
