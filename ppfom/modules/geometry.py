"""Coordinate grids, Gaussian heatmaps and small tensor tricks shared by the networks.

Everything here is written so that exported graphs stay portable: no 5-D
reductions (Paddle Lite sums them wrongly), no ``x ** 2`` (Lite aborts on the
constant it creates), no ``paddle.inverse`` and no ``interpolate(scale_factor=)``
(paddle2onnx rejects both). See ``../shared/RUNTIME-NOTES.md`` in the team notes.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import paddle


def make_coordinate_grid(spatial_size: tuple[int, int], dtype: str = "float32") -> paddle.Tensor:
    """An (H, W, 2) grid of (x, y) in [-1, 1]: the frame keypoints live in."""
    h, w = int(spatial_size[0]), int(spatial_size[1])
    x = 2.0 * (paddle.arange(w, dtype=dtype) / (w - 1)) - 1.0
    y = 2.0 * (paddle.arange(h, dtype=dtype) / (h - 1)) - 1.0
    xx = x.reshape([1, w]).expand([h, w])
    yy = y.reshape([h, 1]).expand([h, w])
    return paddle.stack([xx, yy], axis=2)


def kp2gaussian(value: paddle.Tensor, spatial_size: tuple[int, int], kp_variance: float) -> paddle.Tensor:
    """Heatmaps (B, K, H, W) of isotropic Gaussians centred on keypoints (B, K, 2)."""
    h, w = int(spatial_size[0]), int(spatial_size[1])
    grid = make_coordinate_grid((h, w), value.dtype)
    bk = list(value.shape[:-1])
    dx = grid[:, :, 0].reshape([1, 1, h, w]) - value[..., 0].reshape(bk + [1, 1])
    dy = grid[:, :, 1].reshape([1, 1, h, w]) - value[..., 1].reshape(bk + [1, 1])
    return paddle.exp(-0.5 * (dx * dx + dy * dy) / kp_variance)


def inverse_2x2(m: paddle.Tensor) -> paddle.Tensor:
    """Closed-form inverse of a batch of 2x2 matrices (..., 2, 2)."""
    a, b = m[..., 0, 0], m[..., 0, 1]
    c, d = m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    row0 = paddle.stack([d, -b], axis=-1)
    row1 = paddle.stack([-c, a], axis=-1)
    return paddle.stack([row0, row1], axis=-2) / det.unsqueeze(-1).unsqueeze(-1)


_RESIZE_OP = {"on": False}


@contextlib.contextmanager
def nearest_as_resize_op() -> Iterator[None]:
    """Within this block, graphs traced for ONNX upsample with one resize op.

    onnxruntime runs an ONNX ``Resize`` about ten times faster than the
    reshape/expand form, which oneDNN (Paddle Inference) needs instead.
    """
    _RESIZE_OP["on"] = True
    try:
        yield
    finally:
        _RESIZE_OP["on"] = False


def upsample_nearest_2x(x: paddle.Tensor) -> paddle.Tensor:
    """Nearest-neighbour x2 upsampling of NCHW by reshape/expand (oneDNN-safe, exact)."""
    n, c, h, w = x.shape
    if _RESIZE_OP["on"]:
        return paddle.nn.functional.interpolate(x, size=[h * 2, w * 2], mode="nearest")
    x = x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, 2, w, 2])
    return x.reshape([n, c, h * 2, w * 2])


def resize_bilinear(x: paddle.Tensor, size: tuple[int, int]) -> paddle.Tensor:
    """Bilinear NCHW resize with align_corners=False, as PaddleGAN resizes motion fields."""
    return paddle.nn.functional.interpolate(
        x, size=[int(size[0]), int(size[1])], mode="bilinear", align_corners=False
    )
