"""Box arithmetic shared by the detectors and the cropper: (x1, y1, x2, y2) in pixels."""
from __future__ import annotations

import numpy as np


def area(box) -> float:
    """Area of one box; degenerate boxes have none."""
    return max(0.0, float(box[2]) - float(box[0])) * max(0.0, float(box[3]) - float(box[1]))


def iou(a, b) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    inter = area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first.

    A box is dropped when it overlaps an already kept, better-scored box by more
    than ``threshold`` IoU: detectors fire on many neighbouring anchors per face.
    """
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep: list[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[j]) <= threshold for j in keep):
            keep.append(int(i))
    return keep
