"""``--face_detector blazeface``: BlazeFace (Bazarevsky et al., 2019), MediaPipe's front-camera model.

Its layers carry PaddleGAN's names so that PaddleGAN's ``blazeface.pdparams``
loads unchanged (downloaded on first use). The network sees 128x128 pixels:
PaddleGAN crops the photo's centre square to get there, which loses every face
outside it; here the whole photo is shrunk and padded instead. The model was
made for faces that fill much of a selfie, so it finds small faces in group
photos poorly: ``retinaface`` (the default) is the better detector for those.
"""
from __future__ import annotations

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .boxes import iou
from .detector import Face, FaceDetector, load_paddlegan_detector

BLAZEFACE_URL = "https://paddlegan.bj.bcebos.com/models/blazeface.pdparams"
SIZE = 128
_BACKBONE1 = [(24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1),
              (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1)]
_BACKBONE2 = [(88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1)]


class BlazeBlock(nn.Layer):
    """Depthwise 5x5-equivalent residual block; stride 2 halves the map, extra channels start at zero."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.extra = out_channels - in_channels
        self.convs = nn.Sequential(
            nn.Conv2D(in_channels, in_channels, 3, stride=stride, padding=0 if stride == 2 else 1,
                      groups=in_channels),
            nn.Conv2D(in_channels, out_channels, 1))

    def forward(self, x):
        if self.stride == 2:
            h = F.pad(x, [0, 2, 0, 2])
            x = F.max_pool2d(x, 2, 2)
        else:
            h = x
        if self.extra > 0:
            n, _, height, width = x.shape
            x = paddle.concat([x, paddle.zeros([n, self.extra, height, width], x.dtype)], axis=1)
        return F.relu(self.convs(h) + x)


class BlazeFace(nn.Layer):
    """128x128 RGB in [-1, 1] -> (N, 896, 16) box and keypoint offsets, (N, 896) face logits."""

    def __init__(self):
        super().__init__()
        self.backbone1 = nn.Sequential(nn.Conv2D(3, 24, 5, stride=2), nn.ReLU(),
                                       *[BlazeBlock(i, o, s) for i, o, s in _BACKBONE1])
        self.backbone2 = nn.Sequential(*[BlazeBlock(i, o, s) for i, o, s in _BACKBONE2])
        self.classifier_8 = nn.Conv2D(88, 2, 1)
        self.classifier_16 = nn.Conv2D(96, 6, 1)
        self.regressor_8 = nn.Conv2D(88, 32, 1)
        self.regressor_16 = nn.Conv2D(96, 96, 1)

    def forward(self, x):
        x = self.backbone1(F.pad(x, [1, 2, 1, 2]))
        h = self.backbone2(x)
        n = x.shape[0]

        def flat(t, width):
            return t.transpose([0, 2, 3, 1]).reshape([n, -1, width])

        scores = paddle.concat([flat(self.classifier_8(x), 1), flat(self.classifier_16(h), 1)], axis=1)
        boxes = paddle.concat([flat(self.regressor_8(x), 16), flat(self.regressor_16(h), 16)], axis=1)
        return boxes, scores[:, :, 0]


def anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1]: 2 per cell of the 16x16 map, then 6 per cell of the 8x8 map
    (MediaPipe's SSD anchors for the front model; all of size 1)."""
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def decode(raw: np.ndarray, logits: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """One image's outputs -> boxes (K, 4) x1, y1, x2, y2 in [0, 1] of the 128 input, and scores (K,)."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
    keep = scores >= threshold
    centre = raw[keep, :2] / SIZE + anchors()[keep]
    size = raw[keep, 2:4] / SIZE
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1), scores[keep]


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[tuple[np.ndarray, float]]:
    """BlazeFace's suppression: each cluster of overlapping boxes becomes their score-weighted mean."""
    remaining = list(np.argsort(-scores, kind="stable"))
    merged = []
    while remaining:
        first = boxes[remaining[0]]
        cluster = [i for i in remaining if iou(first, boxes[i]) > threshold] or [remaining[0]]
        remaining = [i for i in remaining if i not in cluster]
        weights = scores[cluster]
        merged.append(((boxes[cluster] * weights[:, None]).sum(0) / weights.sum(), float(weights.mean())))
    return merged


class BlazeFaceDetector(FaceDetector):
    def __init__(self, weight_path: str | None = None, score_threshold: float = 0.5, nms_threshold: float = 0.3):
        self.net = load_paddlegan_detector(BlazeFace(), weight_path, BLAZEFACE_URL, "BlazeFace", "blazeface.pdparams")
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    @paddle.no_grad()
    def detect(self, image: np.ndarray) -> list[Face]:
        side = max(image.shape[:2])
        scale = SIZE / side
        small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
        square = np.zeros((SIZE, SIZE, 3), np.uint8)
        square[:small.shape[0], :small.shape[1]] = small
        x = paddle.to_tensor(square.transpose(2, 0, 1)[None].astype(np.float32) / 127.5 - 1.0)
        raw, logits = self.net(x)
        boxes, scores = decode(raw.numpy()[0], logits.numpy()[0], self.score_threshold)
        faces = weighted_nms(boxes, scores, self.nms_threshold)
        return [Face(tuple(float(v) * side for v in box), score) for box, score in faces]
