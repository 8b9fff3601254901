"""``--face_enhancement``: GPEN-512 restores detail in the animated face crops.

As in PaddleGAN, each animated crop is resized to 512, restored, and blended
back over itself through a soft-edged square so the crop's border stays the
animation's (GPEN invents texture near its edges). The weights are
PaddleGAN's ``GPEN-512.pdparams``, downloaded once like the FOM weights.
"""
from __future__ import annotations

import cv2
import numpy as np
import paddle

from .. import frames
from ..checkpoint import download, load_state, read_state_dict
from .gpen import GPEN, GPEN_512

GPEN_URL = "https://paddlegan.bj.bcebos.com/models/GPEN-512.pdparams"
OPTION = "--face_enhancement_weights"


def blend_mask(size: int) -> np.ndarray:
    """(size, size, 1) weights of the restored face: PaddleGAN's square inset by 26/512 of the side,
    blurred twice, at any size."""
    mask = np.zeros((size, size), np.float32)
    inset = round(26 * size / 512)
    cv2.rectangle(mask, (inset, inset), (size - 1 - inset, size - 1 - inset), 1.0, -1, cv2.LINE_AA)
    kernel = max(3, round(101 * size / 512) | 1)
    sigma = 11 * size / 512
    for _ in range(2):
        mask = cv2.GaussianBlur(mask, (kernel, kernel), sigma)
    return mask[:, :, None]


class FaceEnhancer:
    """Animated crops (N, S, S, 3) uint8 -> enhanced crops (N, size, size, 3) uint8, ``batch_size`` at a time."""

    def __init__(self, weight_path: str | None = None, batch_size: int = 1, config: dict | None = None):
        config = dict(config or GPEN_512)
        path = weight_path or download(GPEN_URL, hint=f"download it yourself and pass {OPTION}, "
                                                      "or drop --face_enhancement")
        self.net = GPEN(**config)
        load_state(self.net, read_state_dict(path, "face enhancement (GPEN)", OPTION), "GPEN face enhancer",
                   source=path, hint=f"pass PaddleGAN's GPEN-512.pdparams with {OPTION}")
        self.net.eval()
        self.size = self.net.size
        self.batch_size = max(1, int(batch_size))
        self.mask = blend_mask(self.size)

    @paddle.no_grad()
    def __call__(self, faces: np.ndarray) -> np.ndarray:
        out = [self._enhance(faces[i:i + self.batch_size]) for i in range(0, len(faces), self.batch_size)]
        return np.concatenate(out)

    def _enhance(self, faces: np.ndarray) -> np.ndarray:
        size = (self.size, self.size)
        resized = np.stack([frames.resize(f, size) for f in faces])
        x = paddle.to_tensor(frames.to_nchw(resized) * 2.0 - 1.0)
        restored = frames.to_uint8((self.net(x) + 1.0) * 0.5).astype(np.float32)
        blended = restored * self.mask + resized.astype(np.float32) * (1.0 - self.mask)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
