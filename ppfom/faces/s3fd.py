"""``--face_detector sfd``: S3FD (Zhang et al., ICCV 2017), PaddleGAN's default detector.

The network's layers carry PaddleGAN's names so that its
``s3fd_paddle.pdparams`` loads unchanged; the weights are downloaded on first
use like the FOM weights. Six heads predict, on feature maps of stride 4 to
128, a face score and an SSD box offset per cell (one square anchor of 4
strides per cell).
"""
from __future__ import annotations

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .boxes import nms
from .detector import Face, FaceDetector, load_paddlegan_detector

S3FD_URL = "https://paddlegan.bj.bcebos.com/models/s3fd_paddle.pdparams"
BGR_MEAN = np.array([104.0, 117.0, 123.0], np.float32)
VARIANCES = (0.1, 0.2)
CANDIDATE_SCORE = 0.05  # PaddleGAN's threshold before suppression
MAX_SIDE = 960  # larger photos are shrunk for detection (VGG16 at full resolution is slow)

_VGG = [("conv1_1", 3, 64), ("conv1_2", 64, 64), ("conv2_1", 64, 128), ("conv2_2", 128, 128),
        ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
        ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
        ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512)]
_HEADS = [("conv3_3_norm", 256, 4), ("conv4_3_norm", 512, 2), ("conv5_3_norm", 512, 2),
          ("fc7", 1024, 2), ("conv6_2", 512, 2), ("conv7_2", 256, 2)]


class L2Norm(nn.Layer):
    """Per-pixel L2 normalisation across channels with a learnt per-channel scale."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = self.create_parameter([channels], default_initializer=nn.initializer.Constant(scale))

    def forward(self, x):
        norm = paddle.sqrt((x * x).sum(axis=1, keepdim=True)) + 1e-10
        return x / norm * self.weight.reshape([1, -1, 1, 1])


class S3FD(nn.Layer):
    def __init__(self):
        super().__init__()
        for name, cin, cout in _VGG:
            setattr(self, name, nn.Conv2D(cin, cout, 3, padding=1))
        self.fc6 = nn.Conv2D(512, 1024, 3, padding=3)
        self.fc7 = nn.Conv2D(1024, 1024, 1)
        self.conv6_1 = nn.Conv2D(1024, 256, 1)
        self.conv6_2 = nn.Conv2D(256, 512, 3, stride=2, padding=1)
        self.conv7_1 = nn.Conv2D(512, 128, 1)
        self.conv7_2 = nn.Conv2D(128, 256, 3, stride=2, padding=1)
        self.conv3_3_norm = L2Norm(256, 10.0)
        self.conv4_3_norm = L2Norm(512, 8.0)
        self.conv5_3_norm = L2Norm(512, 5.0)
        for name, cin, classes in _HEADS:
            setattr(self, f"{name}_mbox_conf", nn.Conv2D(cin, classes, 3, padding=1))
            setattr(self, f"{name}_mbox_loc", nn.Conv2D(cin, 4, 3, padding=1))

    def forward(self, x) -> list[tuple[paddle.Tensor, paddle.Tensor]]:
        """BGR minus mean, NCHW -> per head (face probability (N, H, W), box offsets (N, 4, H, W))."""
        taps = {}
        for name, _, _ in _VGG:
            x = F.relu(getattr(self, name)(x))
            if name in ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"):
                taps[name] = x
                x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.fc7(F.relu(self.fc6(x))))
        taps["fc7"] = x
        x = F.relu(self.conv6_2(F.relu(self.conv6_1(x))))
        taps["conv6_2"] = x
        taps["conv7_2"] = F.relu(self.conv7_2(F.relu(self.conv7_1(x))))
        features = [self.conv3_3_norm(taps["conv3_3"]), self.conv4_3_norm(taps["conv4_3"]),
                    self.conv5_3_norm(taps["conv5_3"]), taps["fc7"], taps["conv6_2"], taps["conv7_2"]]
        out = []
        for (name, _, _), feature in zip(_HEADS, features):
            conf = getattr(self, f"{name}_mbox_conf")(feature)
            if conf.shape[1] == 4:  # max-out background: three background logits, keep the largest
                conf = paddle.concat([conf[:, :3].max(axis=1, keepdim=True), conf[:, 3:]], axis=1)
            out.append((F.softmax(conf, axis=1)[:, 1], getattr(self, f"{name}_mbox_loc")(feature)))
        return out


def decode(heads: list[tuple[np.ndarray, np.ndarray]], threshold: float = CANDIDATE_SCORE) -> np.ndarray:
    """One image's head outputs (score (H, W), offsets (4, H, W)) -> candidate boxes (K, 5): x1, y1, x2, y2, score."""
    found = []
    for level, (score, loc) in enumerate(heads):
        stride = 2 ** (level + 2)
        rows, cols = np.nonzero(score > threshold)
        if len(rows) == 0:
            continue
        anchor = np.stack([stride / 2 + cols * stride, stride / 2 + rows * stride], axis=1).astype(np.float64)
        offsets = loc[:, rows, cols].T.astype(np.float64)
        centre = anchor + offsets[:, :2] * VARIANCES[0] * stride * 4
        size = stride * 4 * np.exp(offsets[:, 2:] * VARIANCES[1])
        found.append(np.concatenate([centre - size / 2, centre + size / 2, score[rows, cols, None]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 5))


class SFDDetector(FaceDetector):
    """S3FD with PaddleGAN's post-processing: suppression at 0.3 IoU, faces above 0.5."""

    def __init__(self, weight_path: str | None = None, score_threshold: float = 0.5, nms_threshold: float = 0.3):
        self.net = load_paddlegan_detector(S3FD(), weight_path, S3FD_URL, "S3FD", "s3fd_paddle.pdparams")
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    @paddle.no_grad()
    def detect(self, image: np.ndarray) -> list[Face]:
        scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
        if scale < 1.0:
            image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
        x = (image[:, :, ::-1].astype(np.float32) - BGR_MEAN).transpose(2, 0, 1)[None]
        heads = [(s.numpy()[0], loc.numpy()[0]) for s, loc in self.net(paddle.to_tensor(np.ascontiguousarray(x)))]
        boxes = decode(heads)
        keep = [i for i in nms(boxes[:, :4], boxes[:, 4], self.nms_threshold) if boxes[i, 4] > self.score_threshold]
        return [Face(tuple(float(v) / scale for v in boxes[i, :4]), float(boxes[i, 4])) for i in keep]
