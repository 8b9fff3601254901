"""From detected faces to the source regions the model animates.

PaddleGAN's recipe: around each face box, a region 2*m high and 1.6*m wide
(m = the box's longer side), centred on the box and clipped to the image; the
region is resized to the model's square input. Regions overlapping an already
chosen, larger one by more than 0.5 IoU are the same person twice. PaddleGAN
means to keep the largest face but its sort is a no-op; here faces are ordered
by the size of their detected box, so "one person" is the largest face.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import frames
from .boxes import iou
from .detector import Face

DUPLICATE_IOU = 0.5


@dataclass(frozen=True)
class Crop:
    """A source region to animate: integer (x1, y1, x2, y2), x2/y2 exclusive, and the face in it."""

    box: tuple[int, int, int, int]
    face: Face | None = None

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def expand(face_box, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """PaddleGAN's expansion of a face box into the region the model sees (clipped to the image)."""
    h, w = image_shape[:2]
    x1, y1, x2, y2 = (int(v) for v in face_box)
    bw, bh = x2 - x1, y2 - y1
    cx, cy = x1 + bw // 2, y1 + bh // 2
    margin = max(bw, bh)
    half_w = int(0.8 * margin)
    box = (max(0, cx - half_w), max(0, cy - margin), min(w, cx + half_w), min(h, cy + margin))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise ValueError(f"face box {face_box} lies outside the {w}x{h} image")
    return box


def centre_square(image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The largest centred square: what is animated when no face is found."""
    h, w = image_shape[:2]
    side = min(h, w)
    x1, y1 = (w - side) // 2, (h - side) // 2
    return (x1, y1, x1 + side, y1 + side)


def choose_crops(faces: list[Face], image_shape: tuple[int, ...], multi_person: bool) -> list[Crop]:
    """Crops to animate, largest face first: all distinct people, or only the largest.

    An empty list means no face was found (the caller decides what to do).
    """
    ordered = sorted(faces, key=lambda f: f.area, reverse=True)
    crops: list[Crop] = []
    for face in ordered:
        try:
            box = expand(face.box, image_shape)
        except ValueError:
            continue
        if any(iou(box, kept.box) > DUPLICATE_IOU for kept in crops):
            continue
        crops.append(Crop(box, face))
        if not multi_person:
            break
    return crops


def cut(image: np.ndarray, crop: Crop, size: int) -> np.ndarray:
    """The crop's pixels resized to the model's ``size`` x ``size`` input (HxWx3 uint8)."""
    x1, y1, x2, y2 = crop.box
    return frames.resize(image[y1:y2, x1:x2], (size, size))

