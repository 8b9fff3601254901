"""Filter pruning of a student's convolutions (L1 norm or FPGM), and loading pruned checkpoints.

PaddleSlim 2.6 could not be used: under Paddle 3.3 its graph tracing fails on
every depthwise convolution ("CompatMetaTensor is not initialized ... operator
< depthwise_conv2d >"), and the mobile student is built from them. So the
channels that may be removed are found from the blocks' structure instead: a
*group* is a channel dimension that lives only inside one block, made by a
producer convolution's filters, carried through BatchNorms and depthwise
convolutions, and read by one consumer convolution. Removing a channel edits
all of them, so the network computes the same function minus that channel.

Groups (everything else couples to skips, residual sums or outputs and stays):
* the mobile residual block's expanded channels (``conv_pw`` -> ``norm_pw``,
  ``conv_dw``, ``norm_dw`` -> ``conv_pw_linear``);
* the full residual block's middle channels (``conv1`` -> ``norm2`` -> ``conv2``);
* between consecutive convolutions of a ``Sequential`` head (the mobile keypoint,
  jacobian, mask and occlusion heads and the generator's final layers).

ppfom builds networks from config widths; a pruned checkpoint is loaded by
building the network, shrinking each group to the checkpoint's width
(:func:`fit_pruned_layout`), then loading as usual.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import paddle
from paddle import nn

from ..checkpoint import load_state, read_checkpoint, shape_of
from ..config import build_generator, build_kp_detector
from ..errors import PpfomError
from ..modules.blocks import ResBlock2d

CRITERIA = ("l1_norm", "fpgm")


@dataclass
class Group:
    """One prunable channel dimension; ``name`` is the producer's structured name."""

    name: str
    producer: nn.Conv2D
    followers: list[nn.Layer]  # BatchNorms and depthwise convs on the same channels
    consumer: nn.Conv2D

    @property
    def width(self) -> int:
        return int(self.producer.weight.shape[0])


def find_groups(net: nn.Layer) -> list[Group]:
    """Every prunable channel dimension of ``net``, in sublayer order."""
    groups = []
    for name, layer in net.named_sublayers(include_self=True):
        prefix = f"{name}." if name else ""
        if isinstance(layer, ResBlock2d):
            if layer.mobile_net:
                groups.append(Group(prefix + "conv_pw", layer.conv_pw,
                                    [layer.norm_pw, layer.conv_dw, layer.norm_dw], layer.conv_pw_linear))
            else:
                groups.append(Group(prefix + "conv1", layer.conv1, [layer.norm2], layer.conv2))
        elif isinstance(layer, nn.Sequential):
            groups.extend(_sequential_groups(prefix, layer))
    return groups


def _sequential_groups(prefix: str, seq: nn.Sequential) -> list[Group]:
    """Pairs of full convolutions separated only by activations."""
    items = [layer for _, layer in seq.named_children()]
    names = [name for name, _ in seq.named_children()]
    groups = []
    for i, layer in enumerate(items):
        if not _full_conv(layer):
            continue
        rest = [other for other in items[i + 1:] if not isinstance(other, (nn.ReLU, nn.LeakyReLU))]
        if rest and _full_conv(rest[0]):
            groups.append(Group(prefix + names[i], layer, [], rest[0]))
    return groups


def _full_conv(layer: nn.Layer) -> bool:
    return isinstance(layer, nn.Conv2D) and layer._groups == 1


# ---------------------------------------------------------------- choosing channels


def channels_to_keep(weight: np.ndarray, ratio: float, criterion: str = "l1_norm") -> np.ndarray:
    """Sorted indices of the filters to keep after removing ``round(ratio * n)`` (at least one stays).

    ``l1_norm`` removes the filters of smallest absolute sum (Li et al. 2017);
    ``fpgm`` those nearest the filters' geometric median, i.e. the most
    replaceable by the others (He et al. 2019).
    """
    if criterion not in CRITERIA:
        raise PpfomError(f"pruning criterion '{criterion}' is not known: use one of {', '.join(CRITERIA)}")
    if not 0 <= ratio < 1:
        raise PpfomError(f"pruning ratio {ratio} is outside [0, 1): give the fraction of filters to remove")
    flat = weight.reshape(weight.shape[0], -1).astype(np.float64)
    n = flat.shape[0]
    remove = min(round(ratio * n), n - 1)
    if criterion == "l1_norm":
        score = np.abs(flat).sum(1)
    else:
        score = np.sqrt(((flat[:, None, :] - flat[None, :, :]) ** 2).sum(-1)).sum(1)
    return np.sort(np.argsort(score, kind="stable")[remove:])


# ---------------------------------------------------------------- editing layers


def _replace(layer: nn.Layer, attr: str, array: np.ndarray) -> None:
    """Swap a parameter for a smaller one with the same role (trainable or statistic)."""
    old = getattr(layer, attr)
    if old is None:
        return
    new = paddle.create_parameter(list(array.shape), str(old.dtype).replace("paddle.", ""),
                                  default_initializer=nn.initializer.Assign(array))
    new.stop_gradient = old.stop_gradient
    setattr(layer, attr, new)


def _take(layer: nn.Layer, attr: str, keep: np.ndarray, axis: int) -> None:
    tensor = getattr(layer, attr)
    if tensor is not None:
        _replace(layer, attr, np.take(tensor.numpy(), keep, axis=axis))


def keep_channels(group: Group, keep: np.ndarray) -> None:
    """Shrink the group to the channels ``keep``, in every layer that carries them."""
    _take(group.producer, "weight", keep, 0)
    _take(group.producer, "bias", keep, 0)
    group.producer._out_channels = len(keep)
    for layer in group.followers:
        if isinstance(layer, nn.Conv2D):  # depthwise: one filter per channel
            _take(layer, "weight", keep, 0)
            _take(layer, "bias", keep, 0)
            layer._in_channels = layer._out_channels = layer._groups = len(keep)
        else:
            for attr in ("weight", "bias", "_mean", "_variance"):
                _take(layer, attr, keep, 0)
            layer._num_features = len(keep)
    _take(group.consumer, "weight", keep, 1)
    group.consumer._in_channels = len(keep)


def prune(net: nn.Layer, ratio: float, criterion: str = "l1_norm") -> dict[str, tuple[int, int]]:
    """Remove ``ratio`` of the filters of every group of ``net``; returns ``{group: (before, after)}``."""
    report = {}
    for group in find_groups(net):
        before = group.width
        keep = channels_to_keep(group.producer.weight.numpy(), ratio, criterion)
        keep_channels(group, keep)
        report[group.name] = (before, len(keep))
    return report


def fit_pruned_layout(net: nn.Layer, state: Mapping[str, object]) -> int:
    """Shrink ``net``'s groups to the widths stored in ``state``; returns how many groups changed.

    Values are placeholders (the first channels): loading ``state`` afterwards
    fills them. Groups wider in ``state`` than in ``net`` are left for the
    loader to report as a misfit.
    """
    changed = 0
    for group in find_groups(net):
        stored = state.get(f"{group.name}.weight")
        if stored is None:
            continue
        width = shape_of(stored)[0]
        if width < group.width:
            keep_channels(group, np.arange(width))
            changed += 1
    return changed


def count_parameters(net: nn.Layer) -> int:
    """Learned parameters (BatchNorm running statistics excluded), as papers count them."""
    return int(sum(int(np.prod(p.shape)) for name, p in net.named_parameters()
                   if not name.endswith(("_mean", "_variance"))))


def load_networks(cfg: dict, weight_path: str, inference: bool = False,
                  generator_key: str = "generator") -> tuple[nn.Layer, nn.Layer]:
    """Keypoint detector and generator of ``weight_path``, pruned or not, in eval mode."""
    state = read_checkpoint(weight_path)
    nets = (build_kp_detector(cfg, generator_key=generator_key),
            build_generator(cfg, inference=inference, generator_key=generator_key))
    for net, name in zip(nets, ("kp_detector", "generator")):
        if name not in state:
            raise PpfomError(f"checkpoint '{weight_path}' has no {name}: give a training or exported checkpoint")
        fit_pruned_layout(net, state[name])
        load_state(net, state[name], name, source=weight_path)
        net.eval()
    return nets
