"""What a face detector gives the pipeline, and how ``--face_detector`` picks one.

Every detector takes an HxWx3 uint8 RGB image and returns :class:`Face` records
in that image's pixel coordinates. The default, ``retinaface``, runs an ONNX
model shipped inside ppfom, so detection works offline on a fresh install;
``sfd`` (S3FD) and ``blazeface`` are PaddleGAN's networks and need its published weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PpfomError

DETECTORS = ("retinaface", "sfd", "blazeface")
DEFAULT_DETECTOR = "retinaface"


@dataclass(frozen=True, eq=False)  # identity: landmarks are an array, which == cannot compare
class Face:
    """One detected face: ``box`` is (x1, y1, x2, y2) in pixels, ``landmarks`` is
    (5, 2) x/y of the eyes, nose tip and mouth corners, or None when the detector
    has no landmarks (S3FD)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


class FaceDetector:
    """Interface: ``detect(image) -> list[Face]``, best first."""

    has_landmarks = False

    def detect(self, image: np.ndarray) -> list[Face]:
        raise NotImplementedError


def create_detector(name: str | None = None, weight_path: str | None = None) -> FaceDetector:
    """The detector called ``name`` (``--face_detector``); ``weight_path`` replaces its
    default weights. Unknown names and missing weights fail here, before any animation."""
    name = (name or DEFAULT_DETECTOR).lower()
    if name == "retinaface":
        from .retinaface import RetinaFaceDetector
        return RetinaFaceDetector(weight_path)
    if name == "sfd":
        from .s3fd import SFDDetector
        return SFDDetector(weight_path)
    if name == "blazeface":
        from .blazeface import BlazeFaceDetector
        return BlazeFaceDetector(weight_path)
    raise PpfomError(f"--face_detector {name} is unknown: use one of {', '.join(DETECTORS)}")


WEIGHTS_OPTION = "--face_detector_weights"


def load_paddlegan_detector(net, weight_path: str | None, url: str, name: str, filename: str):
    """``net`` with PaddleGAN's published weights: the given file, else downloaded once; eval mode."""
    from ..checkpoint import download, load_state, read_state_dict

    path = weight_path or download(url, hint=f"download it yourself and pass {WEIGHTS_OPTION}, "
                                             "or use the built-in --face_detector retinaface")
    load_state(net, read_state_dict(path, f"face detector ({name})", WEIGHTS_OPTION), f"{name} face detector",
               source=path, hint=f"pass PaddleGAN's {filename} with {WEIGHTS_OPTION}")
    net.eval()
    return net
