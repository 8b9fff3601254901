"""The networks a config describes, with a checkpoint's weights in them: full or pruned.

A pruned checkpoint (``tools/compress.py prune``) has narrower convolutions
than its config says, and says so under the ``pruned`` key. Its networks are
built from the config, every layer narrowed to the stored widths, then loaded
and checked as usual. Checkpoints without the key must fit the config exactly,
so a wrong ``--config`` is still an error rather than a silently narrowed model.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import paddle
from paddle import nn

from .checkpoint import load_state, read_checkpoint, shape_of
from .config import build_generator, build_kp_detector
from .errors import PpfomError

PRUNED = "pruned"  # checkpoint key: how the networks were pruned (criterion, ratio)
NETWORKS = ("kp_detector", "generator")


def is_pruned(checkpoint: Mapping[str, object]) -> bool:
    return bool(checkpoint.get(PRUNED))


def fit_pruned_layout(net: nn.Layer, state: Mapping[str, object]) -> int:
    """Narrow ``net``'s parameters to the shapes in ``state``; returns how many changed.

    Values are placeholders (zeros): loading ``state`` afterwards fills them.
    Only narrowing is done; anything else is left for the loader to report.
    """
    changed = 0
    for prefix, layer in net.named_sublayers(include_self=True):
        for attr, param in list(layer._parameters.items()):
            key = f"{prefix}.{attr}" if prefix else attr
            if param is None or key not in state:
                continue
            stored, own = list(shape_of(state[key])), list(param.shape)
            if stored == own or len(stored) != len(own) or any(s > o for s, o in zip(stored, own)):
                continue
            _narrow(layer, attr, param, stored)
            changed += 1
    return changed


def _narrow(layer: nn.Layer, attr: str, param: paddle.Tensor, shape: list[int]) -> None:
    new = paddle.create_parameter(shape, str(param.dtype).replace("paddle.", ""),
                                  default_initializer=nn.initializer.Constant(0.0))
    new.stop_gradient = param.stop_gradient
    setattr(layer, attr, new)
    if isinstance(layer, nn.Conv2D) and attr == "weight":
        if layer._groups > 1:  # depthwise: one filter per channel
            layer._groups = layer._in_channels = shape[0]
        else:
            layer._in_channels = shape[1]
        layer._out_channels = shape[0]
    elif isinstance(layer, nn.layer.norm._BatchNormBase):
        layer._num_features = shape[0]


def load_into(net: nn.Layer, checkpoint: Mapping[str, object], name: str, source: str | os.PathLike,
              hint: str = "check --config / --mobile_net / --image_size") -> None:
    """``checkpoint[name]`` into ``net`` (narrowed first if the checkpoint is pruned); one-line errors."""
    if name not in checkpoint:
        raise PpfomError(f"checkpoint '{os.fspath(source)}' has no {name}: give a training or exported checkpoint")
    if is_pruned(checkpoint):
        fit_pruned_layout(net, checkpoint[name])
    load_state(net, checkpoint[name], name, source=source, hint=hint)


def load_networks(cfg: dict, weight_path: str | os.PathLike, inference: bool = True,
                  generator_key: str = "generator") -> tuple[nn.Layer, nn.Layer]:
    """Keypoint detector and generator of ``weight_path``, pruned or not, in eval mode."""
    checkpoint = read_checkpoint(weight_path)
    nets = (build_kp_detector(cfg, generator_key=generator_key),
            build_generator(cfg, inference=inference, generator_key=generator_key))
    for net, name in zip(nets, NETWORKS):
        load_into(net, checkpoint, name, weight_path)
        net.eval()
    return nets
