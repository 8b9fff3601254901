"""Filter pruning of a student's networks, and the checkpoints it writes.

The pruning itself is PaddleSlim's (:mod:`.paddleslim_pruner`): L1 norm (Li et
al. 2017) or FPGM (He et al. 2019) filter importance, applied to every group of
coupled channels it finds, with one filter ratio chosen so that the asked
fraction of the parameters goes. A pruned checkpoint keeps PaddleGAN's layout
plus a ``pruned`` entry, which is how loaders (:mod:`ppfom.weights`) know to
narrow the config's networks to it.
"""
from __future__ import annotations

import numpy as np
from paddle import nn

from ..checkpoint import save_checkpoint
from ..weights import PRUNED
from . import paddleslim_pruner

CRITERIA = ("l1_norm", "fpgm")


def prune(nets: nn.Layer | list[nn.Layer], ratio: float, criterion: str = "l1_norm") -> dict[str, tuple[int, int]]:
    """Remove about ``ratio`` of the parameters of ``nets`` (together); ``{conv: (filters before, after)}``."""
    return paddleslim_pruner.prune(nets, ratio, criterion)


def pruned_entry(ratio: float, criterion: str) -> dict:
    return {"by": "paddleslim", "criterion": criterion, "ratio": float(ratio)}


def save_pruned(kp_detector: nn.Layer, generator: nn.Layer, path: str, ratio: float, criterion: str) -> None:
    save_checkpoint({"kp_detector": kp_detector.state_dict(), "generator": generator.state_dict(),
                     PRUNED: pruned_entry(ratio, criterion)}, path)


def count_parameters(net: nn.Layer) -> int:
    """Learned parameters (BatchNorm running statistics excluded), as papers count them."""
    return int(sum(int(np.prod(p.shape)) for name, p in net.named_parameters()
                   if not name.endswith(("_mean", "_variance"))))
