"""The one statement of the frame convention.

At the edges (files, the predictor's inputs and outputs, paste-back) a frame is
an HxWx3 ``uint8`` RGB array and a batch is (N, H, W, 3). The networks see NCHW
``float32`` in [0, 1]. Convert only with these functions.
"""
from __future__ import annotations

import cv2
import numpy as np
import paddle


def resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an HxWxC frame to (width, height); area filter when shrinking, as it aliases least."""
    w, h = int(size[0]), int(size[1])
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    shrinking = w < frame.shape[1] and h < frame.shape[0]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def to_nchw(frames: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) or (H, W, 3) -> float32 NCHW in [0, 1] (numpy, for any backend)."""
    if frames.ndim == 3:
        frames = frames[None]
    return np.ascontiguousarray(frames.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


def to_tensor(frames: np.ndarray) -> paddle.Tensor:
    """uint8 (N, H, W, 3) or (H, W, 3) -> float32 NCHW paddle tensor in [0, 1]."""
    return paddle.to_tensor(to_nchw(frames))


def to_uint8(images: paddle.Tensor | np.ndarray) -> np.ndarray:
    """float NCHW in [0, 1] -> uint8 (N, H, W, 3), rounded rather than truncated."""
    array = images.numpy() if isinstance(images, paddle.Tensor) else np.asarray(images)
    array = np.clip(array.transpose(0, 2, 3, 1) * 255.0 + 0.5, 0, 255)
    return array.astype(np.uint8)
