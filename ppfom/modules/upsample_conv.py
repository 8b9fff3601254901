"""Nearest x2 upsampling followed by a 3x3 convolution, as one transposed convolution.

Each output pixel of an up block sees only 2x2 distinct input pixels through
its 3x3 window (the upsampled image repeats every pixel twice), so the pair is
exactly a stride-2 transposed convolution with 4x4 taps on the small input:
16 products per input pixel instead of 36, and no upsampled copy in memory.
Built from trained weights at export time.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .winograd import eligible

# TAPS[t, i]: the 3x3 kernel rows i that land on transposed-convolution tap t
# (output row 2y + a reads upsampled rows 2y + a - 1 .. 2y + a + 1, i.e. input rows y + (a + i - 1) // 2).
TAPS = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=np.float64)


class UpsampleConv2D(nn.Layer):
    """``conv(upsample_nearest_2x(x))`` for a 3x3, stride-1, padding-1 ``conv``."""

    upsample = True  # UpBlock2d: this layer upsamples its input itself

    def __init__(self, conv: nn.Conv2D):
        super().__init__()
        if not eligible(conv):
            raise ValueError("an upsampling transposed convolution needs a 3x3 convolution "
                             "with stride 1, padding 1, no groups")
        w = conv.weight.numpy().astype(np.float64)  # (K, C, 3, 3)
        taps = np.einsum("ti,kcij,uj->cktu", TAPS, w, TAPS).astype(np.float32)  # (C, K, 4, 4)
        self.weight = self.create_parameter(list(taps.shape), default_initializer=nn.initializer.Assign(taps))
        bias = conv.bias.numpy() if conv.bias is not None else np.zeros(w.shape[0], np.float32)
        self.bias = self.create_parameter([w.shape[0]], default_initializer=nn.initializer.Assign(bias))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.conv2d_transpose(x, self.weight, self.bias, stride=2, padding=1)
