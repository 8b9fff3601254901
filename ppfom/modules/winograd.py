"""Winograd F(4x4, 3x3): a 3x3 convolution with 36 products per 16 outputs instead of 144.

onnxruntime already runs the generator's bottleneck convolutions at this CPU's
float32 peak, so only fewer multiplications make them faster. Each 4x4 block
of outputs comes from a 6x6 input tile: a per-channel transform (a fixed
grouped convolution, stride 4), 36 matrix products over channels, and a fixed
output transform with depth-to-space. Rounding stays near float32's (about
1e-5 relative). The layer is built from trained ``Conv2D`` weights at export
time, for the ONNX graphs only (Paddle Inference's oneDNN passes mis-fuse its
reshapes in bfloat16, and it was slower there at batch 8); training and dygraph
inference keep the plain convolution. It pays only for wide layers: the
transforms move (C + K) x 36 values per tile while the products save about
100 x C x K multiplications.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

M = 4  # outputs per tile side
R = 3  # kernel size
A = M + R - 1  # input tile side
POINTS = (0.0, 1.0, -1.0, 2.0, -0.5)  # the sixth is infinity; -1/2 rounds a little better than -2


def transforms() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A^T, G, B^T) of F(4, 3) by Cook-Toom on ``POINTS``: y = A^T [(G g) * (B^T d)]."""
    p = np.array(POINTS)
    at, g, bt = np.zeros((M, A)), np.zeros((A, R)), np.zeros((A, A))
    for j, x in enumerate(p):
        others = np.delete(p, j)
        at[:, j] = x ** np.arange(M)
        g[j] = x ** np.arange(R) / np.prod(x - others)
        bt[j, :A - 1] = np.poly(others)[::-1]  # coefficients of prod(t - others), lowest first
    at[M - 1, A - 1] = g[A - 1, R - 1] = 1.0
    bt[A - 1] = np.poly(p)[::-1][:A]
    return at, g, bt


def _constant(layer: nn.Layer, value: np.ndarray) -> paddle.Tensor:
    param = layer.create_parameter(list(value.shape), dtype="float32",
                                   default_initializer=nn.initializer.Assign(value.astype(np.float32)))
    param.stop_gradient = True
    return param


class WinogradConv2D(nn.Layer):
    """A trained 3x3 ``Conv2D`` (stride 1, padding 1, no groups) for inputs whose sides are multiples of 4."""

    def __init__(self, conv: nn.Conv2D):
        super().__init__()
        if not eligible(conv):
            raise ValueError("Winograd F(4x4,3x3) needs a 3x3 convolution with stride 1, padding 1, no groups")
        at, g, bt = transforms()
        w = conv.weight.numpy().astype(np.float64)  # (K, C, 3, 3)
        self.out_channels, self.in_channels = w.shape[:2]
        # kernel[p, k, c] = (G w[k, c] G^T) at tile position p
        self.kernel = _constant(self, np.einsum("ui,kcij,vj->uvkc", g, w, g).reshape(A * A, *w.shape[:2]))
        tile = np.einsum("ui,vj->uvij", bt, bt).reshape(A * A, 1, A, A)  # B^T d B as 36 6x6 filters
        self.input_transform = _constant(self, np.tile(tile, (self.in_channels, 1, 1, 1)))
        self.output_transform = _constant(self, np.einsum("ru,sv->rsuv", at, at).reshape(M * M, A * A))
        bias = conv.bias.numpy() if conv.bias is not None else np.zeros(self.out_channels)
        self.bias = _constant(self, bias.reshape(1, -1, 1, 1))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        n, c, h, w = x.shape
        if h % M or w % M:
            raise ValueError(f"Winograd F(4x4,3x3) needs sides divisible by {M}, got {h}x{w}")
        th, tw = h // M, w // M
        v = F.conv2d(x, self.input_transform, stride=M, padding=1, groups=c)  # (N, C*36, th, tw)
        # The reshape after the transpose is a no-op that Paddle Inference needs: its matmul
        # misreads a transposed tensor fed to it directly (wrong values, no error).
        v = v.reshape([n, c, A * A, th * tw]).transpose([0, 2, 1, 3]).reshape([n, A * A, c, th * tw])
        products = paddle.matmul(self.kernel, v).reshape([n, A * A, -1])  # (N, 36, K * tiles)
        y = paddle.matmul(self.output_transform, products)  # (N, 16, K * tiles): (r, s, k, i, j)
        y = y.reshape([n, M, M, self.out_channels, th, tw]).transpose([0, 3, 4, 1, 5, 2])
        return y.reshape([n, self.out_channels, h, w]) + self.bias  # out[k, 4i + r, 4j + s]


def eligible(conv: nn.Layer) -> bool:
    return (isinstance(conv, nn.Conv2D) and tuple(conv._kernel_size) == (R, R) and conv._groups == 1
            and tuple(conv._stride) == (1, 1) and list(conv._updated_padding) == [1, 1]
            and tuple(conv._dilation) == (1, 1) and conv._padding_mode == "zeros")
